"""The step graph of a definition: every step (branch steps included) with its dependencies and
the condition branch it sits in, checked for support before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.errors import PipelinesError
from pipelines.local.conditions import CONDITION_TYPES, condition_types
from pipelines.local.expressions import EXECUTION_VARIABLES, FUNCTIONS, references, step_dependencies

JOB_TYPES = ("Processing", "Training", "Transform")
STEP_TYPES = (*JOB_TYPES, "Condition", "Fail", "Model", "RegisterModel")
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")


class UnsupportedDefinition(PipelinesError):
    """The definition uses something the local runtime cannot execute; nothing has run."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"the local runtime cannot execute this definition:\n{lines}")


@dataclass(frozen=True)
class Step:
    name: str
    type: str
    body: dict[str, Any]
    branch: tuple[str, bool] | None  # (condition step, outcome that runs this step)
    depends_on: frozenset[str]

    @property
    def arguments(self) -> dict[str, Any]:
        return dict(self.body.get("Arguments", {}))

    @property
    def display_name(self) -> str:
        return str(self.body.get("DisplayName", self.name))


def _own_expressions(body: dict[str, Any]) -> Any:
    """The parts of a step whose references make it wait: a condition waits for what its
    conditions read, not for the steps in its branches."""
    if body.get("Type") == "Condition":
        return body.get("Arguments", {}).get("Conditions", [])
    return body.get("Arguments", {})


def flatten(steps: list[dict[str, Any]], branch: tuple[str, bool] | None = None) -> list[Step]:
    found: list[Step] = []
    for body in steps:
        depends = step_dependencies(_own_expressions(body)) | set(body.get("DependsOn", []))
        found.append(Step(str(body.get("Name")), str(body.get("Type")), body, branch, frozenset(depends)))
        if body.get("Type") == "Condition":
            arguments = body.get("Arguments", {})
            found += flatten(arguments.get("IfSteps", []), (str(body["Name"]), True))
            found += flatten(arguments.get("ElseSteps", []), (str(body["Name"]), False))
    return found


def check(definition: dict[str, Any], steps: list[Step]) -> None:
    """Refuse, up front and all at once, whatever the runtime would otherwise meet mid-run."""
    problems: list[str] = []
    names = [step.name for step in steps]
    problems += [f"step name {n!r} is used more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    declared = {p.get("Name") for p in definition.get("Parameters", [])}
    for parameter in definition.get("Parameters", []):
        if parameter.get("Type") not in PARAMETER_TYPES:
            problems.append(
                f"parameter {parameter.get('Name')}: type {parameter.get('Type')!r} not in {PARAMETER_TYPES}"
            )
    for step in steps:
        if step.type not in STEP_TYPES:
            problems.append(
                f"step {step.name}: type {step.type!r} is not supported (supported: {', '.join(STEP_TYPES)})"
            )
        for missing in sorted(step.depends_on - set(names)):
            problems.append(f"step {step.name}: depends on unknown step {missing!r}")
        for ref in sorted(set(references(step.body))):
            problems += _reference_problems(step.name, ref, declared)
        if step.type == "Condition":
            kinds = [t for c in step.arguments.get("Conditions", []) for t in condition_types(c)]
            problems += [
                f"step {step.name}: condition type {k!r} is not supported" for k in kinds if k not in CONDITION_TYPES
            ]
    problems += _cycles(steps)
    if problems:
        raise UnsupportedDefinition(problems)


def _reference_problems(step: str, ref: str, declared: set[Any]) -> list[str]:
    kind, _, value = ref.partition(":")
    if kind == "Function":
        return [] if value in FUNCTIONS else [f"step {step}: function {value!r} is not supported (known: {FUNCTIONS})"]
    root, _, rest = value.partition(".")
    if root == "Parameters" and rest not in declared:
        return [f"step {step}: Get {value} names an undeclared parameter"]
    if root == "Execution" and rest not in EXECUTION_VARIABLES:
        return [f"step {step}: Get {value} is not a known execution variable"]
    if root not in ("Parameters", "Execution", "Steps"):
        return [f"step {step}: Get {value} has an unknown root {root!r}"]
    return []


def _cycles(steps: list[Step]) -> list[str]:
    parents = {s.name: set(s.depends_on) | ({s.branch[0]} if s.branch else set()) for s in steps}
    done: set[str] = set()
    for _ in steps:
        ready = {name for name, needs in parents.items() if name not in done and needs <= done | (needs - set(parents))}
        if not ready:
            break
        done |= ready
    stuck = sorted(set(parents) - done)
    return [f"steps {', '.join(stuck)} depend on each other in a cycle"] if stuck else []
