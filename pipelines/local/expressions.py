"""Pipeline expressions as SageMaker resolves them: `Get` (parameters, execution variables,
step properties, property files), `Std:Join` and `Std:JsonGet`.

Resolution is pure: a `Scope` holds what is known so far (parameter values, execution
variables, the properties of finished steps, the documents of their property files), and
`resolve` replaces every expression in a JSON tree by its value. An expression the runtime does
not know raises `UnsupportedExpression`, never passes through unresolved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import PipelinesError

FUNCTIONS = ("Std:Join", "Std:JsonGet")
GET_ROOTS = ("Parameters", "Execution", "Steps")
EXECUTION_VARIABLES = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "StartDateTime",
    "CurrentDateTime",
)
_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class UnsupportedExpression(PipelinesError):
    """The definition uses a function or reference the local runtime does not implement."""


class UnresolvedReference(PipelinesError):
    """A reference names something that does not exist (yet): a step that has not run, a
    property the step does not have, a key missing from a property file."""


@dataclass
class Scope:
    parameters: dict[str, Any]
    execution: dict[str, Any]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    property_files: dict[tuple[str, str], Any] = field(default_factory=dict)
    read_json: Callable[[str], Any] | None = None  # Std:JsonGet on an S3Uri


def path_tokens(path: str) -> list[str | int]:
    """`Outputs['train'].S3Output.S3Uri` -> ['Outputs', 'train', 'S3Output', 'S3Uri'];
    `a[0].b` -> ['a', 0, 'b']."""
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None or match.end() == position:
            raise UnsupportedExpression(f"cannot parse property path {path!r} at character {position}")
        name, index, quoted, double = match.groups()
        tokens.append(int(index) if index is not None else next(t for t in (name, quoted, double) if t is not None))
        position = match.end()
    return tokens


def walk(document: Any, tokens: list[str | int], where: str) -> Any:
    """Follow `tokens` into a JSON document. A string key on a list picks the element whose
    `...Name` field equals it (SageMaker's `Outputs['train']`)."""
    node = document
    for token in tokens:
        if isinstance(token, int):
            if not isinstance(node, list) or token >= len(node):
                raise UnresolvedReference(f"{where}: no element [{token}]")
            node = node[token]
        elif isinstance(node, dict):
            if token not in node:
                raise UnresolvedReference(f"{where}: no key {token!r} (has {', '.join(sorted(node)) or 'nothing'})")
            node = node[token]
        elif isinstance(node, list):
            named = [item for item in node if isinstance(item, dict) and _name_of(item) == token]
            if not named:
                raise UnresolvedReference(f"{where}: no element named {token!r}")
            node = named[0]
        else:
            raise UnresolvedReference(f"{where}: cannot look up {token!r} in a {type(node).__name__}")
    return node


def _name_of(item: dict[str, Any]) -> Any:
    return next((value for key, value in item.items() if key.endswith("Name")), None)


def get(reference: str, scope: Scope) -> Any:
    root, _, rest = reference.partition(".")
    if root == "Parameters":
        if rest not in scope.parameters:
            raise UnresolvedReference(f"Get {reference}: the definition declares no parameter {rest!r}")
        return scope.parameters[rest]
    if root == "Execution":
        if rest not in scope.execution:
            raise UnsupportedExpression(f"Get {reference}: unknown execution variable (known: {EXECUTION_VARIABLES})")
        return scope.execution[rest]
    if root == "Steps":
        step, _, path = rest.partition(".")
        if step not in scope.steps:
            raise UnresolvedReference(f"Get {reference}: step {step!r} has not run in this execution")
        if path.startswith("PropertyFiles."):
            name = path.removeprefix("PropertyFiles.")
            return PropertyFileRef(step, name)
        return walk(scope.steps[step], path_tokens(path), f"Get {reference}")
    raise UnsupportedExpression(f"Get {reference}: references must start with one of {GET_ROOTS}")


@dataclass(frozen=True)
class PropertyFileRef:
    step: str
    name: str


def json_get(arguments: dict[str, Any], scope: Scope) -> Any:
    path = arguments.get("Path")
    if not isinstance(path, str):
        raise UnsupportedExpression(f"Std:JsonGet needs a string Path, got {path!r}")
    if "PropertyFile" in arguments:
        ref = resolve(arguments["PropertyFile"], scope)
        if not isinstance(ref, PropertyFileRef):
            raise UnsupportedExpression("Std:JsonGet PropertyFile must be a Get of Steps.<step>.PropertyFiles.<name>")
        key = (ref.step, ref.name)
        if key not in scope.property_files:
            raise UnresolvedReference(f"Std:JsonGet: step {ref.step!r} declares no property file {ref.name!r}")
        document, where = scope.property_files[key], f"property file {ref.step}.{ref.name}"
    elif "S3Uri" in arguments:
        uri = resolve(arguments["S3Uri"], scope)
        if scope.read_json is None:
            raise UnsupportedExpression("Std:JsonGet with S3Uri needs an S3 reader")
        document, where = scope.read_json(str(uri)), str(uri)
    else:
        raise UnsupportedExpression(f"Std:JsonGet needs PropertyFile or S3Uri, got {sorted(arguments)}")
    return walk(document, path_tokens(path), f"Std:JsonGet {where} path {path!r}")


def join(arguments: dict[str, Any], scope: Scope) -> str:
    values = [resolve(v, scope) for v in arguments.get("Values", [])]
    return str(arguments.get("On", "")).join(_text(v) for v in values)


def _text(value: Any) -> str:
    # SageMaker renders non-string values as JSON scalars (true, 1.5) inside a Join.
    return value if isinstance(value, str) else json.dumps(value)


def is_expression(node: Any) -> bool:
    return (
        isinstance(node, dict) and len(node) == 1 and (next(iter(node)) == "Get" or next(iter(node)).startswith("Std:"))
    )


def resolve(node: Any, scope: Scope) -> Any:
    if isinstance(node, dict):
        if is_expression(node):
            ((name, arguments),) = node.items()
            if name == "Get":
                return get(str(arguments), scope)
            if name == "Std:Join":
                return join(arguments, scope)
            if name == "Std:JsonGet":
                return json_get(arguments, scope)
            raise UnsupportedExpression(f"function {name!r} is not supported by the local runtime (known: {FUNCTIONS})")
        return {key: resolve(value, scope) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, scope) for value in node]
    return node


def references(node: Any) -> Iterator[str]:
    """Every `Get` reference and function name in a JSON tree (for dependency and support checks)."""
    if isinstance(node, dict):
        if is_expression(node):
            ((name, arguments),) = node.items()
            if name == "Get":
                yield f"Get:{arguments}"
                return
            yield f"Function:{name}"
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def step_dependencies(node: Any) -> set[str]:
    return {ref.split(".")[1] for ref in references(node) if ref.startswith("Get:Steps.")}
