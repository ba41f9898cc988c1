"""The peer of `bench/serving.py`: the model server most teams write first, a Flask app under
gunicorn with a worker per core that reads the CSV body with pandas and calls the fitted
pipeline's `predict_proba`. Run by the benchmark as

    MODEL_DIR=... gunicorn -w 2 -k gthread --threads 4 -b 127.0.0.1:PORT bench.peer_server:app
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import joblib
import pandas as pd
from flask import Flask, Response, request

FOLDER = Path(os.environ["MODEL_DIR"])
MODEL = joblib.load(FOLDER / "model.joblib")
METADATA = json.loads((FOLDER / "model_metadata.json").read_text())
FEATURES = METADATA["features"]
CATEGORICAL = [name for name, kind in METADATA["feature_types"].items() if kind == "categorical"]

app = Flask(__name__)


@app.get("/ping")
def ping() -> Response:
    return Response(status=200)


@app.post("/invocations")
def invocations() -> Response:
    frame = pd.read_csv(
        io.BytesIO(request.get_data()), header=None, names=FEATURES, dtype={c: str for c in CATEGORICAL}
    )
    frame[CATEGORICAL] = frame[CATEGORICAL].astype(object)
    scores = MODEL.predict_proba(frame)[:, 1]
    return Response("\n".join(repr(float(s)) for s in scores) + "\n", mimetype="text/csv")
