"""`reconstruct` (a registered version's training data rebuilt and proven equal) and `reproduce`
(the version retrained from it and compared), from the local workspace or (`--aws`) the deployed
registry and the buckets' object versions."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.lineage.objects import LocalObjects, Objects, S3Objects
from pipelines.lineage.reconstruct import SPLITS, Reconstruction, reconstruct
from pipelines.promotion.versions import ModelVersion

if TYPE_CHECKING:
    from pipelines.lineage.reproduce import Reproduction


def _objects(args: argparse.Namespace, config: Any) -> Objects:
    if args.aws:
        import boto3

        from pipelines import clients

        return S3Objects(clients.client("s3", boto3.Session(region_name=config.pipeline.region)))
    from pipelines.local.workspace import Workspace

    return LocalObjects(Workspace(config, Path(args.workdir or f"out/local/{config.model.name}")).s3)


def _run(args: argparse.Namespace, act: Callable[..., Any], render: Callable[[Any], str]) -> int:
    """Find the version, act on it with the workspace's or S3's objects, print the report."""
    from pipelines.promotion.cli import controller

    promotion, _ = controller(args)
    done = act(promotion.find(args.version), _objects(args, promotion.config), Path(args.out), args.force)
    print(json.dumps(done.to_json(), indent=2) if args.json else render(done))
    return 0


def _reconstruct(args: argparse.Namespace) -> int:
    def act(version: ModelVersion, objects: Objects, out: Path, force: bool) -> Reconstruction:
        return reconstruct(version.label, version.metadata, objects, out, force)

    return _run(args, act, _reconstruction_text)


def _reproduce(args: argparse.Namespace) -> int:
    from pipelines.lineage.reproduce import reproduce

    def act(version: ModelVersion, objects: Objects, out: Path, force: bool) -> Reproduction:
        return reproduce(version, objects, out, force, args.tolerance)

    return _run(args, act, _reproduction_text)


def _reconstruction_text(done: Reconstruction) -> str:
    copies = f" ({len(done.from_snapshots)} from their lineage copy)" if done.from_snapshots else ""
    lines = [f"{done.version}: {done.objects} objects read and verified by size and sha256{copies}"]
    lines += [f"  {uri}: gone or changed at its source; read from its lineage copy" for uri in done.from_snapshots]
    for name in SPLITS:
        split = done.splits[name]
        lines.append(
            f"  {name:<10} {split['rows']:>8} rows  sha256 {split['sha256'][:16]}  = recorded at training time"
        )
    return "\n".join(lines)


def _reproduction_text(done: Reproduction) -> str:
    lines = [f"{done.version}: data rebuilt ({done.data.objects} objects verified, splits equal to those trained on)"]
    lines += [f"  note: {note}" for note in done.notes]
    lines.append(f"  {'metric':<27} {'registered':<21} reproduced")
    lines += [f"  {name:<27} {pair['registered']!r:<21} {pair['reproduced']!r}" for name, pair in done.metrics.items()]
    lines += [f"  {name}: sha256 {'identical' if same else 'differs'}" for name, same in done.model_files.items()]
    lines.append("reproduced: every metric equal" + (f" within {done.tolerance:g}" if done.tolerance else ""))
    return "\n".join(lines)


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
        if name == "reproduce":
            parser.add_argument(
                "--tolerance",
                type=float,
                default=0.0,
                help="absolute difference allowed per metric (default 0: the same bits), for an undeterministic script",
            )
        parser.set_defaults(handler=handler)
