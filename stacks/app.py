"""Builds the CDK app from model configs: one `RetrainingStack` per config, cdk-nag on all."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk

from pipelines.config import ModelConfig, load_config
from stacks.accounts import stacks_for
from stacks.nag import check
from stacks.retraining_stack import RetrainingStack

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def config_paths(app: cdk.App) -> list[Path]:
    """From context `model_configs`: cdk.json, or `-c model_configs=a.yaml,b.yaml`."""
    value = app.node.try_get_context("model_configs") or []
    names = value.split(",") if isinstance(value, str) else list(value)
    if not names:
        raise SystemExit("no model config: set context model_configs (cdk.json) to a list of YAML files")
    return [PROJECT_ROOT / name.strip() for name in names]


def build_app(*, staging: Path, configs: Sequence[Path] | None = None, outdir: str | None = None) -> cdk.App:
    """`staging` holds the Lambda bundles and the job image context until synth copies them."""
    # cdk.json's context (feature flags, model_configs) applies to `python app.py` as to the CLI.
    context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context=context, outdir=outdir) if outdir else cdk.App(context=context)
    check(app)
    for path in configs if configs is not None else config_paths(app):
        model_stacks(app, load_config(path), staging)
    return app


def model_stacks(app: cdk.App, config: ModelConfig, staging: Path) -> list[cdk.Stack]:
    """The training account's `RetrainingStack` (everything, in one account), and the registry's and
    the serving account's stacks when the config gives them accounts of their own."""
    training = RetrainingStack(app, config=config, staging=staging)
    others = stacks_for(app, config, staging, deployed=training.loop.pipeline.deployed_config)
    return [training, *others]
