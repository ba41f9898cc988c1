"""An endpoint on this machine: production and shadow models served in-process, with data
capture in SageMaker's format and per-variant latency and errors.

`apply` switches variants at once (there is no fleet to shift traffic between); `invoke` scores
a batch with production (the answer) and with the shadow on a sample of it (never returned),
and writes capture lines under `<capture prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/` in the
local S3, as SageMaker does for each variant.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import FeatureType, ModelConfig
from pipelines.local.files import atomic_write
from pipelines.local.storage import LocalS3
from pipelines.naming import PRODUCTION_VARIANT, SHADOW_VARIANT, capture_prefix
from pipelines.promotion.endpoint import Applied, EndpointState, Version


@dataclass(frozen=True)
class Telemetry:
    requests: int
    latency_p99_ms: float | None
    error_rate: float | None


class LocalEndpoint:
    def __init__(self, config: ModelConfig, root: Path, s3: LocalS3) -> None:
        self.config = config
        self.name = config.promotion.endpoint(config.model.name)
        self.folder = root / "endpoints" / self.name
        self.s3 = s3
        self._models: dict[str, Any] = {}

    @property
    def _state_file(self) -> Path:
        return self.folder / "endpoint.json"

    def _read(self) -> dict[str, Any]:
        return json.loads(self._state_file.read_text()) if self._state_file.exists() else {}

    def state(self) -> EndpointState:
        raw = self._read()
        if not raw:
            return EndpointState(self.name, exists=False)
        return EndpointState(
            self.name,
            exists=True,
            status="InService",
            config_name=raw["config_name"],
            production=raw[PRODUCTION_VARIANT]["package_arn"],
            shadow=(raw.get(SHADOW_VARIANT) or {}).get("package_arn"),
        )

    def apply(self, production: Version, shadow: Version | None, *, guarded: bool) -> Applied:
        config_name = f"{self.name}-p{production.number}-s{shadow.number if shadow else 0}"
        current = self._read()
        if current.get("config_name") == config_name:
            return "unchanged"
        document = {
            "config_name": config_name,
            PRODUCTION_VARIANT: asdict(production),
            SHADOW_VARIANT: asdict(shadow) if shadow else None,
            "guarded": guarded,
            "updated_at": datetime.now(UTC).isoformat(),
        }
        atomic_write(self._state_file, json.dumps(document, indent=2).encode())
        return "created" if not current else "updating"

    # ---- serving

    def _model(self, version: dict[str, Any]) -> Any:
        key = version["package_arn"]
        if key not in self._models:
            self._models[key] = self._load(version)
        return self._models[key]

    def _load(self, version: dict[str, Any]) -> Any:
        """An image version (training.image) is served by its image's stand-in, over HTTP; any
        other loads in process, as the job image's server loads it."""
        from pipelines.local.containers import ServedModel
        from pipelines.local.workspace import local_images
        from training_containers.evaluate import load_model
        from training_containers.models import ModelDirError

        archive, folder = self.s3.path(version["model_data"]), Path(tempfile.mkdtemp(prefix="endpoint-"))
        images, image = local_images(self.config), version.get("image", "")
        if images.stand_in(image) is not None:
            command, cwd = images.command(image, "serve")
            return ServedModel(command, cwd, archive, folder, self.config)
        try:
            return load_model(archive, folder)[0]
        except ModelDirError as error:
            raise ModelDirError(
                f"v{version.get('number')}: {error}; if image {image} is the team's own, "
                "give it a local command (training.image.local_command)"
            ) from error

    def invoke(self, requests: pd.DataFrame, now: datetime | None = None) -> np.ndarray:
        """Score `requests` (feature columns plus `inference_id`) with production; copy a sample
        to the shadow. Returns production's answers: positive-class scores, classes or values."""
        raw = self._read()
        if not raw:
            raise RuntimeError(f"endpoint {self.name} does not exist: deploy a version first")
        moment = now or datetime.now(UTC)
        scores = self._serve(PRODUCTION_VARIANT, raw[PRODUCTION_VARIANT], requests, moment)
        if raw.get(SHADOW_VARIANT):
            share = self.config.promotion.shadow.sampling_percent / 100
            sampled = requests.sample(frac=share, random_state=len(requests)) if share < 1 else requests
            self._serve(SHADOW_VARIANT, raw[SHADOW_VARIANT], sampled, moment)
        return scores

    def _serve(self, variant: str, version: dict[str, Any], requests: pd.DataFrame, moment: datetime) -> np.ndarray:
        from training_containers.estimators import features_frame, predictions

        started = time.perf_counter()
        rows = features_frame(requests, self.config)
        scores = predictions(self._model(version), rows, self.config.model.problem_type)
        per_request_ms = (time.perf_counter() - started) * 1000 / max(len(requests), 1)
        self._capture(variant, requests, scores, moment)
        self._record(variant, len(requests), per_request_ms, moment)
        return np.asarray(scores)

    def _capture(self, variant: str, requests: pd.DataFrame, scores: np.ndarray, moment: datetime) -> None:
        features = self.config.model.features
        columns = [
            requests[f.name].astype(str)
            if f.type is FeatureType.categorical
            else requests[f.name].map("{:.10g}".format)
            for f in features
        ]
        inputs = (
            pd.concat(columns, axis=1).fillna("").agg(",".join, axis=1) if len(requests) else pd.Series([], dtype=str)
        )
        lines = [
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "data": body,
                            "encoding": "CSV",
                        },
                        "endpointOutput": {
                            "observedContentType": "text/csv",
                            "mode": "OUTPUT",
                            "data": self._answer(score),
                            "encoding": "CSV",
                        },
                    },
                    "eventMetadata": {
                        "eventId": str(uuid.uuid4()),
                        "inferenceId": str(inference_id),
                        "inferenceTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    },
                    "eventVersion": "0",
                }
            )
            for body, score, inference_id in zip(inputs, scores, requests["inference_id"], strict=True)
        ]
        uri = f"{capture_prefix(self.config)}/{self.name}/{variant}/{moment:%Y/%m/%d/%H}/{uuid.uuid4().hex}.jsonl"
        self.s3.put_bytes(uri, ("\n".join(lines) + "\n").encode())

    def _answer(self, prediction: Any) -> str:
        """One answer as the server writes it in CSV: a score, a class or a value."""
        if self.config.model.problem_type == "multiclass_classification":
            return str(prediction)
        if self.config.model.problem_type == "regression":
            return f"{float(prediction):.10g}"
        return f"{prediction:.6f}"

    def _record(self, variant: str, requests: int, latency_ms: float, moment: datetime) -> None:
        log = self.folder / f"{variant}-telemetry.jsonl"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as out:
            out.write(
                json.dumps({"at": moment.isoformat(), "requests": requests, "latency_ms": latency_ms, "errors": 0})
                + "\n"
            )

    def telemetry(self, variant: str, since: datetime | None = None) -> Telemetry:
        log = self.folder / f"{variant}-telemetry.jsonl"
        if not log.exists():
            return Telemetry(0, None, None)
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if since is None or datetime.fromisoformat(r["at"]) >= since]
        requests = sum(r["requests"] for r in rows)
        if not requests:
            return Telemetry(0, None, None)
        latencies = np.repeat([r["latency_ms"] for r in rows], [r["requests"] for r in rows])
        return Telemetry(requests, float(np.quantile(latencies, 0.99)), sum(r["errors"] for r in rows) / requests)

    def captured(self, variant: str) -> Path:
        """The local folder holding this variant's capture files."""
        return self.s3.path(f"{capture_prefix(self.config)}/{self.name}/{variant}/")
