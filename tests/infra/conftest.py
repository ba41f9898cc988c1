"""One synthesis per test session: the app from cdk.json plus a variant config that turns on every
optional route (Slack, PagerDuty, VPC), so each construct's options are asserted too."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
VARIANT = "fraud-detector-full"
# Long enough that endpoint config names must be cut to fit SageMaker's 63 characters.
VARIANT_ENDPOINT = "fraud-detector-full-endpoint-serving-card-transactions-eu-west"


@dataclass
class Synth:
    outdir: Path
    stacks: dict[str, Any]  # stack name -> RetrainingStack
    seconds: float

    def template(self, stack: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.outdir / f"{stack}.template.json").read_text())
        return loaded


def variant_config(folder: Path) -> Path:
    raw = yaml.safe_load((ROOT / "configs" / "fraud-detector.yaml").read_text())
    raw["model"]["name"] = VARIANT
    raw["registry"]["model_package_group"] = VARIANT
    raw["alerts"] = {
        "email": ["ml-oncall@example.com"],
        "pagerduty": {"routing_key_secret": "retraining/pagerduty-routing-key"},
        "slack": {"workspace_id": "T0123ABCD", "channel_id": "C0456EFGH"},
    }
    raw["pipeline"]["vpc"] = {"subnet_ids": ["subnet-0abc"], "security_group_ids": ["sg-0abc"]}
    raw["pipeline"]["network_isolation"] = True
    raw["trigger"]["retry_failed_runs"] = False
    raw["promotion"]["endpoint_name"] = VARIANT_ENDPOINT
    raw["gates"]["edge_cases"]["uri"] = str(ROOT / "configs" / "fraud-detector.edge-cases.csv")
    path = folder / "fraud-detector-full.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="session")
def synth() -> Iterator[Synth]:
    import time

    from stacks.app import build_app, config_paths

    with tempfile.TemporaryDirectory(prefix="infra-tests-") as folder:
        base = Path(folder)
        started = time.perf_counter()
        app = build_app(staging=base / "staging", configs=[], outdir=str(base / "cdk.out"))
        from pipelines.config import load_config
        from stacks.retraining_stack import RetrainingStack

        stacks = {}
        for path in [*config_paths(app), variant_config(base)]:
            stack = RetrainingStack(app, config=load_config(path), staging=base / "staging")
            stacks[stack.stack_name] = stack
        app.synth()
        yield Synth(base / "cdk.out", stacks, time.perf_counter() - started)


@pytest.fixture(scope="session")
def template(synth: Synth) -> dict[str, Any]:
    return synth.template("fraud-detector-retraining")


@pytest.fixture(scope="session")
def full_template(synth: Synth) -> dict[str, Any]:
    return synth.template(f"{VARIANT}-retraining")


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}
