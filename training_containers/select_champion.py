"""SelectChampion processing job (image models only): which image and artifacts ScoreChampion
scores. The champion's when one serves (champion.json names it; its image is the one it was
registered with), else the candidate's: a transform needs a model, and a SageMaker pipeline
cannot rejoin after a condition, so the step always runs and Evaluate ignores the answers when
champion.json names no champion.

Inputs:  champion/ (the ChampionUri prefix: champion.json and the champion's model.tar.gz).
Outputs: selection/selection.json {"present", "image", "model_data"} (a property file).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines import naming
from training_containers import contract
from training_containers.files import read_json, write_json


def selection(
    pointer: dict[str, Any], champion_uri: str, candidate_image: str, candidate_model_data: str
) -> dict[str, Any]:
    """What ScoreChampion scores, from champion.json (an empty dict when there is none)."""
    if not pointer.get("model_package_arn"):
        return {"present": False, "image": candidate_image, "model_data": candidate_model_data}
    model_data = f"{champion_uri.rstrip('/')}/{pointer.get('model_data') or naming.CHAMPION_MODEL}"
    # A pointer written before images were recorded: the champion was this config's image.
    return {"present": True, "image": pointer.get("image") or candidate_image, "model_data": model_data}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="select_champion", description=__doc__)
    parser.add_argument("--champion-uri", required=True)
    parser.add_argument("--candidate-image", required=True)
    parser.add_argument("--candidate-model-data", required=True)
    args = parser.parse_args(argv)
    path = contract.processing_input("champion") / naming.CHAMPION_POINTER
    pointer = read_json(path) if path.is_file() else {}
    chosen = selection(pointer, args.champion_uri, args.candidate_image, args.candidate_model_data)
    write_json(contract.processing_output("selection") / naming.SELECTION_FILE, chosen)
    print(f"champion to score: {chosen}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
