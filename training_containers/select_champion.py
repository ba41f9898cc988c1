"""SelectChampion processing job (models scored by transform): which image, artifacts and code
ScoreChampion scores. The champion's when one serves (champion.json names it, with the image and,
for a framework image, the code it was registered with), else the candidate's: a transform needs
a model, and a SageMaker pipeline cannot rejoin after a condition, so the step always runs and
Evaluate ignores the answers when champion.json names no champion.

Inputs:  champion/ (the ChampionUri prefix: champion.json and the champion's model.tar.gz).
Outputs: selection/selection.json {"present", "image", "model_data", "environment"} (a property file).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines import naming
from training_containers import contract
from training_containers.files import read_json, write_json


def selection(
    pointer: dict[str, Any],
    champion_uri: str,
    candidate_image: str,
    candidate_model_data: str,
    candidate_environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What ScoreChampion scores, from champion.json (an empty dict when there is none): the image,
    the artifacts and the serving variables that name its code (a framework image's)."""
    candidate_environment = candidate_environment or {}
    if not pointer.get("model_package_arn"):
        return {
            "present": False,
            "image": candidate_image,
            "model_data": candidate_model_data,
            "environment": candidate_environment,
        }
    model_data = f"{champion_uri.rstrip('/')}/{pointer.get('model_data') or naming.CHAMPION_MODEL}"
    # A pointer written before images and code were recorded: the champion was this config's.
    recorded = pointer.get("environment") or {}
    return {
        "present": True,
        "image": pointer.get("image") or candidate_image,
        "model_data": model_data,
        "environment": {name: recorded.get(name, value) for name, value in candidate_environment.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="select_champion", description=__doc__)
    parser.add_argument("--champion-uri", required=True)
    parser.add_argument("--candidate-image", required=True)
    parser.add_argument("--candidate-model-data", required=True)
    parser.add_argument("--candidate-environment", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    environment = dict(item.split("=", 1) for item in args.candidate_environment)
    path = contract.processing_input("champion") / naming.CHAMPION_POINTER
    pointer = read_json(path) if path.is_file() else {}
    chosen = selection(pointer, args.champion_uri, args.candidate_image, args.candidate_model_data, environment)
    write_json(contract.processing_output("selection") / naming.SELECTION_FILE, chosen)
    print(f"champion to score: {chosen}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
