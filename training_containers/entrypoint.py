"""Image entrypoint: SageMaker training starts the container with the argument `train`, hosting
with `serve` (the model server of `training_containers.serving`)."""

from __future__ import annotations

import sys

from training_containers import train
from training_containers.serving import server

COMMANDS = {"train": train.main, "serve": server.main}


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command not in COMMANDS:
        print(f"unknown command {command!r}; expected one of {sorted(COMMANDS)}", file=sys.stderr)
        return 2
    return COMMANDS[command]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
