"""Per-feature drift of a window against a baseline reference.

Every statistic is computed column-wise with numpy (one sort of the window's column, then O(n)
passes); features run in a thread pool because the sort and the passes release the GIL. A result
is a plain JSON-ready dict; a feature that cannot be compared (missing from the window, no
baseline, no values) gets a status saying why, never an exception.

Statuses: `ok`; `insufficient_data` (fewer than `drift.min_window_rows` values: statistics shown,
distribution verdict withheld); `no_values` (every value null: only the null rate is judged);
`empty` (the window has no rows); `missing` (the column is absent: a schema problem);
`no_baseline` (the reference has no values for it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import DriftSection, Feature, FeatureType
from pipelines.drift import statistics as st
from pipelines.drift.reference import (
    BaselineReference,
    CategoricalReference,
    FeatureReference,
    NumericReference,
    category_counts,
    finite_values,
    sorted_finite,
)
from pipelines.drift.sketch import CategoricalSketch, NumericSketch, Sketch, SketchMismatch
from pipelines.drift.verdict import breaches, statistics_for
from pipelines.drift.window import WindowProfile

_SUMMARY_QUANTILES = np.asarray([0.01, 0.25, 0.5, 0.75, 0.99])
HISTOGRAM_CATEGORIES = 20
UNSEEN_LISTED = 10
CONSTANT_RELATIVE_STD = 1e-9  # a std this small relative to the mean is rounding, not spread


def _status(reference_values: int, rows: int, values: int, drift: DriftSection) -> str:
    if reference_values == 0:
        return "no_baseline"
    if rows == 0:
        return "empty"
    if values == 0:
        return "no_values"
    if values < drift.min_window_rows:
        return "insufficient_data"
    return "ok"


def _finish(result: dict[str, Any], kind: str, drift: DriftSection) -> dict[str, Any]:
    found = breaches(
        result,
        kind,
        drift,
        distribution_votes=result["status"] == "ok",
        null_rate_votes=result["rows"] >= drift.min_window_rows,
    )
    result["breaches"] = found
    result["drifted"] = bool(found)
    return result


def _null_rates(rows: int, values: int, baseline_null_rate: float) -> dict[str, Any]:
    null_rate = 1.0 - values / rows if rows else None
    return {
        "rows": rows,
        "values": values,
        "null_rate": null_rate,
        "baseline_null_rate": baseline_null_rate,
        "null_rate_increase": None if null_rate is None else null_rate - baseline_null_rate,
    }


def _sorted_window(array: st.Floats, reference: NumericReference) -> tuple[st.Floats, NumericReference]:
    """The window's finite values sorted, and the reference at the same precision.

    Against an exact reference the sort is float64. Against a compressed one (already within
    1/GRID_POINTS of exact in KS) the values are sorted as float32, about twice as fast; the
    reference's support, edges and range are rounded the same way so ties stay ties, and every
    statistic is then exact for data rounded to 7 significant digits.
    """
    if reference.exact or reference.values == 0:
        return sorted_finite(array), reference
    finite = np.isfinite(array)
    narrow = (array if finite.all() else array[finite]).astype(np.float32)
    narrow.sort()
    rounded = replace(
        reference,
        support=_float32(reference.support),
        edges=_float32(reference.edges),
        minimum=float(np.float32(reference.minimum)),
        maximum=float(np.float32(reference.maximum)),
    )
    return narrow.astype(np.float64), rounded


def _float32(values: st.Floats) -> st.Floats:
    rounded: st.Floats = values.astype(np.float32).astype(np.float64)
    return rounded


def wasserstein_scale(reference: NumericReference) -> float:
    """The baseline's standard deviation, which makes Wasserstein unitless; 1 (raw units) for a
    constant baseline. A constant's computed std is rounding noise (4e-19 for 1,344 copies of
    0.003467), not a spread: dividing by it turned a 0.2 move into 1e15."""
    std, mean = reference.std or 0.0, abs(reference.mean or 0.0)
    return std if std > CONSTANT_RELATIVE_STD * mean else 1.0


@dataclass(frozen=True)
class NumericObservation:
    """What a window's values give against a numeric reference: from the values themselves
    (`compare_numeric`) or from a mergeable summary of them (`compare_numeric_sketch`)."""

    rows: int
    values: int
    invalid: int
    bin_counts: st.Counts
    ks: float
    wasserstein_raw: float
    wasserstein_error_bound: float  # 0 when computed from the values
    out_of_range: int
    mean: float
    std: float
    minimum: float
    maximum: float
    quantiles: st.Floats  # at _SUMMARY_QUANTILES


def compare_numeric(reference: NumericReference, column: pd.Series, drift: DriftSection) -> dict[str, Any]:
    invalid = 0
    if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
        coerced = pd.to_numeric(column, errors="coerce")
        invalid = int((coerced.isna() & column.notna()).sum())
        column = coerced
    array, rows = finite_values(column)
    stored = reference
    current, reference = _sorted_window(array, stored)
    del array
    m = current.size
    observation = None
    if reference.values and m and reference.minimum is not None and reference.maximum is not None:
        ks, raw = st.ecdf_distances(reference.support, reference.cdf, current)
        below = np.searchsorted(current, reference.minimum, "left")
        above = m - np.searchsorted(current, reference.maximum, "right")
        observation = NumericObservation(
            rows=rows,
            values=m,
            invalid=invalid,
            bin_counts=st.bin_counts(current, reference.edges),
            ks=ks,
            wasserstein_raw=raw,
            wasserstein_error_bound=0.0,
            out_of_range=int(below + above),
            mean=float(current.mean()),
            std=float(current.std()),
            minimum=float(current[0]),
            maximum=float(current[-1]),
            quantiles=st.sorted_quantiles(current, _SUMMARY_QUANTILES),
        )
    return _numeric_result(stored, reference, rows, m, invalid, observation, drift)


def compare_numeric_sketch(reference: NumericReference, sketch: NumericSketch, drift: DriftSection) -> dict[str, Any]:
    """`compare_numeric`'s result from a summary laid on `reference` (pipelines.drift.sketch)."""
    m = sketch.values
    observation = None
    if reference.values and m and reference.minimum is not None and reference.maximum is not None:
        ks, raw, bound = sketch.distances(reference)
        observation = NumericObservation(
            rows=sketch.rows,
            values=m,
            invalid=sketch.invalid,
            bin_counts=sketch.bins,
            ks=ks,
            wasserstein_raw=raw,
            wasserstein_error_bound=bound,
            out_of_range=int(sketch.inside[0] + sketch.inside[-1]),
            mean=sketch.mean,
            std=math.sqrt(sketch.m2 / m),
            minimum=sketch.minimum,
            maximum=sketch.maximum,
            quantiles=sketch.quantiles(reference, _SUMMARY_QUANTILES),
        )
    return _numeric_result(reference, reference, sketch.rows, m, sketch.invalid, observation, drift)


def _numeric_result(
    stored: NumericReference,
    reference: NumericReference,
    rows: int,
    m: int,
    invalid: int,
    observed: NumericObservation | None,
    drift: DriftSection,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "numeric",
        "status": _status(reference.values, rows, m, drift),
        **_null_rates(rows, m, reference.null_rate),
        "invalid_values": invalid,
        "exact_reference": reference.exact,
        "baseline": {"mean": stored.mean, "std": stored.std, "min": stored.minimum, "max": stored.maximum},
    }
    for name in ("psi", "ks", "ks_p_value", "wasserstein", "wasserstein_raw", "js", "ood_share"):
        result[name] = None
    result["current"] = None
    result["histogram"] = None
    if observed is not None:
        current_shares = observed.bin_counts / m
        scale = wasserstein_scale(reference)
        result |= {
            "psi": st.psi(reference.shares, current_shares),
            "ks": observed.ks,
            "ks_p_value": st.ks_p_value(observed.ks, reference.values, m),
            "wasserstein": observed.wasserstein_raw / scale,
            "wasserstein_raw": observed.wasserstein_raw,
            "js": st.js_distance(reference.shares, current_shares),
            "ood_share": float(observed.out_of_range / m),
            "current": {
                "mean": observed.mean,
                "std": observed.std,
                "min": observed.minimum,
                "max": observed.maximum,
                "quantiles": dict(zip([str(q) for q in _SUMMARY_QUANTILES], observed.quantiles.tolist(), strict=True)),
            },
            "histogram": {
                "edges": [float(e) if np.isfinite(e) else None for e in reference.edges],
                "baseline": reference.shares.tolist(),
                "current": current_shares.tolist(),
            },
        }
        if observed.wasserstein_error_bound:
            bound = observed.wasserstein_error_bound / scale
            result["wasserstein_error_bound"] = bound
            # the exact value may lie on the other side of the threshold: said, not hidden
            result["wasserstein_uncertain"] = abs(result["wasserstein"] - drift.wasserstein_threshold) <= bound
    return _finish(result, "numeric", drift)


def compare_categorical(reference: CategoricalReference, column: pd.Series, drift: DriftSection) -> dict[str, Any]:
    categories, counts = category_counts(column)
    return _categorical_result(reference, int(column.size), categories, counts, drift)


def compare_categorical_sketch(
    reference: CategoricalReference, sketch: CategoricalSketch, drift: DriftSection
) -> dict[str, Any]:
    """`compare_categorical`'s result from a summary of the window (pipelines.drift.sketch)."""
    categories, counts = sketch.category_counts()
    return _categorical_result(reference, sketch.rows, categories, counts, drift)


def _categorical_result(
    reference: CategoricalReference, rows: int, categories: Sequence[str], counts: st.Counts, drift: DriftSection
) -> dict[str, Any]:
    m = int(counts.sum())
    result: dict[str, Any] = {
        "type": "categorical",
        "status": _status(reference.values, rows, m, drift),
        **_null_rates(rows, m, reference.null_rate),
    }
    for name in ("psi", "js", "chi2", "chi2_dof", "chi2_p_value", "cramers_v", "ood_share"):
        result[name] = None
    result["unseen_categories"] = []
    result["histogram"] = None
    if reference.values and m:
        position = pd.Index(reference.categories).get_indexer(pd.Index(categories))
        seen = position >= 0
        known = len(reference.categories)
        unseen_names = [c for c, s in zip(categories, seen, strict=True) if not s]
        names = [*reference.categories, *unseen_names]
        reference_counts = np.concatenate((reference.counts, np.zeros(len(unseen_names), dtype=np.int64)))
        current_counts = np.zeros(len(names), dtype=np.int64)
        current_counts[position[seen]] = counts[seen]
        current_counts[known:] = counts[~seen]
        reference_shares = reference_counts / reference_counts.sum()
        current_shares = current_counts / m
        chi2, dof, p_value = st.chi2_two_sample(reference_counts, current_counts)
        unseen_order = np.argsort(-current_counts[known:], kind="stable")[:UNSEEN_LISTED]
        result |= {
            "psi": st.psi(reference_shares, current_shares),
            "js": st.js_distance(reference_shares, current_shares),
            "chi2": chi2,
            "chi2_dof": dof,
            "chi2_p_value": p_value,
            "cramers_v": st.cramers_v_equal_size(reference_shares, current_shares),
            "ood_share": float(current_counts[known:].sum() / m),
            "unseen_categories": [
                {"category": unseen_names[i], "share": float(current_shares[known + i])} for i in unseen_order
            ],
            "histogram": _category_histogram(names, reference_shares, current_shares),
        }
    return _finish(result, "categorical", drift)


def _category_histogram(names: Sequence[str], reference: st.Floats, current: st.Floats) -> dict[str, Any]:
    order = np.argsort(-np.maximum(reference, current), kind="stable")
    shown = np.sort(order[:HISTOGRAM_CATEGORIES])
    rest = order[HISTOGRAM_CATEGORIES:]
    histogram = {
        "categories": [names[i] for i in shown],
        "baseline": reference[shown].tolist(),
        "current": current[shown].tolist(),
    }
    if rest.size:
        histogram["categories"].append("(other)")
        histogram["baseline"].append(float(reference[rest].sum()))
        histogram["current"].append(float(current[rest].sum()))
    return histogram


def compare_feature(reference: FeatureReference, column: pd.Series, drift: DriftSection) -> dict[str, Any]:
    if isinstance(reference, NumericReference):
        return compare_numeric(reference, column, drift)
    return compare_categorical(reference, column, drift)


def _unavailable(feature: Feature, status: str, reference: FeatureReference | None) -> dict[str, Any]:
    kind = feature.type.value if reference is None else _kind(reference)
    statistics = dict.fromkeys((*statistics_for(kind), "ks_p_value" if kind == "numeric" else "chi2_p_value"))
    return {
        "type": kind,
        "status": status,
        "rows": 0,
        "values": 0,
        "null_rate": None,
        "baseline_null_rate": None if reference is None else reference.null_rate,
        **statistics,
        "histogram": None,
        "breaches": [],
        "drifted": False,
    }


def _kind(reference: FeatureReference) -> str:
    return "numeric" if isinstance(reference, NumericReference) else "categorical"


def compare_features(
    reference: BaselineReference,
    window: pd.DataFrame | WindowProfile,
    features: Sequence[Feature],
    drift: DriftSection,
    *,
    workers: int | None = None,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    """Per-feature results (in feature order) and the schema problems found on the way; `window`
    is the records themselves or their merged profile (pipelines.drift.window)."""
    present, judge = _access(window)
    problems: list[dict[str, str]] = []
    results: dict[str, dict[str, Any]] = {}
    jobs: list[tuple[str, FeatureReference]] = []
    for feature in features:
        baseline = reference.features.get(feature.name)
        if baseline is None:
            problems.append({"feature": feature.name, "problem": "no baseline for this feature in the reference"})
            results[feature.name] = _unavailable(feature, "no_baseline", None)
        elif not present(feature.name):
            problems.append({"feature": feature.name, "problem": "missing from the current window"})
            results[feature.name] = _unavailable(feature, "missing", baseline)
        else:
            if _kind(baseline) != feature.type.value:
                problems.append(
                    {
                        "feature": feature.name,
                        "problem": f"declared {feature.type.value} but the baseline is {_kind(baseline)}; "
                        "compared as the baseline",
                    }
                )
            if isinstance(window, WindowProfile) and window.missing.get(feature.name):
                problems.append(
                    {
                        "feature": feature.name,
                        "problem": f"missing from {window.missing[feature.name]:,} of {window.rows:,} rows "
                        "(counted as null)",
                    }
                )
            results[feature.name] = {}
            jobs.append((feature.name, baseline))

    threads = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        computed = pool.map(lambda job: judge(job[1], job[0], drift), jobs)
        for (name, _), result in zip(jobs, computed, strict=True):
            results[name] = result
            invalid = result.get("invalid_values")
            if invalid:
                what = "value is not a number" if invalid == 1 else "values are not numbers"
                problems.append({"feature": name, "problem": f"{invalid} {what} (read as null)"})
    _adjust_p_values(results)
    return results, problems


def _access(
    window: pd.DataFrame | WindowProfile,
) -> tuple[Callable[[str], bool], Callable[[FeatureReference, str, DriftSection], dict[str, Any]]]:
    """(whether the window has a feature, how to judge it) for records or a merged profile."""
    if isinstance(window, WindowProfile):
        profile = window

        def in_profile(name: str) -> bool:
            if profile.rows == 0:  # an empty window lacks no column
                return True
            return name in profile.features and profile.missing.get(name, 0) < profile.rows

        def judge(reference: FeatureReference, name: str, drift: DriftSection) -> dict[str, Any]:
            sketch = profile.features.get(name)
            if sketch is None:
                sketch = (
                    NumericSketch.empty(reference) if isinstance(reference, NumericReference) else CategoricalSketch(0)
                )
            return compare_sketch(reference, sketch, drift)

        return in_profile, judge
    frame = window
    return (lambda name: name in frame.columns), (
        lambda reference, name, drift: compare_feature(reference, frame[name], drift)
    )


def compare_sketch(reference: FeatureReference, sketch: Sketch, drift: DriftSection) -> dict[str, Any]:
    """`compare_feature` for a window summary laid on `reference`."""
    if isinstance(reference, NumericReference) and isinstance(sketch, NumericSketch):
        return compare_numeric_sketch(reference, sketch, drift)
    if isinstance(reference, CategoricalReference) and isinstance(sketch, CategoricalSketch):
        return compare_categorical_sketch(reference, sketch, drift)
    raise SketchMismatch(f"a {type(sketch).__name__} cannot be judged against a {type(reference).__name__}")


def _adjust_p_values(results: Mapping[str, dict[str, Any]]) -> None:
    """Holm-adjust the KS (numeric) and chi-square (categorical) p-values across features."""
    keyed = [
        (name, key)
        for name, result in results.items()
        for key in ("ks_p_value", "chi2_p_value")
        if result.get(key) is not None
    ]
    adjusted = st.holm([results[name][key] for name, key in keyed])
    for (name, key), value in zip(keyed, adjusted, strict=True):
        results[name][key.replace("_p_value", "_p_value_adjusted")] = value


# Fewer rows, and a varied category can be all distinct by chance; more, and a category whose every
# value is distinct has no frequencies to compare (each current value is new): an identifier or free text.
MIN_ROWS_FOR_IDENTIFIER = 1_000
MIN_NUMBER_SHARE = 0.9  # text this much of which reads as numbers is a numeric column with stray words


def feature_types_from(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> tuple[list[Feature], dict[str, str]]:
    """Features inferred from a frame's dtypes (numbers, booleans and text that is mostly numbers
    numeric, the rest categorical), and the columns that are not features with why: datetimes, text
    that parses as timestamps (a CSV's time column), text with every one of at least
    `MIN_ROWS_FOR_IDENTIFIER` values distinct (an identifier or free text), and whole numbers that
    count (`_counter`: a row number, a sequential id, an epoch time)."""
    inferred, skipped = [], {}
    for name in frame.columns:
        values = frame[name]
        if name in exclude:
            continue
        if pd.api.types.is_datetime64_any_dtype(values) or _timestamps(values):
            skipped[str(name)] = "timestamps"
            continue
        present = values.dropna()
        numeric = (
            pd.api.types.is_numeric_dtype(values)
            or pd.api.types.is_bool_dtype(values)
            or (len(present) > 0 and pd.to_numeric(present, errors="coerce").notna().mean() >= MIN_NUMBER_SHARE)
        )
        if not numeric and len(present) >= MIN_ROWS_FOR_IDENTIFIER and present.nunique() == len(present):
            skipped[str(name)] = "every value distinct: an identifier or free text"
            continue
        if numeric and _counter(present):
            skipped[str(name)] = "counting: a row number, sequential id or epoch time"
            continue
        inferred.append(Feature(name=str(name), type=FeatureType.numeric if numeric else FeatureType.categorical))
    return inferred, skipped


def _counter(present: pd.Series) -> bool:
    """Whole numbers (integers, floats or text that read as them), at least
    `MIN_ROWS_FOR_IDENTIFIER` of them, that count: in order with at least half of them distinct (an
    epoch time with repeats), or every one distinct in a dense run however shuffled. Such a column
    is no feature: a later window's values all lie beyond the reference's, so it drifts in every
    window. A real feature in a file sorted by it is left out too, and named."""
    if pd.api.types.is_bool_dtype(present) or len(present) < MIN_ROWS_FOR_IDENTIFIER:
        return False
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any() or not bool((numbers == numbers.round()).all()):
        return False
    distinct = numbers.nunique()
    if (numbers.is_monotonic_increasing or numbers.is_monotonic_decreasing) and distinct >= len(numbers) / 2:
        return True
    return bool(distinct == len(numbers) and numbers.max() - numbers.min() + 1 == len(numbers))


def _timestamps(values: pd.Series) -> bool:
    """Text whose every distinct value parses as an ISO 8601 time (offsets may differ)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    distinct = pd.Series(values.dropna().unique()).astype(str)
    if distinct.empty or not distinct.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return False
    try:
        return bool(pd.to_datetime(distinct, errors="coerce", format="ISO8601", utc=True).notna().all())
    except (ValueError, OverflowError, TypeError):
        return False
