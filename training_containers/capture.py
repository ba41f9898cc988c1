"""Reading SageMaker data capture and ground truth into frames the drift engine takes.

Data capture (what an endpoint with DataCaptureConfig writes, one JSON object per line):
    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "12.5,online,...", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                        "data": "0.031", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "...", "inferenceId": "...", "inferenceTime": "2026-03-01T10:00:00Z"},
     "eventVersion": "0"}
The input holds the model's features in config order without a header; a request with several
records holds one line each. `encoding` is CSV, JSON or BASE64 (then `observedContentType` says
which of the two the bytes are). The output is the positive-class score (the last value of a line
when there are several), a regression's value, or a multiclass model's class (kept as text). JSON
inputs may be an object of feature values, a list of them, a list in feature order, or any of
those under "instances"; JSON outputs a number, a list, or {"predictions": [...]} whose items are
numbers (classes) or objects with "score" or "probability".

Ground truth (SageMaker Model Monitor's format, one object per line, usually under
`<prefix>/yyyy/mm/dd/hh/`):
    {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "..."},
     "eventVersion": "0"}
Its eventId is the capture's inferenceId, or its eventId when the request carried none. A record
of a multi-record request is joined as `<id>#<index>` (0-based).

Parquet (recognised by content, whatever the name) and CSV files are read as flat tables: feature
columns plus optional `prediction`, `inference_id` (or the config's id column) and `inference_time`
(or its time column); ground truth tables hold `inference_id` and `label` (or the config's id and
label columns). Any other file is named in the stats' problems and not read.

Lines that cannot be read are counted and described in the returned `CaptureStats`, never fatal.
The common capture (CSV in and out, one record per request) is parsed column by column by Arrow
(its JSON reader for the lines, its CSV reader for all bodies at once); any other file goes
through the general parser, where CSV bodies are still parsed in bulk and JSON bodies one by one.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from pipelines.config import FeatureType, ModelConfig
from pipelines.drift import GROUND_TRUTH_COLUMN, INFERENCE_ID_COLUMN, INFERENCE_TIME_COLUMN, PREDICTION_COLUMN
from training_containers.files import list_tables, read_table_files

_BODY = pa.struct(
    [("observedContentType", pa.string()), ("mode", pa.string()), ("data", pa.string()), ("encoding", pa.string())]
)
CAPTURE_SCHEMA = pa.schema(
    [
        ("captureData", pa.struct([("endpointInput", _BODY), ("endpointOutput", _BODY)])),
        (
            "eventMetadata",
            pa.struct([("eventId", pa.string()), ("inferenceId", pa.string()), ("inferenceTime", pa.string())]),
        ),
        ("eventVersion", pa.string()),
    ]
)
GROUND_TRUTH_SCHEMA = pa.schema(
    [
        ("groundTruthData", pa.struct([("data", pa.string()), ("encoding", pa.string())])),
        ("eventMetadata", pa.struct([("eventId", pa.string())])),
        ("eventVersion", pa.string()),
    ]
)
MAX_PROBLEMS = 20


@dataclass
class CaptureStats:
    files: int = 0
    lines: int = 0
    records: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, count: int, problem: str) -> None:
        if count <= 0:
            return
        self.skipped += count
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> CaptureStats:
        """`as_dict` read back (missing counts are 0)."""
        return cls(
            files=int(document.get("files", 0)),
            lines=int(document.get("lines", 0)),
            records=int(document.get("records", 0)),
            skipped=int(document.get("skipped", 0)),
            problems=list(document.get("problems", [])),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "lines": self.lines,
            "records": self.records,
            "skipped": self.skipped,
            "problems": list(self.problems),
        }


def _jsonl_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder] if folder.suffix in (".jsonl", ".json") else []
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json"))


def _flat_tables(folder: Path, stats: CaptureStats) -> list[Path]:
    """The Parquet and CSV tables below `folder`; any other file that is not capture JSON is named
    in `stats.problems` and passed over (the monitor does not stop for a stray file)."""
    listing = list_tables(folder)
    for path in listing.unrecognised:
        if path.suffix not in (".jsonl", ".json") and len(stats.problems) < MAX_PROBLEMS:
            stats.problems.append(f"{path.name}: neither capture JSON lines nor a Parquet/CSV table; not read")
    return listing.tables


def _read_jsonl(path: Path, schema: pa.Schema, stats: CaptureStats) -> pd.DataFrame:
    """One JSONL file as a flat frame; bulk-parsed by Arrow, line by line if any line is broken."""
    frame: pd.DataFrame = _read_jsonl_table(path, schema, stats).to_pandas()
    return frame


def _read_jsonl_table(path: Path, schema: pa.Schema, stats: CaptureStats) -> pa.Table:
    """One JSONL file as a flat Arrow table (columns named `captureData.endpointInput.data`, ...)."""
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        table = pa_json.read_json(path, parse_options=options)
        stats.lines += table.num_rows
    except pa.ArrowInvalid:
        good = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            stats.lines += 1
            try:
                good.append(json.loads(line))
            except json.JSONDecodeError as exc:
                stats.skip(1, f"{path.name}:{number}: not JSON ({exc.msg})")
        table = pa.Table.from_pylist(good, schema=schema) if good else schema.empty_table()
    while any(pa.types.is_struct(column.type) for column in table.columns):
        table = table.flatten()
    return table


def _decode(data: pd.Series, encoding: pd.Series, content_type: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(text, format) per body: format is "csv" or "json"; BASE64 bodies are decoded first."""
    text = data.fillna("").astype(str)
    kind = encoding.fillna("CSV").str.upper()
    wrapped = kind == "BASE64"
    if wrapped.any():
        text = text.copy()
        text[wrapped] = pd.Series([_b64(v) for v in text[wrapped]], index=text.index[wrapped])
        kind = kind.copy()
        kind[wrapped] = np.where(content_type[wrapped].fillna("").str.contains("json"), "JSON", "CSV")
    return text, kind.map({"JSON": "json"}).fillna("csv")


def _b64(value: str) -> str:
    try:
        return base64.b64decode(value).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _lines(text: pd.Series) -> pd.Series:
    """One row per non-empty line, indexed by the capture row it came from, with its position."""
    exploded = text.str.strip().str.split("\n").explode()
    exploded = exploded[exploded.notna() & (exploded.str.strip() != "")].str.rstrip("\r")
    return exploded


def _csv_inputs(lines: pd.Series, config: ModelConfig, stats: CaptureStats) -> pd.DataFrame:
    features = config.model.features
    fields = lines.str.count(",") + 1
    fits = fields == len(features)
    stats.skip(
        int((~fits).sum()),
        f"{int((~fits).sum())} CSV input records do not have {len(features)} fields (the model's features in order)",
    )
    lines = lines[fits]
    if lines.empty:
        return pd.DataFrame({f.name: pd.Series(dtype="float64") for f in features}, index=lines.index)
    dtypes = {f.name: ("float64" if f.type is FeatureType.numeric else "str") for f in features}
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(lines)),
            header=None,
            names=[f.name for f in features],
            dtype={k: v for k, v in dtypes.items() if v == "str"},
            keep_default_na=True,
            skip_blank_lines=False,
        )
    except pd.errors.ParserError:  # a record no CSV reader can read (an unclosed quote): skip it alone
        frame, lines = _csv_record_by_record(lines, features, stats)
    for feature in features:
        if dtypes[feature.name] == "float64":
            frame[feature.name] = pd.to_numeric(frame[feature.name], errors="coerce")
    frame.index = lines.index
    return frame


def _csv_record_by_record(
    lines: pd.Series, features: Sequence[Any], stats: CaptureStats
) -> tuple[pd.DataFrame, pd.Series]:
    """Each record parsed alone; those that do not parse into the features are skipped."""
    rows: list[list[str | None]] = []
    kept: list[bool] = []
    for line in lines:
        parsed = next(csv.reader([line]), [])
        kept.append(len(parsed) == len(features))
        if kept[-1]:
            rows.append([None if value in _NULL_MARKERS else value for value in parsed])
    stats.skip(kept.count(False), f"{kept.count(False)} CSV input records could not be parsed")
    frame = pd.DataFrame(rows, columns=[f.name for f in features], dtype=object)
    return frame, lines[kept]


def _json_records(body: str, names: Sequence[str]) -> list[dict[str, Any]]:
    document = json.loads(body)
    if isinstance(document, dict) and "instances" in document:
        document = document["instances"]
    if isinstance(document, dict):
        document = [document]
    if isinstance(document, list) and document and not isinstance(document[0], dict | list):
        document = [document]  # a single record given as a list of values
    records = []
    for item in document:
        if isinstance(item, dict):
            records.append({n: item.get(n) for n in names})
        elif isinstance(item, list) and len(item) == len(names):
            records.append(dict(zip(names, item, strict=True)))
        else:
            raise ValueError("a JSON record is neither an object of features nor a list in feature order")
    return records


def _json_scores(body: str) -> list[float]:
    return [float(item) for item in _json_outputs(body)]


def _json_classes(body: str) -> list[str]:
    """A multiclass model's answers: its classes, as text."""
    return [
        str(int(item)) if isinstance(item, float) and item.is_integer() else str(item) for item in _json_outputs(body)
    ]


def _json_outputs(body: str) -> list[Any]:
    document = json.loads(body)
    if isinstance(document, dict):
        document = document.get("predictions", document.get("scores", [document]))
    if not isinstance(document, list):
        document = [document]
    scores = []
    for item in document:
        if isinstance(item, dict):
            item = item.get("score", item.get("probability", item.get("scores")))
        if isinstance(item, list):
            item = item[-1]
        scores.append(item)
    return scores


def _per_body(texts: pd.Series, parse: Any, stats: CaptureStats, what: str) -> tuple[list[Any], list[Any]]:
    """Parse JSON bodies one by one: (capture row index repeated per record, records)."""
    index: list[Any] = []
    records: list[Any] = []
    for row, body in texts.items():
        try:
            parsed = parse(body)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            stats.skip(1, f"{what} of capture row {row}: {type(exc).__name__}: {exc}"[:200])
            continue
        index += [row] * len(parsed)
        records += parsed
    return index, records


def _record_numbers(index: pd.Index) -> np.ndarray:
    """0-based position of each record within its capture row (index sorted by row)."""
    rows = np.asarray(index)
    starts = np.r_[0, np.flatnonzero(rows[1:] != rows[:-1]) + 1]
    numbers: np.ndarray = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
    return numbers


def parse_capture(raw: pd.DataFrame, config: ModelConfig, stats: CaptureStats) -> pd.DataFrame:
    """Capture lines (flattened) to one row per record: features, prediction, id, time."""
    names = config.model.feature_names
    text, kind = _decode(
        raw["captureData.endpointInput.data"],
        raw["captureData.endpointInput.encoding"],
        raw["captureData.endpointInput.observedContentType"],
    )
    parts = [_csv_inputs(_lines(text[kind == "csv"]), config, stats)]
    json_rows, json_records = _per_body(
        text[kind == "json"], lambda body: _json_records(body, names), stats, "JSON input"
    )
    if json_records:
        parts.append(pd.DataFrame(json_records, index=json_rows, columns=names))
    inputs = pd.concat(parts).sort_index(kind="stable") if len(parts) > 1 else parts[0]
    for feature in config.model.features:
        if feature.type is FeatureType.numeric:
            inputs[feature.name] = pd.to_numeric(inputs[feature.name], errors="coerce")

    out_text, out_kind = _decode(
        raw["captureData.endpointOutput.data"],
        raw["captureData.endpointOutput.encoding"],
        raw["captureData.endpointOutput.observedContentType"],
    )
    classes = config.model.problem_type == "multiclass_classification"  # text answers, not numbers
    csv_scores = _lines(out_text[out_kind == "csv"]).str.rsplit(",", n=1).str[-1]
    score_parts = [csv_scores.str.strip() if classes else pd.to_numeric(csv_scores, errors="coerce")]
    parse_output = _json_classes if classes else _json_scores
    score_rows, scores = _per_body(out_text[out_kind == "json"], parse_output, stats, "JSON output")
    if scores:
        score_parts.append(pd.Series(scores, index=score_rows, dtype=object if classes else "float64"))
    predictions = pd.concat(score_parts).sort_index(kind="stable") if len(score_parts) > 1 else score_parts[0]

    # Inputs and outputs pair up record by record; a capture whose counts differ gets no scores.
    input_counts = inputs.index.value_counts()
    output_counts = predictions.index.value_counts().reindex(input_counts.index, fill_value=0)
    matched = input_counts.index[input_counts == output_counts]
    mismatched = len(input_counts) - len(matched)
    if mismatched and len(stats.problems) < MAX_PROBLEMS:
        stats.problems.append(f"{mismatched} captures have a different number of input and output records")
    inputs = inputs.copy()
    inputs[PREDICTION_COLUMN] = pd.Series(None, index=inputs.index, dtype=object) if classes else np.nan
    paired = inputs.index.isin(matched)
    answers = predictions[predictions.index.isin(matched)]
    inputs.loc[paired, PREDICTION_COLUMN] = answers.to_numpy(dtype=object if classes else "float64")

    ids = raw["eventMetadata.inferenceId"].fillna(raw["eventMetadata.eventId"]).astype(str)
    per_capture = inputs.index.value_counts()
    numbers = _record_numbers(inputs.index)
    base = ids.reindex(inputs.index).to_numpy(dtype=object)
    several = per_capture.reindex(inputs.index).to_numpy() > 1
    inputs[INFERENCE_ID_COLUMN] = np.where(several, base + "#" + numbers.astype(str), base)
    inputs[INFERENCE_TIME_COLUMN] = pd.to_datetime(
        raw["eventMetadata.inferenceTime"].reindex(inputs.index), utc=True, errors="coerce"
    ).to_numpy()
    stats.records += len(inputs)
    return inputs.reset_index(drop=True)


def _flat_window(frame: pd.DataFrame, config: ModelConfig, stats: CaptureStats) -> pd.DataFrame:
    renames = {}
    if INFERENCE_ID_COLUMN not in frame.columns and config.model.id_column in frame.columns:
        renames[config.model.id_column] = INFERENCE_ID_COLUMN
    if INFERENCE_TIME_COLUMN not in frame.columns and config.model.time_column in frame.columns:
        renames[config.model.time_column] = INFERENCE_TIME_COLUMN
    frame = frame.rename(columns=renames)
    if INFERENCE_TIME_COLUMN in frame.columns:
        frame[INFERENCE_TIME_COLUMN] = _flat_times(frame[INFERENCE_TIME_COLUMN], config, stats)
    if INFERENCE_ID_COLUMN in frame.columns:
        frame[INFERENCE_ID_COLUMN] = frame[INFERENCE_ID_COLUMN].astype(str)
    return frame


def _flat_times(values: pd.Series, config: ModelConfig, stats: CaptureStats) -> pd.Series:
    """Times of flat-table rows (UTC); numbers only as epoch times in `model.time_unit`, as the
    data pull reads them. Without a unit they are no times (a stated problem), not 1970."""
    numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
    if not numeric:
        return pd.to_datetime(values, utc=True, errors="coerce")
    if config.model.time_unit is None:
        if len(stats.problems) < MAX_PROBLEMS:
            stats.problems.append(
                f"flat tables: time column holds numbers ({values.dtype}); set model.time_unit to read them as "
                "epoch times. Their rows have no time"
            )
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(values, unit=config.model.time_unit, utc=True, errors="coerce")


# pandas' default missing-value markers (pandas.read_csv's na_values), so both parsers read the
# same nulls: https://pandas.pydata.org/docs/reference/api/pandas.read_csv.html
_NULL_MARKERS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip


def _all_equal(column: pa.ChunkedArray, value: str, default: str) -> bool:
    return bool(pc.all(pc.equal(pc.utf8_upper(pc.fill_null(column, default)), value)).as_py() is not False)


def _any_contains(column: pa.ChunkedArray, *needles: str) -> bool:
    return any(bool(pc.any(pc.match_substring(column, needle)).as_py()) for needle in needles)


def _joined_lines(column: pa.ChunkedArray) -> pa.Buffer:
    """The strings of `column`, each followed by a line break, as one buffer (no copy per row)."""
    wide = column.cast(pa.large_string())
    text = pc.binary_join_element_wise(wide, pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string()))
    text = text.combine_chunks()
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    data: pa.Buffer = text.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    return data


def _csv_columns(body: pa.Buffer, config: ModelConfig) -> pd.DataFrame:
    """One CSV record per line, features in config order, read by Arrow's multithreaded reader;
    a numeric column holding a non-number is read as text and coerced as the row-wise parser does."""
    features = config.model.features
    names = [f.name for f in features]
    numeric = {f.name for f in features if f.type is FeatureType.numeric}

    def read(types: dict[str, pa.DataType]) -> pa.Table:
        return pa_csv.read_csv(
            pa.BufferReader(body),
            read_options=pa_csv.ReadOptions(column_names=names),
            parse_options=pa_csv.ParseOptions(ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=types,
                null_values=_NULL_MARKERS,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    try:
        frame: pd.DataFrame = read({n: pa.float64() if n in numeric else pa.string() for n in names}).to_pandas()
    except pa.ArrowInvalid:
        frame = read(dict.fromkeys(names, pa.string())).to_pandas()
        for name in numeric:
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame


def _fast_capture(table: pa.Table, config: ModelConfig, stats: CaptureStats) -> pd.DataFrame | None:
    """The common capture (CSV in and out, one record per request) parsed column by column, or
    None when any line is otherwise (JSON or BASE64 bodies, several records, several outputs):
    then `parse_capture` reads the file."""
    inputs = table.column("captureData.endpointInput.data")
    outputs = table.column("captureData.endpointOutput.data")
    if (
        not (
            _all_equal(table.column("captureData.endpointInput.encoding"), "CSV", "CSV")
            and _all_equal(table.column("captureData.endpointOutput.encoding"), "CSV", "CSV")
        )
        or _any_contains(inputs, "\n")
        or _any_contains(outputs, ",", "\n")
    ):
        return None
    inputs = pc.utf8_trim_whitespace(pc.fill_null(inputs, ""))  # as the row-wise parser strips a body
    fits = pc.equal(pc.count_substring(inputs, ","), len(config.model.features) - 1)
    misfits = len(inputs) - int(pc.sum(fits).as_py() or 0)
    if misfits == len(inputs):
        return None  # nothing to read column-wise: the row-wise parser reports every record
    table = table.filter(fits)
    try:
        frame = _csv_columns(_joined_lines(inputs.filter(fits)), config)
    except pa.ArrowInvalid:
        return None  # a record Arrow cannot parse (an unclosed quote): the row-wise parser skips it alone
    stats.skip(
        misfits,
        f"{misfits} CSV input records do not have {len(config.model.features)} fields (the model's features in order)",
    )
    answers = pc.utf8_trim_whitespace(table.column("captureData.endpointOutput.data"))
    unanswered = int(pc.sum(pc.or_kleene(pc.is_null(answers), pc.equal(answers, ""))).as_py() or 0)
    if unanswered and len(stats.problems) < MAX_PROBLEMS:
        stats.problems.append(f"{unanswered} captures have a different number of input and output records")
    if config.model.problem_type == "multiclass_classification":
        frame[PREDICTION_COLUMN] = pd.Series(answers.to_pandas(), dtype=object).replace("", None).to_numpy()
    else:
        frame[PREDICTION_COLUMN] = _scores(pc.if_else(pc.equal(answers, ""), None, answers))
    ids = pc.coalesce(table.column("eventMetadata.inferenceId"), table.column("eventMetadata.eventId"))
    frame[INFERENCE_ID_COLUMN] = pc.fill_null(ids, "None").to_pandas()
    frame[INFERENCE_TIME_COLUMN] = _capture_times(table.column("eventMetadata.inferenceTime"))
    stats.records += len(frame)
    return frame


def _capture_times(column: pa.ChunkedArray) -> pd.DatetimeIndex:
    """ISO-8601 inference times as UTC; a file with any unreadable time is read by pandas, which
    makes that time null."""
    try:
        naive = pc.local_timestamp(column.cast(pa.timestamp("ns", tz="UTC")))
        return pd.DatetimeIndex(naive.to_numpy(), tz="UTC")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.DatetimeIndex(pd.to_datetime(column.to_pandas(), utc=True, errors="coerce"))


def _scores(answers: pa.ChunkedArray) -> np.ndarray:
    try:
        scores: np.ndarray = answers.cast(pa.float64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        scores = pd.to_numeric(answers.to_pandas(), errors="coerce").to_numpy(dtype=np.float64)
    return scores


def read_capture_file(path: Path, config: ModelConfig, stats: CaptureStats) -> list[pd.DataFrame]:
    """One capture JSONL file's records (none, or one frame)."""
    raw = _read_jsonl_table(path, CAPTURE_SCHEMA, stats)
    if not raw.num_rows:
        return []
    fast = _fast_capture(raw, config, stats)
    return [fast if fast is not None else parse_capture(raw.to_pandas(), config, stats)]


def capture_files(
    folder: Path, config: ModelConfig, wanted: Callable[[str], bool] = lambda _: True
) -> Iterator[tuple[str, pd.DataFrame, CaptureStats]]:
    """Each capture file below `folder` (JSON lines, or a flat Parquet/CSV table) whose relative
    path is `wanted`: that path, its records and what could not be read. A file that is neither
    is reported under the key "" with no records."""
    for path in _jsonl_files(folder):
        if not wanted(_relative(path, folder)):
            continue
        stats = CaptureStats(files=1)
        frames = read_capture_file(path, config, stats)
        yield _relative(path, folder), frames[0] if frames else _empty_capture(config), stats
    unread = CaptureStats()
    for table in _flat_tables(folder, unread):
        if not wanted(_relative(table, folder)):
            continue
        stats = CaptureStats(files=1)
        flat = _flat_window(read_table_files([table]), config, stats)
        stats.records += len(flat)
        yield _relative(table, folder), flat, stats
    if unread.problems:
        yield "", _empty_capture(config), unread


def _relative(path: Path, folder: Path) -> str:
    return path.name if folder.is_file() else path.relative_to(folder).as_posix()


def _empty_capture(config: ModelConfig) -> pd.DataFrame:
    empty = {
        f.name: pd.Series(dtype="float64" if f.type is FeatureType.numeric else "object") for f in config.model.features
    }
    return pd.DataFrame(empty | {PREDICTION_COLUMN: pd.Series(dtype="float64")})


def merge_stats(parts: Iterable[CaptureStats]) -> CaptureStats:
    merged = CaptureStats()
    for part in parts:
        merged.files += part.files
        merged.lines += part.lines
        merged.records += part.records
        merged.skipped += part.skipped
        merged.problems += part.problems[: MAX_PROBLEMS - len(merged.problems)]
    return merged


def read_capture(folder: Path, config: ModelConfig) -> tuple[pd.DataFrame, CaptureStats]:
    """Every capture JSONL and flat table below `folder`, as one frame."""
    frames, stats = [], []
    for _, frame, part in capture_files(folder, config):
        stats.append(part)
        if len(frame):
            frames.append(frame)
    if not frames:
        return _empty_capture(config), merge_stats(stats)
    return pd.concat(frames, ignore_index=True), merge_stats(stats)


def read_ground_truth(folder: Path, config: ModelConfig) -> tuple[pd.DataFrame, CaptureStats]:
    """Every ground-truth JSONL and flat table below `folder`: `inference_id` and `label`."""
    stats = CaptureStats()
    frames = []
    for path in _jsonl_files(folder):
        stats.files += 1
        raw = _read_jsonl(path, GROUND_TRUTH_SCHEMA, stats)
        if raw.empty:
            continue
        text, kind = _decode(
            raw["groundTruthData.data"], raw["groundTruthData.encoding"], pd.Series("", index=raw.index)
        )
        labels = text.str.strip().str.split(",").str[0].str.strip('"')
        json_rows = kind == "json"
        if json_rows.any():
            labels[json_rows] = pd.Series([_json_label(v) for v in text[json_rows]], index=text.index[json_rows])
        frame = pd.DataFrame(
            {INFERENCE_ID_COLUMN: raw["eventMetadata.eventId"].astype(str), GROUND_TRUTH_COLUMN: labels}
        )
        unusable = (
            frame[GROUND_TRUTH_COLUMN].isna() | (frame[GROUND_TRUTH_COLUMN] == "") | raw["eventMetadata.eventId"].isna()
        )
        stats.skip(
            int(unusable.sum()), f"{path.name}: {int(unusable.sum())} ground-truth records without an id or label"
        )
        frames.append(frame[~unusable])
    tables = _flat_tables(folder, stats)
    if tables:
        stats.files += len(tables)
        flat = read_table_files(tables).rename(
            columns={config.model.id_column: INFERENCE_ID_COLUMN, config.model.label: GROUND_TRUTH_COLUMN}
        )
        frames.append(flat[[INFERENCE_ID_COLUMN, GROUND_TRUTH_COLUMN]].astype({INFERENCE_ID_COLUMN: str}))
    if not frames:
        return pd.DataFrame(
            {INFERENCE_ID_COLUMN: pd.Series(dtype="object"), GROUND_TRUTH_COLUMN: pd.Series(dtype="object")}
        ), stats
    truth = pd.concat(frames, ignore_index=True)
    stats.records = len(truth)
    return truth, stats


def _json_label(body: str) -> Any:
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        return None
    if isinstance(value, dict):
        value = value.get("label", value.get("groundTruth"))
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)
