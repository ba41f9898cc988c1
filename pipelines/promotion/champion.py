"""The champion prefix: `champion.json` (the pointer the Evaluate step reads), the champion's
`model.tar.gz` beside it, and its `baseline_profile.json` (what the drift monitor compares
production traffic with), rewritten whenever production changes."""

from __future__ import annotations

import json
from typing import Any

from pipelines.local.storage import LocalS3, split_uri
from pipelines.promotion.endpoint import Version

POINTER, MODEL, BASELINE = "champion.json", "model.tar.gz", "baseline_profile.json"


def pointer_document(version: Version | None) -> dict[str, Any]:
    if version is None:
        return {"model_package_arn": None, "model_data": MODEL}
    return {
        "model_package_arn": version.package_arn,
        "version": version.number,
        "model_data": MODEL,
        "source": version.model_data,
    }


class LocalChampion:
    def __init__(self, s3: LocalS3, prefix: str) -> None:
        self.s3, self.prefix = s3, prefix

    def publish(self, version: Version | None) -> None:
        if version is not None:
            self.s3.put_file(self.s3.path(version.model_data), self.prefix + MODEL)
            if version.baseline:
                self.s3.put_file(self.s3.path(version.baseline), self.prefix + BASELINE)
        self.s3.put_bytes(self.prefix + POINTER, json.dumps(pointer_document(version)).encode())


class S3Champion:
    def __init__(self, client: Any, prefix: str, kms_key_id: str | None = None) -> None:
        self.client, self.prefix, self.kms_key_id = client, prefix, kms_key_id

    def _encryption(self) -> dict[str, str]:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}

    def publish(self, version: Version | None) -> None:
        bucket, key = split_uri(self.prefix)
        if version is not None:
            for source, name in ((version.model_data, MODEL), (version.baseline, BASELINE)):
                if source:
                    source_bucket, source_key = split_uri(source)
                    self.client.copy_object(
                        Bucket=bucket,
                        Key=key + name,
                        CopySource={"Bucket": source_bucket, "Key": source_key},
                        **self._encryption(),
                    )
        self.client.put_object(
            Bucket=bucket, Key=key + POINTER, Body=json.dumps(pointer_document(version)).encode(), **self._encryption()
        )
