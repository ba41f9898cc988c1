"""The champion prefix: `champion.json` (the pointer the Evaluate step reads), the champion's
`model.tar.gz` beside it, and its `baseline_profile.json` (what the drift monitor compares
production traffic with), rewritten whenever production changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from pipelines.naming import BASELINE_PROFILE, CHAMPION_MODEL, CHAMPION_POINTER, split_uri
from pipelines.promotion.endpoint import Version


def pointer_document(version: Version | None) -> dict[str, Any]:
    if version is None:
        return {"model_package_arn": None, "model_data": CHAMPION_MODEL}
    return {
        "model_package_arn": version.package_arn,
        "version": version.number,
        "model_data": CHAMPION_MODEL,
        "source": version.model_data,
        "image": version.image,  # what scores the champion when it is an image model (SelectChampion)
        "environment": dict(version.program),  # and the code a framework image serves it with
    }


class ObjectStore(Protocol):
    """The local S3 stand-in's calls LocalChampion makes (pipelines.local.storage.LocalS3)."""

    def path(self, uri: str) -> Path: ...

    def put_file(self, source: Path, uri: str) -> None: ...

    def put_bytes(self, uri: str, content: bytes) -> None: ...


class LocalChampion:
    def __init__(self, s3: ObjectStore, prefix: str) -> None:
        self.s3, self.prefix = s3, prefix

    def publish(self, version: Version | None) -> None:
        if version is not None:
            self.s3.put_file(self.s3.path(version.model_data), self.prefix + CHAMPION_MODEL)
            if version.baseline:
                self.s3.put_file(self.s3.path(version.baseline), self.prefix + BASELINE_PROFILE)
        self.s3.put_bytes(self.prefix + CHAMPION_POINTER, json.dumps(pointer_document(version)).encode())


class S3Champion:
    def __init__(self, client: Any, prefix: str, kms_key_id: str | None = None) -> None:
        self.client, self.prefix, self.kms_key_id = client, prefix, kms_key_id

    def _encryption(self) -> dict[str, str]:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}

    def publish(self, version: Version | None) -> None:
        bucket, key = split_uri(self.prefix)
        if version is not None:
            for source, name in ((version.model_data, CHAMPION_MODEL), (version.baseline, BASELINE_PROFILE)):
                if source:
                    source_bucket, source_key = split_uri(source)
                    self.client.copy_object(
                        Bucket=bucket,
                        Key=key + name,
                        CopySource={"Bucket": source_bucket, "Key": source_key},
                        **self._encryption(),
                    )
        self.client.put_object(
            Bucket=bucket,
            Key=key + CHAMPION_POINTER,
            Body=json.dumps(pointer_document(version)).encode(),
            **self._encryption(),
        )
