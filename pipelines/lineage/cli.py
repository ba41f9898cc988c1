"""`reconstruct` (a registered version's training data rebuilt and proven equal) and `reproduce`
(the version retrained from it and compared), from the local workspace or (`--aws`) the deployed
registry and the buckets' object versions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipelines.lineage.objects import LocalObjects, Objects, S3Objects
from pipelines.lineage.reconstruct import SPLITS, reconstruct


def _objects(args: argparse.Namespace, config: Any) -> Objects:
    if args.aws:
        import boto3

        from pipelines import clients

        return S3Objects(clients.client("s3", boto3.Session(region_name=config.pipeline.region)))
    from pipelines.local.workspace import Workspace

    return LocalObjects(Workspace(config, Path(args.workdir or f"out/local/{config.model.name}")).s3)


def _reconstruct(args: argparse.Namespace) -> int:
    from pipelines.promotion.cli import controller

    promotion, _ = controller(args)
    version = promotion.find(args.version)
    done = reconstruct(version.label, version.metadata, _objects(args, promotion.config), Path(args.out), args.force)
    if args.json:
        print(json.dumps(done.to_json(), indent=2))
        return 0
    print(f"{done.version}: {done.objects} objects read by their recorded version, size and sha256 verified")
    for uri in done.from_snapshots:
        print(f"  {uri}: gone or changed at its source; read from its lineage snapshot")
    for name in SPLITS:
        split = done.splits[name]
        print(f"  {name:<10} {split['rows']:>8} rows  sha256 {split['sha256'][:16]}  = recorded at training time")
    print(f"written to {args.out}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from pipelines.lineage.reproduce import reproduce
    from pipelines.promotion.cli import controller

    promotion, _ = controller(args)
    done = reproduce(promotion.find(args.version), _objects(args, promotion.config), Path(args.out), args.force)
    if args.json:
        print(json.dumps(done.to_json(), indent=2))
        return 0
    print(f"{done.version}: data rebuilt ({done.data.objects} objects verified, splits equal to those trained on)")
    for note in done.notes:
        print(f"  note: {note}")
    print("  metric                      registered            reproduced")
    for name, pair in done.metrics.items():
        print(f"  {name:<27} {pair['registered']!r:<21} {pair['reproduced']!r}")
    for name, same in done.model_files.items():
        print(f"  {name}: sha256 {'identical' if same else 'differs'}")
    print(f"reproduced: every metric equal; written to {args.out}")
    return 0


def add_commands(commands: Any) -> None:
    for name, handler, text in (
        ("reconstruct", _reconstruct, "rebuild a version's train/validation/test splits and prove them equal"),
        ("reproduce", _reproduce, "reconstruct a version's data, retrain it here and compare metrics and model"),
    ):
        parser: argparse.ArgumentParser = commands.add_parser(name, help=text)
        parser.add_argument("config")
        parser.add_argument("version", help="version number (7 or v7) or model package ARN")
        parser.add_argument("--out", required=True, help="folder for what is rebuilt and its report")
        parser.add_argument("--force", action="store_true", help="write over a non-empty --out")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--workdir", help="local workspace (default out/local/MODEL)")
        where.add_argument("--aws", action="store_true", help="the deployed registry and S3, with your AWS credentials")
        parser.set_defaults(handler=handler)
