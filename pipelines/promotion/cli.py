"""`status`, `approve`, `reject`, `promote`, `rollback`, `reconcile`, `history`, `shadow-evaluate`:
the same controller the Lambda functions run, against the local workspace or (`--aws`) the deployed
stack."""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import Any

from pipelines.promotion.controller import Promotion


def controller(args: argparse.Namespace) -> tuple[Promotion, Any]:
    from pipelines.config import load_config

    config = load_config(args.config)
    if args.aws:
        import boto3

        from pipelines import clients
        from pipelines.promotion.aws import on_aws, with_deployed_key

        session = boto3.Session(region_name=config.pipeline.region)

        def client(service: str) -> Any:
            return clients.client(service, session)

        return on_aws(with_deployed_key(config, client("kms")), client)
    from pipelines.local.workspace import Workspace
    from pipelines.promotion.local import local_evidence, local_promotion

    workspace = Workspace(config, Path(args.workdir or f"out/local/{config.model.name}"))
    workspace.require_existing()
    promotion, endpoint = local_promotion(workspace)
    return promotion, local_evidence(config, endpoint, workspace.s3)


def render_status(status: dict[str, Any]) -> str:
    def line(label: str, entry: dict[str, Any] | None) -> str:
        if entry is None:
            return f"  {label:<18} -"
        since = entry.get("StageChangedAt", "")
        return f"  {label:<18} {entry['version']:<5} {entry['stage']:<11} since {since}  {entry['arn']}" + (
            f"\n  {'':<18} {trained_by(entry.get('lineage', {}))}" if entry.get("lineage") else ""
        )

    endpoint = status["endpoint"]
    lines = [
        f"{status['model']}: endpoint {endpoint['name']} "
        + (f"{endpoint['status']} ({endpoint['config']})" if endpoint["exists"] else "not deployed"),
        line("production", status["production"]),
        line("shadow", status["shadow"]),
        line("previous champion", status["previous_champion"]),
        f"  {'pending approval':<18} {', '.join(status['pending_approval']) or '-'}",
        "  recent decisions:",
    ]
    lines += [f"    {_line(record)}" for record in status["recent_decisions"]]
    return "\n".join(lines)


def trained_by(lineage: dict[str, str]) -> str:
    """A version's lineage in one line: the execution, the data manifest, the code and environment."""
    execution = lineage.get("PipelineExecutionArn", "-").rsplit("/", 1)[-1]
    code, environment = lineage.get("CodeVersion", "-")[:12], lineage.get("EnvironmentHash", "-")[:12]
    source = f", source {lineage['SourceArchive']}" if "SourceArchive" in lineage else ""
    return (
        f"trained by execution {execution} on {lineage.get('DatasetManifest', '-')} "
        f"(job code {code}, environment {environment}{source})"
    )


def _line(record: dict[str, Any]) -> str:
    line = (
        f"{record['at']}  {record['action']:<15} {record['outcome']:<12} {record['version'] or '':<5} "
        f"{record['actor']}: {record['reason']}"
    )
    return line + (f"\n    {trained_by(record['lineage'])}" if record.get("lineage") else "")


def _status(args: argparse.Namespace) -> int:
    promotion, _ = controller(args)
    status = promotion.status()
    print(json.dumps(status, indent=2) if args.json else render_status(status))
    return 0


def _approve(args: argparse.Namespace) -> int:
    promotion, _ = controller(args)
    version = promotion.approve(args.version, actor=args.actor, reason=args.reason)
    print(f"{version.label} approved by {args.actor}: now {version.stage.value}")
    return 0


def _reject(args: argparse.Namespace) -> int:
    promotion, _ = controller(args)
    version = promotion.reject(args.version, actor=args.actor, reason=args.reason)
    print(f"{version.label} rejected by {args.actor}: {args.reason or 'no reason given'}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    promotion, evidence = controller(args)
    version = promotion.promote(args.version, force=args.force, evidence=evidence, actor=args.actor)
    print(f"{version.label} is now {version.stage.value}")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    promotion, _ = controller(args)
    before = promotion.production()
    restored = promotion.rollback(actor=args.actor, reason=args.reason)
    print(f"rolled back {before.label if before else '-'} -> {restored.label} (production)")
    return 0


def _history(args: argparse.Namespace) -> int:
    promotion, _ = controller(args)
    for record in promotion.history():
        print(json.dumps(record) if args.json else _line(record))
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    promotion, _ = controller(args)
    applied = promotion.reconcile(actor=args.actor)
    print(f"endpoint: {applied}")
    return 0


def _shadow_evaluate(args: argparse.Namespace) -> int:
    promotion, evidence = controller(args)
    decision = promotion.evaluate_shadow(evidence)
    print("no version in shadow" if decision is None else f"{decision.verdict}: {decision.reason}")
    return 0


def add_commands(commands: Any) -> None:
    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        parser.add_argument("config")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--workdir", help="local workspace (default out/local/MODEL)")
        where.add_argument("--aws", action="store_true", help="act on the deployed stack with your AWS credentials")
        parser.add_argument("--actor", default=getpass.getuser(), help="who is acting (recorded in the audit trail)")
        parser.set_defaults(handler=handler)
        return parser

    status = command("status", "champion, candidate, shadow and recent decisions", _status)
    status.add_argument("--json", action="store_true")
    for name, handler, text in (
        ("approve", _approve, "approve a version (what Studio does)"),
        ("reject", _reject, "reject a version"),
    ):
        parser = command(name, text, handler)
        parser.add_argument("version", help="version number (3 or v3) or model package ARN")
        parser.add_argument("--reason", default="")
    promote = command(
        "promote", "promote the shadow when its evidence says so, or any approved version with --force", _promote
    )
    promote.add_argument("version", nargs="?")
    promote.add_argument("--force", action="store_true", help="skip the shadow evidence (recorded as forced)")
    rollback = command("rollback", "restore the previous champion in one command", _rollback)
    rollback.add_argument("--reason", default="")
    history = command("history", "every promotion decision, oldest first", _history)
    history.add_argument("--json", action="store_true")
    command("shadow-evaluate", "decide the shadow now (on AWS it also runs on a schedule)", _shadow_evaluate)
    command("reconcile", "finish interrupted commands and bring the endpoint in line with the registry", _reconcile)
