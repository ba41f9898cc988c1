"""Named errors carrying the facts a person needs to act on them."""

from __future__ import annotations


class PipelinesError(Exception):
    """Base of every error this project raises on purpose."""


class InputError(PipelinesError):
    """A command's input (a table, a flag, a file) cannot be used as given; the message says what to
    change. The command line exits 2 on it, as on an invalid config: the user's to fix, not a failure."""


class ConfigError(PipelinesError):
    """A model config is unreadable or invalid. `problems` holds one line per bad field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid model config {source}:\n{lines}")


class DefinitionError(PipelinesError):
    """The pipeline definition cannot be built from this config."""
