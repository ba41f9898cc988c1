"""Executes a pipeline definition: the scheduler and the semantics of each step type.

Steps start as soon as what they reference has succeeded and, for a step inside a condition's
branch, once the condition chose that branch (steps of the other branch are not executed and
not listed, as in SageMaker). Independent steps run in parallel up to
`ParallelismConfiguration.MaxParallelExecutionSteps`. The first failed step, a FailStep
included, stops new steps from starting; the execution ends Failed with that step's reason.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.errors import PipelinesError
from pipelines.local import jobs
from pipelines.local.cache import StepCache, cache_key, expire_after
from pipelines.local.conditions import outcome
from pipelines.local.containers import Images
from pipelines.local.expressions import Scope, resolve
from pipelines.local.graph import Step, UnsupportedDefinition, check, flatten
from pipelines.local.parameters import resolve_parameters
from pipelines.local.requests import validate
from pipelines.local.retry import retry_delay
from pipelines.local.storage import LocalS3
from pipelines.registry.local import LocalRegistry

SUCCEEDED, FAILED, NOT_EXECUTED = "Succeeded", "Failed", "NotExecuted"
JOB_KIND = {"Processing": "ProcessingJob", "Training": "TrainingJob", "Transform": "TransformJob"}
REGISTRY_FILE = "registry.db"  # the local model registry, in the workspace root


@dataclass(frozen=True)
class RuntimeOptions:
    workdir: Path
    pipeline_name: str
    region: str = "us-east-1"
    account: str = "111122223333"
    tables: dict[str, str] = field(default_factory=dict)  # SQL table name -> S3 URI of its files
    max_parallel: int = 4
    retry_interval_scale: float = 1.0  # 0 in tests: retry at once
    job_timeout: float | None = None  # overrides StoppingCondition (tests)
    echo: Callable[[str], None] = print
    images: Images = field(default_factory=Images)  # what runs in each image's place


@dataclass
class StepRecord:
    name: str
    type: str
    display_name: str
    status: str = "Executing"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended: datetime | None = None
    attempts: int = 1
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    cache_source: str | None = None

    @property
    def seconds(self) -> float:
        return ((self.ended or datetime.now(UTC)) - self.started).total_seconds()


@dataclass
class StepResult:
    record: StepRecord
    properties: dict[str, Any] = field(default_factory=dict)
    property_files: dict[tuple[str, str], Any] = field(default_factory=dict)
    outcome: bool | None = None


@dataclass
class Execution:
    pipeline_name: str
    pipeline_arn: str
    execution_id: str
    arn: str
    parameters: dict[str, Any]
    started: datetime
    folder: Path
    status: str = "Executing"
    failure_reason: str | None = None
    ended: datetime | None = None
    steps: list[StepRecord] = field(default_factory=list)
    scope: Scope | None = None


def new_execution_id() -> str:
    """SageMaker's form: 12 lowercase letters and digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


class LocalRuntime:
    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.s3 = LocalS3(options.workdir / "s3")
        self.registry = LocalRegistry(options.workdir / REGISTRY_FILE, options.region, options.account)
        self.cache = StepCache(options.workdir / "state.db")
        self.models: dict[str, dict[str, Any]] = {}  # CreateModel requests, by model name
        self._lock = threading.Lock()

    @property
    def pipeline_arn(self) -> str:
        o = self.options
        return f"arn:aws:sagemaker:{o.region}:{o.account}:pipeline/{o.pipeline_name.lower()}"

    def execute(self, definition: dict[str, Any], overrides: dict[str, str] | None = None) -> Execution:
        steps = flatten(definition.get("Steps", []))
        check(definition, steps)
        unrunnable = [p for s in steps for p in self.options.images.problems(s.name, s.type, s.arguments)]
        if unrunnable:
            raise UnsupportedDefinition(unrunnable)
        parameters = resolve_parameters(definition.get("Parameters", []), overrides or {})
        execution_id = new_execution_id()
        started = datetime.now(UTC)
        execution = Execution(
            pipeline_name=self.options.pipeline_name,
            pipeline_arn=self.pipeline_arn,
            execution_id=execution_id,
            arn=f"{self.pipeline_arn}/execution/{execution_id}",
            parameters=parameters,
            started=started,
            folder=self.options.workdir / "executions" / execution_id,
        )
        execution.scope = Scope(
            parameters=parameters,
            execution={
                "PipelineExecutionId": execution_id,
                "PipelineExecutionArn": execution.arn,
                "PipelineName": self.options.pipeline_name,
                "PipelineArn": self.pipeline_arn,
                "StartDateTime": started.isoformat(),
                "CurrentDateTime": started.isoformat(),
            },
            read_json=self.s3.read_json,
        )
        limit = definition.get("ParallelismConfiguration", {}).get("MaxParallelExecutionSteps")
        self._schedule(steps, execution, min(int(limit or self.options.max_parallel), self.options.max_parallel))
        execution.ended = datetime.now(UTC)
        failed = [s for s in execution.steps if s.status == FAILED]
        execution.status = FAILED if failed else SUCCEEDED
        execution.failure_reason = failed[0].failure_reason if failed else None
        return execution

    # ---- scheduling

    def _schedule(self, steps: list[Step], execution: Execution, parallel: int) -> None:
        states: dict[str, str] = {}
        outcomes: dict[str, bool] = {}
        running: dict[Future[StepResult], Step] = {}
        stopping = False
        with ThreadPoolExecutor(max_workers=max(parallel, 1), thread_name_prefix="step") as pool:
            while True:
                if not stopping:
                    for step in _ready(steps, states, outcomes, {s.name for s in running.values()}):
                        self.options.echo(f"  > {step.name:<22} {step.type:<13} started")
                        running[pool.submit(self._run_step, step, execution)] = step
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    step = running.pop(future)
                    result = future.result()
                    with self._lock:
                        execution.steps.append(result.record)
                        assert execution.scope is not None
                        execution.scope.steps[step.name] = result.properties
                        execution.scope.property_files.update(result.property_files)
                    states[step.name] = result.record.status
                    if result.outcome is not None:
                        outcomes[step.name] = result.outcome
                    self._echo_end(result.record)
                    stopping = stopping or result.record.status == FAILED

    def _echo_end(self, record: StepRecord) -> None:
        mark = "ok" if record.status == SUCCEEDED else "FAILED"
        detail = ""
        if "Condition" in record.metadata:
            detail = f" -> {record.metadata['Condition']['Outcome']}"
        if record.cache_source:
            detail += " (cache hit)"
        if record.attempts > 1:
            detail += f" after {record.attempts} attempts"
        self.options.echo(f"  {mark:>2} {record.name:<22} {record.status:<13} {record.seconds:6.1f} s{detail}")
        if record.failure_reason:
            self.options.echo(f"       {record.failure_reason}")

    # ---- one step

    def _run_step(self, step: Step, execution: Execution) -> StepResult:
        record = StepRecord(step.name, step.type, step.display_name)
        try:
            result = self._dispatch(step, execution, record)
            record.status = SUCCEEDED if record.status == "Executing" else record.status
        except PipelinesError as exc:
            record.status, record.failure_reason = FAILED, str(exc)[: jobs.FAILURE_REASON_LIMIT]
            result = StepResult(record)
        except Exception as exc:  # a runtime bug must still end the step, with its cause
            record.status = FAILED
            record.failure_reason = f"InternalError: {type(exc).__name__}: {exc}"[: jobs.FAILURE_REASON_LIMIT]
            result = StepResult(record)
        record.ended = datetime.now(UTC)
        return result

    def _resolve(self, node: Any, execution: Execution) -> Any:
        assert execution.scope is not None
        with self._lock:
            return resolve(node, execution.scope)

    def _dispatch(self, step: Step, execution: Execution, record: StepRecord) -> StepResult:
        if step.type == "Condition":
            assert execution.scope is not None
            with self._lock:
                chosen = outcome(step.arguments.get("Conditions", []), execution.scope)
            record.metadata = {"Condition": {"Outcome": "True" if chosen else "False"}}
            return StepResult(record, outcome=chosen)
        if step.type == "Fail":
            message = self._resolve(step.arguments.get("ErrorMessage", ""), execution)
            record.status, record.failure_reason = FAILED, str(message)[: jobs.FAILURE_REASON_LIMIT]
            record.metadata = {"Fail": {"ErrorMessage": str(message)}}
            return StepResult(record)
        if step.type == "Model":
            name = _job_name(execution.execution_id, step.name)
            request = {"ModelName": name, **self._resolve(step.arguments, execution)}
            validate(step.type, request)
            arn = f"arn:aws:sagemaker:{self.options.region}:{self.options.account}:model/{name.lower()}"
            with self._lock:
                self.models[name] = request
            record.metadata = {"Model": {"Arn": arn}}
            return StepResult(record, properties={**request, "ModelArn": arn})
        if step.type == "RegisterModel":
            request = self._resolve(step.arguments, execution)
            validate(step.type, request)
            arn = self.registry.create_model_package(request)
            record.metadata = {"RegisterModel": {"Arn": arn}}
            return StepResult(record, properties={**request, "ModelPackageArn": arn})
        return self._run_job(step, execution, record)

    def _run_job(self, step: Step, execution: Execution, record: StepRecord) -> StepResult:
        kind = JOB_KIND[step.type]
        name = _job_name(execution.execution_id, step.name)
        resource = kind.lower().replace("job", "-job")
        arn = f"arn:aws:sagemaker:{self.options.region}:{self.options.account}:{resource}/{name}"
        request = {f"{kind}Name": name, **self._resolve(step.arguments, execution)}
        validate(step.type, request)
        record.metadata = {kind: {"Arn": arn}}
        cache = step.body.get("CacheConfig", {})
        key = cache_key(step.type, request) if cache.get("Enabled") else None
        if key is not None:
            hit = self.cache.find(
                self.options.pipeline_name, step.name, key, expire_after(cache.get("ExpireAfter", "P3650D"))
            )
            if hit is not None:
                record.cache_source, properties = hit
                record.metadata = {kind: {"Arn": properties.get(f"{kind}Arn", arn)}}
                return StepResult(record, properties, self._property_files(step, properties))
        properties = self._attempts(step, request, name, arn, execution, record)
        files = self._property_files(step, properties)
        if key is not None:
            self.cache.store(self.options.pipeline_name, step.name, key, execution.arn, properties)
        return StepResult(record, properties, files)

    def _attempts(
        self, step: Step, request: dict[str, Any], name: str, arn: str, execution: Execution, record: StepRecord
    ) -> dict[str, Any]:
        first = time.monotonic()
        while True:
            job = jobs.JobContext(
                name=name,
                arn=arn,
                folder=execution.folder / "jobs" / f"{step.name}-{record.attempts}",
                s3=self.s3,
                run_query=self._query_runner(),
                images=self.options.images,
            )
            try:
                try:
                    if step.type == "Transform":
                        model = self.models.get(request["ModelName"])
                        if model is None:
                            raise jobs.JobFailed(f'ClientError: Could not find model "{request["ModelName"]}".')
                        return jobs.run_transform(request, model, job, self.options.job_timeout)
                    runner = jobs.run_processing if step.type == "Processing" else jobs.run_training
                    return runner(request, job, self.options.job_timeout)
                except OSError as exc:  # the machine, not the job's code: what SageMaker retries
                    raise jobs.JobFailed(
                        f"InternalServerError: {type(exc).__name__}: {exc}", retryable_as="SageMaker.JOB_INTERNAL_ERROR"
                    ) from exc
            except jobs.JobFailed as failure:
                delay = retry_delay(
                    step.body.get("RetryPolicies", []), failure.retryable_as, record.attempts, time.monotonic() - first
                )
                if delay is None:
                    raise
                self.options.echo(f"     {step.name}: {failure.retryable_as}, retry {record.attempts} in {delay:.0f} s")
                time.sleep(delay * self.options.retry_interval_scale)
                record.attempts += 1

    def _query_runner(self) -> jobs.QueryRunner | None:
        if not self.options.tables:
            return None
        from training_containers.sources import run_sql_locally

        tables = {name: self.s3.path(uri) for name, uri in self.options.tables.items()}
        return lambda query: run_sql_locally(query, tables)

    def _property_files(self, step: Step, properties: dict[str, Any]) -> dict[tuple[str, str], Any]:
        outputs = {
            o["OutputName"]: o["S3Output"]["S3Uri"]
            for o in properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
            if "S3Output" in o
        }
        loaded = {}
        for spec in step.body.get("PropertyFiles", []):
            name, output = spec["PropertyFileName"], spec["OutputName"]
            if output not in outputs:
                raise PipelinesError(f"property file {name}: the step has no output named {output!r}")
            uri = f"{outputs[output].rstrip('/')}/{spec['FilePath']}"
            try:
                loaded[(step.name, name)] = self.s3.read_json(uri)
            except (PipelinesError, ValueError) as exc:
                raise PipelinesError(f"Failed to load property file {name} from {uri}: {exc}") from exc
        return loaded


def _ready(steps: list[Step], states: dict[str, str], outcomes: dict[str, bool], running: set[str]) -> list[Step]:
    """Steps that can start now; marks steps that never will as NotExecuted (to a fixpoint)."""
    changed = True
    while changed:
        changed = False
        for step in steps:
            if step.name in states or step.name in running:
                continue
            if _blocked_for_good(step, states, outcomes):
                states[step.name] = NOT_EXECUTED
                changed = True
    return [s for s in steps if s.name not in states and s.name not in running and _can_start(s, states, outcomes)]


def _blocked_for_good(step: Step, states: dict[str, str], outcomes: dict[str, bool]) -> bool:
    if step.branch is not None:
        condition, wanted = step.branch
        if condition in states and (states[condition] != SUCCEEDED or outcomes.get(condition) is not wanted):
            return True
    return any(dep in states and states[dep] != SUCCEEDED for dep in step.depends_on)


def _can_start(step: Step, states: dict[str, str], outcomes: dict[str, bool]) -> bool:
    if step.branch is not None and outcomes.get(step.branch[0]) is not step.branch[1]:
        return False
    return all(states.get(dep) == SUCCEEDED for dep in step.depends_on)


def _job_name(execution_id: str, step: str) -> str:
    """pipelines-<execution id>-<step>-<suffix>, within the 63-character job-name limit."""
    stem = "".join(c if c.isalnum() else "-" for c in step)[:30].strip("-") or "step"
    return f"pipelines-{execution_id}-{stem}-{secrets.token_hex(5)}"
