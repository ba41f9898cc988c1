"""Pipeline parameters: declared defaults, overridden by name as StartPipelineExecution does."""

from __future__ import annotations

from typing import Any

from pipelines.errors import InputError


class ParameterError(InputError):
    """An override names an undeclared parameter or has the wrong type."""


def _typed(name: str, kind: str, text: str) -> Any:
    try:
        if kind == "Integer":
            return int(text)
        if kind == "Float":
            return float(text)
        if kind == "Boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
    except ValueError as exc:
        raise ParameterError(f"parameter {name} is {kind}; {text!r} is not a valid {kind.lower()}") from exc
    return text


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` strings from the command line."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ParameterError(f"--param expects NAME=VALUE, got {pair!r}")
        overrides[name] = value
    return overrides


def resolve_parameters(declared: list[dict[str, Any]], overrides: dict[str, str]) -> dict[str, Any]:
    kinds = {p["Name"]: p.get("Type", "String") for p in declared}
    unknown = sorted(set(overrides) - set(kinds))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; the definition declares {', '.join(kinds)}")
    values: dict[str, Any] = {}
    for parameter in declared:
        name = parameter["Name"]
        if name in overrides:
            values[name] = _typed(name, kinds[name], overrides[name])
        elif "DefaultValue" in parameter:
            values[name] = parameter["DefaultValue"]
        else:
            raise ParameterError(f"parameter {name} has no default value and was not given")
        allowed = parameter.get("EnumValues")
        if allowed and values[name] not in allowed:
            raise ParameterError(f"parameter {name}: {values[name]!r} is not one of {allowed}")
    return values
