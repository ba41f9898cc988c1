"""S3 on disk: `s3://bucket/key` lives at `<root>/bucket/key`.

Semantics follow what SageMaker jobs see: an `S3Prefix` input copies every object whose key
starts with the prefix (an exact object key copies that one object under its base name); an
input that matches no object fails the job with SageMaker's message; outputs upload a local
folder under a prefix. Writes go through a temp file and a rename, so a reader never sees half
an object.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pipelines.errors import PipelinesError
from pipelines.local.files import atomic_write
from pipelines.naming import split_uri


class NoSuchObjects(PipelinesError):
    """An S3 input names a prefix with no object under it."""


class LocalS3:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, uri: str) -> Path:
        bucket, key = split_uri(uri)
        return self.root / bucket / key

    def keys(self, uri: str) -> list[tuple[str, Path]]:
        """(key relative to the prefix, file) for every object under `uri`, sorted by key."""
        bucket, prefix = split_uri(uri)
        base = self.root / bucket
        exact = base / prefix
        if prefix and exact.is_file():
            return [(exact.name, exact)]
        # The deepest folder that contains every key with this prefix.
        folder = base / prefix if prefix.endswith("/") or not prefix else (base / prefix).parent
        if not folder.is_dir():
            return []
        found = []
        for path in folder.rglob("*"):
            key = path.relative_to(base).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.startswith(".tmp-"):
                found.append((key[len(prefix) :].lstrip("/") or path.name, path))
        return sorted(found)

    def listing(self, uri: str) -> list[tuple[str, int]]:
        """(key relative to the prefix, size) of the objects under `uri`, sorted by key."""
        return [(key, path.stat().st_size) for key, path in self.keys(uri)]

    def read_bytes(self, uri: str) -> bytes | None:
        path = self.path(uri)
        return path.read_bytes() if path.is_file() else None

    def manifest_objects(self, uri: str) -> list[tuple[str, Path]]:
        """A ManifestFile input's objects: (suffix, file), the suffixes appended to the manifest's
        prefix ("S3DataSource", SageMaker API Reference). A listed object that does not exist fails
        as SageMaker fails an input without objects."""
        document = self.read_json(uri)
        if not (isinstance(document, list) and document and isinstance(document[0], dict) and "prefix" in document[0]):
            raise PipelinesError(f'ClientError: manifest "{uri}" is not a JSON array starting with {{"prefix": ...}}')
        prefix = str(document[0]["prefix"])
        found = []
        for suffix in document[1:]:
            path = self.path(prefix + str(suffix))
            if not path.is_file():
                raise NoSuchObjects(
                    f'ClientError: No S3 objects found under S3 URL "{prefix}{suffix}" (manifest {uri}).'
                )
            found.append((str(suffix), path))
        if not found:
            raise NoSuchObjects(f'ClientError: manifest "{uri}" lists no object.')
        return found

    def download(self, uri: str, destination: Path) -> int:
        objects = self.keys(uri)
        if not objects:
            raise NoSuchObjects(f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source.')
        for relative, source in objects:
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return len(objects)

    def upload(self, folder: Path, uri: str) -> int:
        count = 0
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.put_file(path, f"{uri.rstrip('/')}/{path.relative_to(folder).as_posix()}")
                count += 1
        return count

    def put_file(self, source: Path, uri: str) -> None:
        self.put_bytes(uri, source.read_bytes())

    def put_bytes(self, uri: str, content: bytes) -> None:
        atomic_write(self.path(uri), content)

    def read_json(self, uri: str) -> Any:
        path = self.path(uri)
        if not path.is_file():
            raise PipelinesError(f"NoSuchKey: {uri}")
        return json.loads(path.read_text(encoding="utf-8"))
