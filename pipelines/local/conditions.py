"""Condition step semantics: the `Conditions` list is a conjunction; Equals, GreaterThan(OrEqualTo),
LessThan(OrEqualTo), In, Not and Or as in the SageMaker definition schema.

Values are compared with their JSON types: `true` never equals `1`, and ordering a string
against a number is an error that names both values rather than a silent False.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.errors import PipelinesError
from pipelines.local.expressions import Scope, UnsupportedExpression, resolve

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": lambda a, b: bool(a > b),
    "GreaterThanOrEqualTo": lambda a, b: bool(a >= b),
    "LessThan": lambda a, b: bool(a < b),
    "LessThanOrEqualTo": lambda a, b: bool(a <= b),
}
CONDITION_TYPES = ("Equals", *COMPARISONS, "In", "Not", "Or")


class ConditionError(PipelinesError):
    """A condition cannot be evaluated with the values it was given."""


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    return bool(left == right)


def _ordered(kind: str, left: Any, right: Any) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    strings = all(isinstance(v, str) for v in (left, right))
    if not (numbers or strings):
        raise ConditionError(
            f"{kind}: cannot order {left!r} ({type(left).__name__}) and {right!r} ({type(right).__name__})"
        )
    return COMPARISONS[kind](left, right)


def holds(condition: dict[str, Any], scope: Scope) -> bool:
    kind = condition.get("Type")
    if kind == "Equals":
        return _same(resolve(condition["LeftValue"], scope), resolve(condition["RightValue"], scope))
    if kind in COMPARISONS:
        return _ordered(str(kind), resolve(condition["LeftValue"], scope), resolve(condition["RightValue"], scope))
    if kind == "In":
        query = resolve(condition["QueryValue"], scope)
        return any(_same(query, resolve(value, scope)) for value in condition["Values"])
    if kind == "Not":
        return not holds(condition["Condition"], scope)
    if kind == "Or":
        return any(holds(inner, scope) for inner in condition["Conditions"])
    raise UnsupportedExpression(f"condition type {kind!r} is not supported (known: {', '.join(CONDITION_TYPES)})")


def outcome(conditions: list[dict[str, Any]], scope: Scope) -> bool:
    """All conditions hold (evaluated in order, as SageMaker reports the first that fails)."""
    return all(holds(condition, scope) for condition in conditions)


def condition_types(condition: dict[str, Any]) -> list[str]:
    kind = str(condition.get("Type"))
    if kind == "Not":
        return [kind, *condition_types(condition["Condition"])]
    if kind == "Or":
        return [kind, *(t for inner in condition["Conditions"] for t in condition_types(inner))]
    return [kind]
