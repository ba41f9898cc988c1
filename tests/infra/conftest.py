"""One synthesis per test session (per worker under pytest-xdist): the app from cdk.json plus a
variant config that turns on every optional route (Slack, PagerDuty, VPC), so each construct's
options are asserted too."""

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
VARIANT_IMAGE = "444455556666.dkr.ecr.us-east-1.amazonaws.com/team/fraud-scorer:3"  # another account's
# Long enough that endpoint config names must be cut to fit SageMaker's 63 characters.
VARIANT_ENDPOINT = "fraud-detector-full-endpoint-serving-card-transactions-eu-west"


TEAM_STACK, TEAM_MODEL = "platform-team-ml", "fraud-team"
EXTERNAL_ALARM = "checkout-conversion-drop"  # a team's own alarm on a business metric
TEAM_FRAMEWORK_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


@dataclass
class Synth:
    outdir: Path
    stacks: dict[str, Any]  # stack name -> RetrainingStack
    seconds: float
    team: Any = None  # a platform team's own stack holding a RetrainingLoop beside its own function

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
    # The team's own image: trained and served by it, scored by batch transform.
    raw["training"] = {"image": {"uri": VARIANT_IMAGE}, "hyperparameters": {"max_iter": 200}}
    raw["trigger"]["retry_failed_runs"] = False
    # Every retrain signal, and a team's own alarm on a business metric.
    raw["trigger"]["retrain_on"] = [
        "drifted_features", "performance_slo", "estimated_performance", "label_drift", "ood_share"
    ]  # fmt: skip
    raw["trigger"]["external_alarms"] = [EXTERNAL_ALARM]
    raw["drift"]["estimated_slo"] = {"metric": "roc_auc", "min": 0.85}
    raw["drift"]["max_ood_share"] = 0.15
    raw["promotion"]["endpoint_name"] = VARIANT_ENDPOINT
    raw["gates"]["edge_cases"]["uri"] = str(ROOT / "configs" / "fraud-detector.edge-cases.csv")
    path = folder / "fraud-detector-full.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


# Two accounts (development: training and registry; production: serving), three (a shared
# registry account between them), and the two other ways of two: the registry with the endpoint,
# the registry alone.
TRAINING, REGISTRY, SERVING = "111122223333", "555566667777", "222233334444"
ACCOUNT_LAYOUTS = {
    "fraud-two": {"serving": SERVING},
    "fraud-three": {"registry": REGISTRY, "serving": SERVING},
    "fraud-rs": {"registry": SERVING, "serving": SERVING},
    "fraud-ro": {"registry": REGISTRY},
}


def account_configs(folder: Path) -> list[Path]:
    paths = []
    for model, accounts in ACCOUNT_LAYOUTS.items():
        raw = yaml.safe_load((ROOT / "configs" / "fraud-detector.yaml").read_text())
        raw["model"]["name"] = raw["registry"]["model_package_group"] = model
        raw["gates"]["edge_cases"]["uri"] = str(ROOT / "configs" / "fraud-detector.edge-cases.csv")
        raw["accounts"] = accounts
        path = folder / f"{model}.yaml"
        path.write_text(yaml.safe_dump(raw))
        paths.append(path)
    return paths


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

        stacks: dict[str, Any] = {}
        for path in [*config_paths(app), variant_config(base)]:
            stack = RetrainingStack(app, config=load_config(path), staging=base / "staging")
            stacks[stack.stack_name] = stack
        from stacks.app import model_stacks

        for path in account_configs(base):  # two and three accounts: every stack of each
            for made in model_stacks(app, load_config(path), base / "staging"):
                stacks[made.stack_name] = made
        team = team_stack(app, base)
        app.synth()
        yield Synth(base / "cdk.out", stacks, time.perf_counter() - started, team)


def team_stack(app: Any, folder: Path) -> Any:
    """What the docs show a platform team doing: the loop as one construct of its own stack, beside
    a function of its own (whose findings the loop must not acknowledge)."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from pipelines.config import load_config
    from stacks.nag import acknowledge
    from stacks.retraining_loop import RetrainingLoop

    raw = yaml.safe_load((ROOT / "configs" / "fraud-detector.yaml").read_text())
    raw["model"]["name"] = raw["registry"]["model_package_group"] = TEAM_MODEL
    raw["gates"]["edge_cases"]["uri"] = str(ROOT / "configs" / "fraud-detector.edge-cases.csv")
    # The team's own script, run in a SageMaker framework image.
    raw["training"] = {
        "script": {"source_dir": str(ROOT / "models" / "tabular"), "framework_image": TEAM_FRAMEWORK_IMAGE},
        "hyperparameters": {"task": "classification", "label": "is_fraud"},
    }
    path = folder / f"{TEAM_MODEL}.yaml"
    path.write_text(yaml.safe_dump(raw))
    stack = cdk.Stack(app, TEAM_STACK, env=cdk.Environment(account="111122223333", region="us-east-1"))
    own = lambda_.Function(
        stack,
        "TeamFunction",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
    )
    acknowledge(  # the team's own decision, about its own function: the loop acknowledges nothing of it
        own,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "The team's own function (a stand-in in this test) logs with the basic execution role.",
    )
    stack.loop = RetrainingLoop(stack, "Fraud", config=load_config(path), staging=folder / "team-staging")
    return stack


@pytest.fixture(scope="session")
def template(synth: Synth) -> dict[str, Any]:
    return synth.template("fraud-detector-retraining")


@pytest.fixture(scope="session")
def full_template(synth: Synth) -> dict[str, Any]:
    return synth.template(f"{VARIANT}-retraining")


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}
