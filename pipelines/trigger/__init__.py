"""The retrain trigger: alarm events in, at most one pipeline execution at a time out (dedupe,
cooldown, single flight, retries, max staleness, audit). Value types (`model`), pure decisions
(`policy`), the trigger that applies them through its ports (`service`), the events it reads
(`events`), and its store and ports on AWS (`aws`) and on this machine (`local`). Standard library
only: the trigger function's bundle carries this package."""

from __future__ import annotations

from pipelines.trigger.model import (
    MAX_DESCRIPTION_LENGTH as MAX_DESCRIPTION_LENGTH,
)
from pipelines.trigger.model import (
    MAX_PARAMETER_LENGTH as MAX_PARAMETER_LENGTH,
)
from pipelines.trigger.model import (
    NONE as NONE,
)
from pipelines.trigger.model import (
    DuplicateEvent as DuplicateEvent,
)
from pipelines.trigger.model import (
    Execution as Execution,
)
from pipelines.trigger.model import (
    ExecutionEnded as ExecutionEnded,
)
from pipelines.trigger.model import (
    MalformedEvent as MalformedEvent,
)
from pipelines.trigger.model import (
    Outcome as Outcome,
)
from pipelines.trigger.model import (
    Retry as Retry,
)
from pipelines.trigger.model import (
    StartRequest as StartRequest,
)
from pipelines.trigger.model import (
    StateConflict as StateConflict,
)
from pipelines.trigger.model import (
    Sweep as Sweep,
)
from pipelines.trigger.model import (
    Transition as Transition,
)
from pipelines.trigger.model import (
    Trigger as Trigger,
)
from pipelines.trigger.model import (
    TriggerDecision as TriggerDecision,
)
from pipelines.trigger.model import (
    TriggerError as TriggerError,
)
from pipelines.trigger.model import (
    TriggerEvent as TriggerEvent,
)
from pipelines.trigger.model import (
    TriggerKind as TriggerKind,
)
from pipelines.trigger.model import (
    TriggerPolicy as TriggerPolicy,
)
from pipelines.trigger.model import (
    TriggerState as TriggerState,
)
from pipelines.trigger.policy import (
    MAX_RETRY_DELAY as MAX_RETRY_DELAY,
)
from pipelines.trigger.policy import (
    MIN_RETRY_DELAY as MIN_RETRY_DELAY,
)
from pipelines.trigger.policy import (
    RETRIED_KINDS as RETRIED_KINDS,
)
from pipelines.trigger.policy import (
    UNCONFIRMED_START_RETRY as UNCONFIRMED_START_RETRY,
)
from pipelines.trigger.policy import (
    after_start as after_start,
)
from pipelines.trigger.policy import (
    after_start_failed as after_start_failed,
)
from pipelines.trigger.policy import (
    client_request_token as client_request_token,
)
from pipelines.trigger.policy import (
    iso as iso,
)
from pipelines.trigger.policy import (
    on_execution_ended as on_execution_ended,
)
from pipelines.trigger.policy import (
    on_sweep as on_sweep,
)
from pipelines.trigger.policy import (
    on_trigger as on_trigger,
)
from pipelines.trigger.policy import (
    parse_time as parse_time,
)
from pipelines.trigger.policy import (
    retry_delay as retry_delay,
)
from pipelines.trigger.policy import (
    start_request as start_request,
)
from pipelines.trigger.service import (
    AlarmStates as AlarmStates,
)
from pipelines.trigger.service import (
    PipelineRunner as PipelineRunner,
)
from pipelines.trigger.service import (
    RetrainTrigger as RetrainTrigger,
)
from pipelines.trigger.service import (
    TriggerStore as TriggerStore,
)
from pipelines.trigger.service import (
    decisions_json as decisions_json,
)
