"""The configuration reference (docs/configuration.md), generated from the schema in
pipelines.config: each section's docstring, and per field its type, default, bounds and the
docstring written under it. `python -m pipelines config-reference --out docs/configuration.md`
rewrites it; tests/unit/test_reference.py fails when the file and the schema disagree."""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

import annotated_types
from pydantic import AfterValidator, BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from pipelines.config import ModelConfig

INTRO = """\
# Configuration reference

One YAML file describes one model; `configs/fraud-detector.yaml` uses every section and
`configs/elec2.yaml` is a backtest config. `python -m pipelines validate-config CONFIG` prints
the parsed config, or every error with its field path (exit 2). Unknown keys are errors, numbers
are never infinite or NaN, and a YAML boolean (`yes`, `no`, `on`, `off`) is not taken for a number.

This file is generated from the schema (`pipelines/config.py`) by
`python -m pipelines config-reference --out docs/configuration.md`; edit the schema's docstrings,
not this file.
"""

_BOUNDS = (
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.Lt, "lt", "<"),
)


def _plain(text: str | None) -> str:
    """A docstring as one paragraph per blank-line-separated block."""
    if not text:
        return ""
    blocks = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in block.splitlines()) for block in blocks)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The config sections an annotation holds (through unions, lists, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{v}`" for v in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " \\| ".join(_type(a) for a in parts)
    if origin in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"map {_type(key)} → {_type(value)}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return {int: "integer", float: "number", str: "text", bool: "true \\| false"}.get(annotation, str(annotation))


def _bounds(field: FieldInfo) -> str:
    found: list[str] = []

    def visit(metadata: list[Any]) -> None:
        for item in metadata:
            for kind, attribute, sign in _BOUNDS:
                if isinstance(item, kind):
                    found.append(f"{sign} {getattr(item, attribute)}")
            if isinstance(item, annotated_types.MinLen) and item.min_length:
                found.append(f"at least {item.min_length} item(s)")
            if isinstance(item, AfterValidator) and item.func.__doc__:  # an instance type's
                found.append(item.func.__doc__)
            pattern = getattr(item, "pattern", None)
            if isinstance(pattern, str):
                found.append(f"matches `{pattern}`")

    visit(field.metadata)
    for arg in typing.get_args(field.annotation):  # bounds inside `Annotated[...] | None`
        if typing.get_origin(arg) is typing.Annotated:
            visit([m for meta in typing.get_args(arg)[1:] for m in getattr(meta, "metadata", [meta])])
    return ", ".join(found)


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "its defaults"
    if isinstance(value, enum.Enum):
        value = value.value
    return f"`{json.dumps(value, default=str)}`"


def _sections(root: type[BaseModel]) -> Iterator[tuple[str, type[BaseModel]]]:
    """(path, section) for `root` and every section below it, in declaration order, each once."""
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[str, type[BaseModel]]] = [("", root)]
    while queue:
        path, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        yield path, model
        for name, field in model.model_fields.items():
            queue += [(f"{path}.{name}".lstrip("."), m) for m in _models(field.annotation)]


def _section(path: str, model: type[BaseModel]) -> list[str]:
    title = f"`{path}`" if path else "top level"
    lines = [f"## {model.__name__}", "", f"At {title}.", ""]
    doc = _plain(model.__doc__)
    if doc and model.__doc__ != BaseModel.__doc__:
        lines += [doc, ""]
    lines += ["| field | type | default | bounds | meaning |", "|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        meaning = _plain(field.description).replace("\n\n", " ").replace("|", "\\|")
        lines.append(f"| `{name}` | {_type(field.annotation)} | {_default(field)} | {_bounds(field)} | {meaning} |")
    return [*lines, ""]


def reference() -> str:
    """docs/configuration.md."""
    lines = [INTRO]
    for path, model in _sections(ModelConfig):
        lines += _section(path, model)
    return "\n".join(lines).rstrip() + "\n"
