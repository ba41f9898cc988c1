"""Reading the objects a manifest names: from S3 by version id (`S3Objects`), or from the local
workspace's S3 (`LocalObjects`: unversioned, so an object changed since the run fails the
sha256 check that follows every read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from pipelines.errors import PipelinesError
from pipelines.local.storage import LocalS3
from pipelines.naming import split_uri


class MissingObject(PipelinesError):
    """An object (or the recorded version of it) cannot be read: gone, or not ours to read."""


class Objects(Protocol):
    def read(self, uri: str, version_id: str | None = None) -> bytes: ...


class LocalObjects:
    def __init__(self, s3: LocalS3) -> None:
        self.s3 = s3

    def read(self, uri: str, version_id: str | None = None) -> bytes:
        path = self.s3.path(uri) if uri.startswith("s3://") else Path(uri)
        if not path.is_file():
            raise MissingObject(f"{uri}: no such object (deleted since it was read?)")
        return path.read_bytes()


class S3Objects:
    """GetObject with the recorded VersionId: the bytes that were read, even after an overwrite."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def read(self, uri: str, version_id: str | None = None) -> bytes:
        bucket, key = split_uri(uri)
        try:
            answer = self.client.get_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
        except Exception as error:
            answer = getattr(error, "response", None)
            if not isinstance(answer, dict):
                raise
            # NoSuchKey/NoSuchVersion: deleted or expired; AccessDenied: also what S3 answers for a
            # missing key without s3:ListBucket (S3 API reference, GetObject); NoSuchBucket; a KMS denial
            code, message = answer.get("Error", {}).get("Code", "?"), answer.get("Error", {}).get("Message", "")
            which = f" version {version_id}" if version_id else ""
            raise MissingObject(f"{uri}{which}: {code}" + (f" ({message})" if message else "")) from None
        content: bytes = answer["Body"].read()
        return content
