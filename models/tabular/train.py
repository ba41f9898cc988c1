"""An example of a team's own training script, run by SageMaker's script mode (and by the local
runtime the same way): it reads the train and validation channels, engineers its own features,
fits a model and writes it to SM_MODEL_DIR. Nothing in it knows about this project.

    python train.py --task regression --label target --max_iter 200
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import joblib
import pandas as pd
from features import engineer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor


def read(channel: str) -> pd.DataFrame:
    folder = Path(os.environ[f"SM_CHANNEL_{channel.upper()}"])
    return pd.concat(pd.read_parquet(path) for path in sorted(folder.glob("*.parquet")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", choices=["regression", "classification"], required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--max_iter", type=int, default=200)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    args = parser.parse_args()

    train = read("train")
    model_type = HistGradientBoostingRegressor if args.task == "regression" else HistGradientBoostingClassifier
    model = model_type(max_iter=args.max_iter, learning_rate=args.learning_rate, random_state=0)
    target = train[args.label] if args.task == "regression" else train[args.label].astype(str)
    model.fit(engineer(train), target, sample_weight=train.get("sample_weight"))
    joblib.dump({"model": model, "task": args.task}, Path(os.environ["SM_MODEL_DIR"]) / "model.pkl")


if __name__ == "__main__":
    main()
