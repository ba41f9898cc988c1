"""DataPull+Validate job under the container contract: outputs on good data, and each bad-data
case failing validation with its check named and no split written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config import ModelConfig, config_to_json, parse_config
from tests.conftest import Container, split_fresh
from training_containers import data_pull
from training_containers.files import sha256_of


def stage(container: Container, config: ModelConfig, fresh: pd.DataFrame, history: pd.DataFrame | None) -> None:
    container.put_config(config)
    container.put_table("fresh", fresh)
    if history is not None:
        container.put_table("historical", history)


def read_report(container: Container) -> dict:
    return json.loads((container.output("report") / "validation_report.json").read_text())


def test_good_data_writes_splits_report_manifest_and_profile(
    container: Container, config: ModelConfig, stream: pd.DataFrame
) -> None:
    fresh, history = split_fresh(stream)
    stage(container, config, fresh, history)

    document = data_pull.run(window_end="")

    assert document["passed"], document["failure_message"]
    assert all(c["passed"] for c in document["checks"])
    train = pd.read_parquet(container.output("train") / "train.parquet")
    validation = pd.read_parquet(container.output("validation") / "validation.parquet")
    test = pd.read_parquet(container.output("test") / "test.parquet")
    # Test is the newest half of the fresh window; nothing is lost or duplicated across splits.
    assert len(test) == int(np.ceil(len(fresh) * config.data.split.test_fraction))
    assert test["event_time"].min() >= train["event_time"].max()
    ids = pd.concat([train, validation, test])["transaction_id"]
    assert ids.is_unique and len(ids) == len(fresh) + len(history)
    # Weighted window: the oldest history weighs least; fresh rows weigh 1.
    old = train.nsmallest(100, "event_time")["sample_weight"].mean()
    assert 0 < old < 0.2 and test["sample_weight"].eq(1.0).all()

    manifest = json.loads((container.output("report") / "manifest.json").read_text())
    entry = next(e for e in manifest["inputs"] if e["input"] == "fresh")
    staged = container.root / "processing" / "input" / "fresh" / "part-0.parquet"
    assert entry["sha256"] == sha256_of(staged) and entry["size"] == staged.stat().st_size

    # The drift baseline is the fresh window alone, not the weighted history the model also saw.
    profile = json.loads((container.output("baseline") / "baseline_profile.json").read_text())
    assert profile["rows"] == len(fresh) < len(train) + len(validation) + len(test)
    amount = profile["features"]["amount"]
    inner = np.quantile(fresh["amount"], np.linspace(0, 1, 11)[1:-1])
    assert amount["edges"][1:-1] == pytest.approx(inner.tolist())
    assert sum(amount["shares"]) == pytest.approx(1.0)
    assert set(profile["features"]["risk_band"]["frequencies"]) == {"low", "medium", "high"}


def test_rolling_window_drops_old_history(container: Container, config: ModelConfig, stream: pd.DataFrame) -> None:
    window = config.data.window.model_copy(update={"strategy": "rolling", "history_days": 30})
    rolling = config.model_copy(update={"data": config.data.model_copy(update={"window": window})})
    fresh, history = split_fresh(stream)
    stage(container, rolling, fresh, history)
    document = data_pull.run(window_end="")
    assert document["passed"]
    span = pd.Timestamp(document["window"]["end"]) - pd.read_parquet(container.output("train"))["event_time"].min()
    assert span <= pd.Timedelta(days=30)


def test_explicit_window_end_from_the_trigger(container: Container, config: ModelConfig, stream: pd.DataFrame) -> None:
    fresh, history = split_fresh(stream)
    stage(container, config, fresh, history)
    end = fresh["event_time"].max().isoformat()
    document = data_pull.run(window_end=end + "Z")
    assert document["passed"] and document["window"]["end"] == pd.Timestamp(end).isoformat()


Corruption = Callable[[pd.DataFrame], pd.DataFrame]


def _drop_column(f: pd.DataFrame) -> pd.DataFrame:
    return f.drop(columns=["device_trust"])


def _wrong_dtype(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(amount=f["amount"].astype(str) + " EUR")


def _empty(f: pd.DataFrame) -> pd.DataFrame:
    return f.iloc[0:0]


def _label_rate(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(is_fraud=(np.arange(len(f)) % 4 == 0).astype("int64"))


def _nan_burst(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out.loc[out.index[: len(out) // 10], "distance_from_home_km"] = np.nan
    return out


def _unlabelled(f: pd.DataFrame) -> pd.DataFrame:
    """The newest tenth of the fresh rows without their labels yet: late labels, as a new user's
    loan table had them."""
    out = f.assign(is_fraud=f["is_fraud"].astype("float64"))
    out.loc[out.index[-(len(out) // 10) :], "is_fraud"] = np.nan
    return out


def _duplicates(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out.loc[out.index[:5], "transaction_id"] = out["transaction_id"].iloc[10]
    return out


def _out_of_range(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out.loc[out.index[:3], "hour_of_day"] = 31
    return out


def _unseen_category(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out.loc[out.index[:3], "merchant_category"] = "crypto"
    return out


def _outside_window(f: pd.DataFrame) -> pd.DataFrame:
    out = f.copy()
    out.loc[out.index[:20], "event_time"] = out["event_time"].min() - pd.Timedelta(days=40)
    return out


def _year_as_time(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(event_time=f["event_time"].dt.year)


def _unparsable_time(f: pd.DataFrame) -> pd.DataFrame:
    out = f.assign(event_time=f["event_time"].astype(str))
    out.loc[out.index[:2], "event_time"] = "yesterday"
    return out


def _few_rows(f: pd.DataFrame) -> pd.DataFrame:
    return f.tail(500)


def _text_labels(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(is_fraud=np.where(f["is_fraud"] == 1, "fraud", "ok"))


BAD_DATA = [
    ("missing column", _drop_column, "schema_columns", "missing columns ['device_trust']"),
    ("wrong dtype", _wrong_dtype, "schema_dtypes", "amount is str (expected numeric): 14018 rows hold text, e.g. '"),
    ("empty window", _empty, "row_count", "fresh window holds 0 rows"),
    ("label rate", _label_rate, "label_rate", "label rate 0.2500 must lie in [0.005, 0.08]"),
    ("NaN burst", _nan_burst, "null_rate", "distance_from_home_km"),
    ("labels still to come", _unlabelled, "null_rate", "rows without a label cannot be trained on"),
    ("duplicate ids", _duplicates, "duplicate_ids", "5 duplicate transaction_id values"),
    ("out of range", _out_of_range, "value_range", "hour_of_day"),
    ("unseen category", _unseen_category, "value_range", "merchant_category"),
    ("rows outside window", _outside_window, "time_window", "fall outside the window"),
    ("too few rows", _few_rows, "row_count", "at least 2000 required"),
    ("non-binary label", _text_labels, "schema_dtypes", "is_fraud"),
    ("integer time", _year_as_time, "schema_dtypes", "event_time holds numbers (int32), not timestamps"),
    ("unparsable time", _unparsable_time, "schema_dtypes", "event_time has values that are not timestamps"),
]


@pytest.mark.parametrize(("case", "corrupt", "check", "text"), BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_bad_fresh_data_fails_the_named_check(
    container: Container,
    config: ModelConfig,
    stream: pd.DataFrame,
    case: str,
    corrupt: Corruption,
    check: str,
    text: str,
) -> None:
    fresh, history = split_fresh(stream)
    stage(container, config, corrupt(fresh), history)

    document = data_pull.run(window_end="")

    assert not document["passed"], case
    assert check in document["failed_checks"]
    assert document["failure_message"].startswith("DataValidation failed: ")
    assert f"{check}: " in document["failure_message"] and text in document["failure_message"]
    assert read_report(container) == json.loads(json.dumps(document, default=str))
    for split in ("train", "validation", "test", "baseline"):
        assert list(container.output(split).iterdir()) == [], f"{split} written despite failed validation"


def test_old_rows_in_fresh_say_how_many_how_old_and_what_to_do(
    container: Container, config: ModelConfig, stream: pd.DataFrame
) -> None:
    fresh, history = split_fresh(stream)
    stage(container, config, _outside_window(fresh), history)
    document = data_pull.run(window_end="")
    check = next(c for c in document["checks"] if c["name"] == "time_window")
    oldest = (fresh["event_time"].min() - pd.Timedelta(days=40)).isoformat()
    assert f"20 of {len(fresh)} fresh rows" in check["message"]
    assert f"20 older than the window start, the oldest at {oldest}" in check["message"]
    assert "move older rows to data.historical" in check["message"]
    assert "raise data.checks.max_outside_window_rate" in check["message"]


def test_corrupt_file_is_reported_not_crashed(container: Container, config: ModelConfig, stream: pd.DataFrame) -> None:
    fresh, history = split_fresh(stream)
    stage(container, config, fresh, history)
    (container.root / "processing" / "input" / "fresh" / "part-1.parquet").write_bytes(b"PAR1 not really")
    document = data_pull.run(window_end="")
    assert document["failed_checks"] == ["readable"]
    assert "fresh: cannot read input files" in document["failure_message"]


def test_history_without_file_extension_trains_the_model(
    container: Container, config: ModelConfig, stream: pd.DataFrame
) -> None:
    """Athena / Redshift deliver a dataset definition's result as files without extension."""
    fresh, history = split_fresh(stream)
    container.put_config(config)
    container.put_table("fresh", fresh)
    half = len(history) // 2
    container.put_table("historical", history.iloc[:half], filename="0000_part_00")
    container.put_table("historical", history.iloc[half:], filename="0001_part_00")
    (container.root / "processing" / "input" / "historical" / "_SUCCESS").write_bytes(b"")
    document = data_pull.run(window_end="")
    assert document["passed"], document["failure_message"]
    assert document["rows"]["historical"] == len(history)


def test_configured_history_without_rows_fails_the_named_check(
    container: Container, config: ModelConfig, stream: pd.DataFrame
) -> None:
    fresh, history = split_fresh(stream)
    stage(container, config, fresh, history.iloc[0:0])
    document = data_pull.run(window_end="")
    assert not document["passed"]
    assert document["failed_checks"] == ["historical_rows"]
    message = document["failure_message"]
    assert "data.historical is configured but its input holds no rows" in message
    assert "remove data.historical" in message
    assert list(container.output("train").iterdir()) == []


def test_the_backtest_validation_needs_no_history(config: ModelConfig, stream: pd.DataFrame) -> None:
    """`validate` also checks the backtest's candidates, whose history is simulated and may be empty
    at first: only the job requires rows from a configured data.historical."""
    fresh, _ = split_fresh(stream)
    results, window, _, selected = data_pull.validate(fresh, fresh.iloc[0:0], config, "")
    assert all(r.passed for r in results) and window is not None and len(selected) == 0


def test_unrecognised_input_file_is_refused_by_name(
    container: Container, config: ModelConfig, stream: pd.DataFrame
) -> None:
    fresh, history = split_fresh(stream)
    stage(container, config, fresh, history)
    (container.root / "processing" / "input" / "historical" / "results.json").write_text("{}")
    document = data_pull.run(window_end="")
    assert document["failed_checks"] == ["readable"]
    assert "historical: cannot read input files" in document["failure_message"]
    assert "results.json: not a table" in document["failure_message"]


def test_epoch_seconds_with_time_unit_are_timestamps(
    container: Container, config: ModelConfig, stream: pd.DataFrame
) -> None:
    fresh, history = split_fresh(stream)

    def epoch_seconds(frame: pd.DataFrame) -> pd.DataFrame:
        seconds = frame["event_time"].astype("datetime64[s]").astype("int64")
        return frame.assign(event_time=seconds)

    in_seconds = config.model_copy(update={"model": config.model.model_copy(update={"time_unit": "s"})})
    stage(container, in_seconds, epoch_seconds(fresh), epoch_seconds(history))
    document = data_pull.run(window_end="")
    assert document["passed"], document["failure_message"]
    assert pd.Timestamp(document["window"]["end"]) == fresh["event_time"].max().floor("s")
    assert document["rows"]["historical"] == len(history)


def test_numeric_category_codes_match_integer_and_float_columns(
    container: Container, config: ModelConfig, stream: pd.DataFrame
) -> None:
    raw = json.loads(config_to_json(config))
    raw["model"]["features"][8]["categories"] = [1, 2, 3]  # risk_band as codes
    coded = parse_config(raw)
    fresh, history = split_fresh(stream)

    def recode(frame: pd.DataFrame, *, nulls: int) -> pd.DataFrame:
        codes = frame["risk_band"].map({"low": 1, "medium": 2, "high": 3})
        out = frame.assign(risk_band=codes.astype("float64") if nulls else codes)
        out.loc[out.index[:nulls], "risk_band"] = np.nan  # nulls make integer codes floats: 1.0 is code 1
        return out

    stage(container, coded, recode(fresh, nulls=5), recode(history, nulls=0))
    document = data_pull.run(window_end="")
    assert document["passed"], document["failure_message"]

    unknown = recode(fresh, nulls=5)
    unknown.loc[unknown.index[10], "risk_band"] = 4
    stage(container, coded, unknown, recode(history, nulls=0))
    document = data_pull.run(window_end="")
    assert document["failed_checks"] == ["value_range"] and "risk_band" in document["failure_message"]


def test_csv_sources_read_like_parquet(container: Container, config: ModelConfig, stream: pd.DataFrame) -> None:
    fresh, history = split_fresh(stream)
    container.put_config(config)
    container.put_table("fresh", fresh, filename="fresh.csv")
    container.put_table("historical", history, filename="history.csv")
    document = data_pull.run(window_end="")
    assert document["passed"], document["failure_message"]
    assert document["rows"]["fresh"] == len(fresh)


def test_job_runs_as_a_module(container: Container, config: ModelConfig, stream: pd.DataFrame, tmp_path: Path) -> None:
    """The container entrypoint: `python -m training_containers.data_pull --window-end ""`."""
    import os
    import subprocess
    import sys

    fresh, history = split_fresh(stream)
    stage(container, config, fresh, history)
    result = subprocess.run(
        [sys.executable, "-m", "training_containers.data_pull", "--window-end", ""],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "data validation: passed" in result.stderr
    assert (container.output("train") / "train.parquet").exists()


def test_latest_window_end_is_the_newest_fresh_row(
    container: Container, config: ModelConfig, stream: pd.DataFrame
) -> None:
    fresh, history = split_fresh(stream)
    stage(container, config, fresh, history)
    document = data_pull.run(window_end="latest")
    assert document["passed"]
    assert pd.Timestamp(document["window"]["end"]) == fresh["event_time"].max()


def _delayed(config: ModelConfig, days: float) -> ModelConfig:
    raw = json.loads(config_to_json(config))
    raw["data"]["window"]["label_delay_days"] = days
    raw["drift"]["performance_window_hours"] = (days + 1) * 24  # the SLO judges settled labels
    return parse_config(raw)


@pytest.mark.parametrize("pending", ["legitimate", "null"])
def test_rows_younger_than_the_label_delay_are_left_out_whatever_their_label_says(
    container: Container, config: ModelConfig, stream: pd.DataFrame, pending: str
) -> None:
    """Chargebacks come up to 3 days late. A source that reads the newest rows as legitimate (no
    chargeback yet) trained every run on wrong labels; one that leaves them null failed every run
    on their null rate. With `data.window.label_delay_days` the job trains on neither."""
    fresh, history = split_fresh(stream)
    end = fresh["event_time"].max()
    labels_until = end - pd.Timedelta(days=3)
    young = fresh["event_time"] > labels_until
    labels = fresh["is_fraud"].astype("float64")
    fresh = fresh.assign(is_fraud=labels.mask(young, 0.0 if pending == "legitimate" else np.nan))
    stage(container, _delayed(config, 3), fresh, history)

    document = data_pull.run(window_end="")

    assert document["passed"], document["failure_message"]
    assert document["window"] == {
        "start": (end - pd.Timedelta(days=config.data.window.fresh_days)).isoformat(),
        "end": end.isoformat(),
        "labels_until": labels_until.isoformat(),
    }
    assert document["rows"]["fresh"] == int((~young).sum()) and document["rows"]["awaiting_labels"] == int(young.sum())
    splits = pd.concat([pd.read_parquet(container.output(name)) for name in ("train", "validation", "test")])
    assert splits["event_time"].max() <= labels_until and splits["is_fraud"].notna().all()
    profile = json.loads((container.output("baseline") / "baseline_profile.json").read_text())
    assert profile["rows"] == int((~young).sum())
    # the label rate is the settled rows' (a reviewer's: with the young rows read as legitimate it fell)
    rate = next(c for c in document["checks"] if c["name"] == "label_rate")["observed"]
    assert rate == round(float(labels[~young].mean()), 6)
