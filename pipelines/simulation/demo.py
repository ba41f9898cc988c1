"""`python -m pipelines demo`: the whole loop on a laptop, in simulated time.

1. A month of transactions (April) trains the first model in the local runtime; it is approved (as a
   data scientist would in Studio) and, with no endpoint yet, deployed as production.
2. Production traffic is replayed day by day through the local endpoint (data capture on);
   labels arrive a day later. From day 3 fraudsters start card testing: bursts of tiny online
   charges, a pattern v1 never saw as fraud, so it misses them (drift that hurts).
3. The drift monitor runs daily against the champion's baseline; its metrics feed the alarms.
   Retraining follows performance, not inputs: the realized and the estimated performance SLO
   start a retrain, the drifted-features alarm only watches. The realized SLO alarm fires once
   enough late labels show the damage; the retrain trigger starts the pipeline with its context.
4. The pipeline passes its gates and registers a version pending approval.
5. It is approved (the `approve` command: what Studio does).
6. It runs in shadow on the replayed traffic; once it has enough labelled predictions the shadow
   verdict compares its live PR-AUC (the SLO's metric) with its offline one and with the
   champion's: promoted. It learned card testing; the first champion alone would not have.
7. A holiday season moves legitimate spending (nearer home, card present, everyday merchants):
   many features drift, the watching alarm fires, and nothing is retrained, because the model is
   no worse (drift that does not hurt).
8. Card testing and the season end; the fraudsters adapt further (most fraud now looks
   legitimate), spending moves (amounts, distances, merchant mix, device trust) and the issuer
   loosens its risk score (four times as many transactions are rated high risk). Performance falls, an SLO alarm
   fires, and the retrained model fails its gates, the high-risk recall assertion among them: the
   FailStep message and the alert text are shown, and the champion keeps serving.
9. `status`, `rollback`, `status`: the previous champion is back in one command.

The demo monitors daily (the example config monitors hourly: one simulated day is one
monitoring period here), judges performance over four days of labels and retrains on the two
performance signals. Everything else is the example config. `summary.json` holds every day's
metric as served and as the first champion alone would have scored it (the counterfactual), and a
report (HTML with PNG figures) is written at the end.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.bundles import PROJECT_ROOT
from pipelines.config import ModelConfig, PerformanceSlo, load_config
from pipelines.local import record
from pipelines.local.workspace import Workspace, local_uri
from pipelines.promotion.cli import render_status
from pipelines.simulation.datagen import Scenario, StreamSpec, generate
from pipelines.simulation.loop import LocalLoop, SimClock

EXAMPLE = PROJECT_ROOT / "configs" / "fraud-detector.yaml"
START = datetime(2026, 5, 1, tzinfo=UTC)  # first day of production traffic
HISTORY_START, HISTORY_DAYS = "2026-04-01", 30  # the first champion's data: April
LABEL_DELAY_DAYS = 1
METRIC = "pr_auc"  # the example's SLO metric: what the daily chart and the counterfactual show
CARD_TESTING: tuple[Scenario, ...] = ("card_testing", "label_shift")  # the bursts double the fraud rate
CARD_TESTING_SHARE = 0.85  # of fraud, from day 3 on
QUIET_DAYS = 6  # the benign drift's days: enough for the watching alarm to fire and nothing to follow


@dataclass(frozen=True)
class DemoSize:
    history_rows: int = 60_000
    daily_requests: int = 1_200
    max_days: int = 30


def demo_config(config: ModelConfig) -> ModelConfig:
    """The example config monitored daily, retraining on the realized and the estimated SLO only."""
    slo = config.drift.performance_slo
    assert slo is not None and slo.min is not None, "the example config sets a performance SLO floor"
    drift = config.drift.model_copy(
        update={
            "schedule": "rate(1 day)",
            "performance_window_hours": 96.0,
            "estimated_slo": PerformanceSlo(metric=slo.metric, min=slo.min),
        }
    )
    trigger = config.trigger.model_copy(update={"retrain_on": ("performance_slo", "estimated_performance")})
    # A week's fresh window, its newest 30 % the test split: a pattern a few days old reaches the
    # training rows. With the example's two weeks and half of them for the test split, a retrain
    # learns nothing newer than nine days.
    window = config.data.window.model_copy(update={"fresh_days": 7})
    split = config.data.split.model_copy(update={"test_fraction": 0.3})
    data = config.data.model_copy(update={"window": window, "split": split})
    return config.model_copy(update={"drift": drift, "trigger": trigger, "data": data})


def put_data(workspace: Workspace, fresh: pd.DataFrame, history: pd.DataFrame) -> None:
    """Replace what the config's sources hold in local S3 with these frames."""
    from pipelines.simulation.loop import write_folder

    config = workspace.config
    targets = [(fresh, config.data.fresh)]
    if config.data.historical is not None:
        targets.append((history, config.data.historical))
    for frame, source in targets:
        write_folder(workspace.s3.path(local_uri(source)), frame)


def split_window(config: ModelConfig, stream: pd.DataFrame, window_end: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fresh source holds the rows of the fresh window ending at `window_end`, history the rest."""
    cut = pd.Timestamp(window_end.replace(tzinfo=None)) - pd.Timedelta(days=config.data.window.fresh_days)
    newer = stream[config.model.time_column] > cut
    return stream[newer], stream[~newer]


class Narrative:
    def __init__(self, started: float) -> None:
        self.started = started
        self.timeline: list[dict[str, Any]] = []

    def say(self, text: str) -> None:
        print(text, flush=True)

    def stage(self, number: int, text: str) -> None:
        self.say(f"\n[{time.perf_counter() - self.started:5.1f}s] {number}. {text}")

    def event(self, at: datetime, kind: str, text: str) -> None:
        self.timeline.append({"at": at.isoformat(), "kind": kind, "text": text})


def traffic(
    size: DemoSize,
    start: datetime,
    seed: int,
    scenario: Scenario | tuple[Scenario, ...],
    share: float,
    drift_day: int = 0,
    high_risk_cut: float = 1.41,
) -> pd.DataFrame:
    days = size.max_days
    spec = StreamSpec(
        rows=size.daily_requests * days,
        start=start.strftime("%Y-%m-%d"),
        days=days,
        seed=seed,
        scenario=scenario,
        drift_start=(start + timedelta(days=drift_day)).strftime("%Y-%m-%d"),
        concept_share=share,
        high_risk_cut=high_risk_cut,
    )
    return generate(spec)


class Scorer:
    """Each registered version's model, loaded once from its model data in local S3, to score a
    day's traffic as that version would have: what was served, and what the first champion would
    have served had nothing been retrained (the counterfactual)."""

    def __init__(self, loop: LocalLoop, workdir: Path) -> None:
        self.loop, self.workdir = loop, workdir
        self.models: dict[str, Any] = {}

    def _model(self, version: str) -> Any:
        if version not in self.models:
            from training_containers.evaluate import load_model

            number = int(version.removeprefix("v"))
            (package,) = [p for p in self.loop.packages() if p["ModelPackageVersion"] == number]
            data = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
            self.models[version] = load_model(self.loop.workspace.s3.path(data), self.workdir / version)[0]
        return self.models[version]

    def metric(self, version: str, day: pd.DataFrame, metric: str) -> float | None:
        from pipelines.gates.metrics import binary
        from training_containers.estimators import features_frame, predictions, targets

        config = self.loop.config
        scores = predictions(self._model(version), features_frame(day, config), config.model.problem_type)
        return binary(targets(day, config), scores, config.gates.decision_threshold)[metric]


@dataclass
class DemoRecord:
    """What the demo saw, for the summary JSON and the report."""

    executions: dict[str, dict[str, Any]] = field(default_factory=dict)
    daily: list[dict[str, Any]] = field(default_factory=list)
    # the monitor's report when each retraining alarm fired, and when the drifted-features alarm first did
    alarm_reports: list[dict[str, Any]] = field(default_factory=list)
    drift_report: dict[str, Any] | None = None
    shadow: dict[str, Any] | None = None
    phase: int = 3  # the narrative's stage for the next pipeline start
    phases: list[dict[str, Any]] = field(default_factory=list)  # each drift: start, title, whether it hurts
    unlabelled: list[pd.DataFrame] = field(default_factory=list)  # served days whose labels are still due
    scorer: Scorer | None = None

    def drift(self, start: datetime, title: str, *, hurts: bool) -> None:
        """A drift the story begins at `start`, for the report's verdict."""
        self.phases.append({"start": start.isoformat(), "title": title, "hurts": hurts})

    def to_json(self) -> dict[str, Any]:
        return {
            "phases": self.phases,
            "executions": self.executions,
            "daily": self.daily,
            "alarm_reports": self.alarm_reports,
            "drift_report": self.drift_report,
            "shadow": self.shadow,
            "counterfactual": counterfactual(self.daily),
        }


def counterfactual(daily: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What retraining bought: from the first promotion on, the mean of each day's metric as served
    against as the first champion alone would have scored the same days."""
    after = [d for d in daily if d.get("promoted_before") and d.get("served") is not None]
    pairs = [(d["served"], d["champion_only"]) for d in after if d.get("champion_only") is not None]
    if not pairs:
        return None
    served = sum(p[0] for p in pairs) / len(pairs)
    alone = sum(p[1] for p in pairs) / len(pairs)
    return {
        "metric": METRIC,
        "days": len(pairs),
        "served_mean": served,
        "champion_only_mean": alone,
        "gain": served - alone,
    }


def main(out: Path = Path("out/demo"), size: DemoSize | None = None) -> int:
    size = size or DemoSize()
    started = time.perf_counter()
    story = Narrative(started)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = demo_config(load_config(EXAMPLE))
    workspace = Workspace(config, out / "local")
    clock = SimClock(START)
    seen = DemoRecord()
    loop = LocalLoop(workspace, clock, echo=story.say)
    loop.runner.echo = lambda _: None  # step progress is summarised in a table after each run
    loop.runner.announce = lambda request: story.stage(
        seen.phase, f"the retrain trigger starts the pipeline with the trigger's context: {request.parameters}"
    )

    story.stage(1, f"train and deploy the first champion ({size.history_rows:,} transactions, April)")
    history = generate(StreamSpec(rows=size.history_rows, start=HISTORY_START, days=HISTORY_DAYS, seed=7))
    put_data(workspace, *split_window(config, history, START))
    seen.phase = 1
    loop.sweep()  # no run on record: the gate's first sweep starts one (max staleness), as after `cdk deploy`
    if not loop.runner.executions:
        story.say("the retrain trigger started no first run: the demo needs trigger.max_staleness_days")
        return 1
    first = loop.runner.executions[0]
    seen.phase = 3
    story.say(record.render(record.summary(first)))
    seen.executions["initial training"] = record.summary(first)
    if first.status != "Succeeded":
        return 1
    loop.promotion.approve(1, actor="data-scientist", reason="first model")
    seen.scorer = Scorer(loop, out / "local" / "demo-models")
    story.event(clock.now, "deploy", "v1 approved and deployed as production (no endpoint before)")
    story.say(f"  v1 approved and deployed to {loop.endpoint.name}")

    story.stage(2, "production traffic, day by day; from day 3 fraudsters start card testing; labels a day late")
    title = f"card testing: {CARD_TESTING_SHARE:.0%} of fraud becomes bursts of tiny online charges"
    seen.drift(START + timedelta(days=2), title, hurts=True)
    card_testing = traffic(size, START, seed=21, scenario=CARD_TESTING, share=CARD_TESTING_SHARE, drift_day=2)
    outcome = replay(loop, story, card_testing, size, until="promoted", seen=seen)
    if outcome != "promoted":
        story.say(f"the first round ended without a promotion: {outcome}")
        return 1

    seen.phase = 7
    story.stage(7, f"a holiday season moves legitimate spending for {QUIET_DAYS} days: inputs drift, the model holds")
    seen.drift(
        clock.now, "a holiday season: legitimate spending nearer home, card present, everyday merchants", hurts=False
    )
    season = traffic(size, clock.now, seed=23, scenario=(*CARD_TESTING, "seasonal"), share=CARD_TESTING_SHARE)
    outcome = replay(loop, story, season, size, until="days", seen=seen, days=QUIET_DAYS)
    if outcome != "days":
        story.say(f"the benign drift ended in {outcome}: a retrain started on drift that does not hurt")
        return 1

    seen.phase = 8
    story.stage(8, "fraud adapts further and the issuer loosens its risk score: 'high' risk means less")
    seen.drift(
        clock.now, "fraud that looks legitimate, spending that moves, and a loosened issuer risk score", hurts=True
    )
    adapted = traffic(size, clock.now, seed=22, scenario="mixed", share=0.95, high_risk_cut=0.6)
    outcome = replay(loop, story, adapted, size, until="failed", seen=seen)
    if outcome != "failed":
        story.say(f"the second round ended without a failed retrain: {outcome}")
        return 1

    gain = counterfactual(seen.daily)
    if gain is not None:
        story.say(
            f"  since the promotion: served {gain['metric']} {gain['served_mean']:.3f} a day on average, the first "
            f"champion alone {gain['champion_only_mean']:.3f} on the same days ({gain['gain']:+.3f})"
        )
    story.stage(9, "rollback in one command, with `status` before and after")
    story.say(render_status(loop.promotion.status()))
    restored = loop.promotion.rollback(actor="oncall", reason="demo: restore the previous champion")
    story.event(clock.now, "rollback", f"{restored.label} restored as production")
    story.say(f"\n$ python -m pipelines rollback  ->  {restored.label} is production again\n")
    story.say(render_status(loop.promotion.status()))

    from pipelines.simulation.report import write_report

    summary = {
        "model": config.model.name,
        "setup": setup(config),
        **seen.to_json(),
        "timeline": story.timeline,
        "alerts": loop.alerts,
        "alarm_changes": [c.__dict__ | {"at": c.at.isoformat()} for c in loop.alarm_changes],
        "trigger_decisions": [d.to_json() for d in loop.decisions],
        "history": loop.promotion.history(),
        "status": loop.promotion.status(),
        "packages": [
            {
                "version": p["ModelPackageVersion"],
                "approval": p["ModelApprovalStatus"],
                "metadata": p["CustomerMetadataProperties"],
            }
            for p in loop.packages()
        ],
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    report = write_report(out, summary, loop.config.model.name)
    story.say(f"\nreport: {report}  ({time.perf_counter() - started:.0f} s in all)")
    return 0


def setup(config: ModelConfig) -> dict[str, Any]:
    """What the report needs to explain the alarm's lag and judge production."""
    slo = config.drift.performance_slo
    assert slo is not None
    trigger = config.trigger
    return {
        "slo": {"metric": slo.metric, "min": slo.min},
        "label_delay_days": LABEL_DELAY_DAYS,
        "performance_window_hours": config.drift.performance_window_hours,
        "alarm_rule": f"{trigger.datapoints_to_alarm} of {trigger.evaluation_periods} daily periods",
        "retrain_on": list(trigger.retrain_on),
    }


def replay(
    loop: LocalLoop,
    story: Narrative,
    stream: pd.DataFrame,
    size: DemoSize,
    *,
    until: str,
    seen: DemoRecord,
    days: int | None = None,
) -> str:
    """Serve the stream a day at a time; deliver labels; monitor, alarms, trigger, approval,
    shadow verdicts. Stops when `until` happens ("promoted" or "failed"), a retrain starts while
    `until` is "days", or after `days` days (returning "days") or the stream's end."""
    from pipelines.monitoring.alarms import alarm_specs
    from pipelines.promotion.local import local_evidence

    config, clock = loop.config, loop.clock
    model = config.model
    first_day = clock.now
    served: list[pd.DataFrame] = seen.unlabelled  # labels still due from the previous round come first
    carried = len(served)
    known_packages = {p["ModelPackageArn"] for p in loop.packages()}
    known_runs = len(loop.runner.executions)
    alerts_before = len(loop.alerts)
    specs = alarm_specs(config)
    (drift_alarm,) = (spec.name for spec in specs if spec.kind == "drifted_feature_count")
    times = stream[model.time_column].dt.tz_localize("UTC")
    for day in range(days or size.max_days):
        day_start = first_day + timedelta(days=day)
        day_end = day_start + timedelta(days=1)
        today = stream[(times >= day_start) & (times < day_end)]
        clock.now = day_start + timedelta(hours=12)
        loop.serve(today.rename(columns={model.id_column: "inference_id"}))
        served.append(today)
        seen.unlabelled = served[-LABEL_DELAY_DAYS:]
        if carried + day >= LABEL_DELAY_DAYS:
            loop.deliver_labels(served[carried + day - LABEL_DELAY_DAYS])
        clock.now = day_end
        report = loop.monitor(day_start, day_end)
        log_day(story, seen, loop, day_start, today, report)
        for change in loop.evaluate_alarms():
            if change.state == "ALARM" and change.triggers_retraining:
                seen.alarm_reports.append({"at": change.at.isoformat(), "alarm": change.alarm, "report": report})
            if change.state == "ALARM" and change.alarm == drift_alarm and seen.drift_report is None:
                seen.drift_report = report
            if change.signal:  # the per-feature alarms only feed the dashboard
                kind = "alarm" if change.triggers_retraining else "watch"
                story.event(change.at, kind, f"{change.alarm}: {change.previous} -> {change.state}")
        loop.sweep()  # hourly when deployed: a pending trigger whose cooldown ended, a due retry
        for execution in loop.runner.executions[known_runs:]:
            summary = record.summary(execution)
            seen.executions[f"retrain {len(seen.executions)} ({execution.parameters.get('TriggerAlarm')})"] = summary
            story.say(record.render(summary))
            story.event(clock.now, "retrain", f"execution {execution.execution_id}: {execution.status}")
        if until == "days" and len(loop.runner.executions) > known_runs:
            return "a retrain"
        known_runs = len(loop.runner.executions)
        if len(loop.alerts) > alerts_before:
            alert = loop.alerts[-1]
            story.say(
                f"\n  alert published (SNS):\n    {alert['subject']}\n    " + alert["text"].replace("\n", "\n    ")
            )
            story.say("\n  the champion keeps serving:\n" + render_status(loop.promotion.status()))
            story.event(clock.now, "alert", alert["subject"])
            return "failed"
        for package in loop.packages():
            if package["ModelPackageArn"] in known_packages:
                continue
            known_packages.add(package["ModelPackageArn"])
            version = f"v{package['ModelPackageVersion']}"
            story.stage(4, f"{version} registered, {package['ModelApprovalStatus']}")
            story.stage(5, f"approve {version} (the `approve` command does what Studio does): it goes to shadow")
            loop.promotion.approve(package["ModelPackageVersion"], actor="data-scientist", reason="gates passed")
            story.event(clock.now, "approval", f"{version} approved; shadow started")
            story.stage(6, f"{version} in shadow: it sees a copy of production traffic, its answers are not served")
        # The scheduled evaluation: the shadow's verdict, and the re-arm of the retraining alarms
        # once they evaluated the current champion alone.
        decision = loop.promotion.tick(local_evidence(config, loop.endpoint, loop.workspace.s3, now=clock))
        if decision is not None:
            story.say(f"  shadow verdict: {decision.verdict}: {decision.reason}")
            if decision.verdict != "wait":
                story.event(clock.now, "shadow", f"{decision.verdict}: {decision.reason}")
                seen.shadow = decision.to_json()
            if decision.verdict == "promote":
                production = loop.promotion.production()
                story.say(f"  promoted: {production.label if production else '?'} serves production")
                return "promoted"
    return "days" if until == "days" else "stream ended"


def log_day(
    story: Narrative, seen: DemoRecord, loop: LocalLoop, day: datetime, today: pd.DataFrame, report: dict[str, Any]
) -> None:
    requests = len(today)
    if "skipped" in report:
        story.say(f"  {day:%b %d}: {requests:,} requests; monitor skipped: {report['skipped']}")
        return
    drifted = report["summary"]["drifted_feature_count"]
    performance = (report.get("performance") or {}).get("metrics") or {}
    live = performance.get(METRIC)
    production, shadow = loop.promotion.production(), loop.promotion.shadow()
    serving = f"{production.label if production else '-'}" + (f" + shadow {shadow.label}" if shadow else "")
    shown = f", live {METRIC} {live:.3f}" if live is not None else ""
    story.say(f"  {day:%b %d}: {requests:,} requests to {serving}, {drifted} drifted features{shown}")
    from pipelines.drift.verdict import severity

    estimated = report.get("estimated_performance") or {}
    bounds = estimated["metrics"][METRIC] if estimated.get("status") == "ok" else {}
    severities = {name: severity(result, report["thresholds"]) for name, result in report["features"].items()}
    served_by = production.label if production else None
    scorer = seen.scorer
    seen.daily.append(
        {
            "day": day.isoformat(),
            "requests": requests,
            "drifted_features": drifted,
            METRIC: live,  # the monitor's, over its labelled lookback (labels a day late)
            "serving": serving,
            "served_by": served_by,
            # the day's own labels, known to the generator: the served model and the first champion alone
            "served": None if scorer is None or served_by is None else scorer.metric(served_by, today, METRIC),
            "champion_only": None if scorer is None else scorer.metric("v1", today, METRIC),
            "estimated": bounds.get("value"),  # from the scores alone, before labels
            "estimated_bounds": [bounds["lower"], bounds["upper"]] if bounds else None,
            # each feature's worst statistic over its threshold (1 = the threshold)
            "feature_drift": {name: None if found is None else found[0] for name, found in severities.items()},
            "promoted_before": any(h["action"] == "promote" for h in loop.promotion.history()),
        }
    )
