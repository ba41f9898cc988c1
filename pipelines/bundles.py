"""What a deployed unit carries: its entry modules and every project package they import.

A Lambda bundle, the promotion functions' image and the job image are each made of whole
packages, found by reading the entry modules' imports (at any depth, including imports inside
functions, which run too, but not those under `if TYPE_CHECKING:`) and following them through
the project's modules: no hand-written file list decides what ships, so a new import in a domain
module ships its package with every unit that reaches it. Reading is by `ast`, so nothing is imported and nothing runs.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("pipelines", "training_containers")


def _type_only(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`): imports for the type checker, never run."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node of `tree` except the bodies of type-only blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if _type_only(node):
            stack.extend(getattr(node, "orelse", []))
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_names(path: Path) -> set[str]:
    """Dotted names a module imports when it runs (`from a.b import c` gives a.b and a.b.c)."""
    found: set[str] = set()
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _imported(path: Path) -> set[str]:
    return {name for name in imported_names(path) if name.split(".")[0] in PROJECT_PACKAGES}


def third_party(files: Iterable[Path]) -> set[str]:
    """Top-level names of what `files` import from outside the standard library and the project."""
    tops = {name.split(".")[0] for path in files for name in imported_names(path)}
    return {n for n in tops if n not in sys.stdlib_module_names and n not in PROJECT_PACKAGES and n != "__future__"}


def _module_file(dotted: str, root: Path) -> Path | None:
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def reached_files(entries: Iterable[Path], root: Path = PROJECT_ROOT) -> list[Path]:
    """Every project file a unit whose entry modules are `entries` needs: the packages (whole, with
    their parents' `__init__.py`) and top-level modules their imports reach, transitively."""
    queue = [Path(e).resolve() for e in entries]
    walked: set[Path] = set()
    shipped: set[Path] = set()
    while queue:
        path = queue.pop()
        if path in walked:
            continue
        walked.add(path)
        for dotted in _imported(path):
            module = _module_file(dotted, root)
            if module is None:
                continue  # a name imported from a module, not a module
            queue.append(module)
            relative = module.relative_to(root)
            for depth in range(1, len(relative.parts)):
                init = root.joinpath(*relative.parts[:depth], "__init__.py")
                if init.is_file():
                    shipped.add(init)
            # a module inside a package ships its whole package (below the project package)
            if len(relative.parts) > 2:
                shipped.update(_package_files(root.joinpath(*relative.parts[:2])))
            else:
                shipped.add(module)
    return sorted(shipped)
