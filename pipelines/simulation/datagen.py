"""Synthetic card transactions for the example fraud model, with named drift scenarios.

Distributions (per transaction, before drift):
- `amount`: log-normal, median about 40; fraud draws from a log-normal with median about 110.
- `merchant_category`: grocery .25, restaurants .18, fuel .14, online .20, electronics .10,
  travel .08, gaming .05; fraud favours online, electronics and gaming.
- `hour_of_day`: integer 0-23, day-time peaked; fraud is 3x as likely between 00:00 and 05:00.
- `account_age_days`: exponential with mean 900; fraud skews to young accounts (mean 350).
- `distance_from_home_km`: log-normal, median 8; fraud median 30 (wider).
- `txn_count_24h`: Poisson(2); fraud Poisson(3.5).
- `card_present`: 1 with probability .6 (.35 for fraud).
- `device_trust`: Beta(8, 2); fraud Beta(4, 4).
- `risk_band`: low / medium / high from an issuer score correlated with fraud; about 8% of
  rows are `high`, and fraud is concentrated there (more than half of all fraud).
- `is_fraud`: Bernoulli; base rate about 2%.

Each row is drawn as fraud or not first, then its features are drawn from that class, so the
label rate is exact in expectation and the classes stay separable enough for the example's gates.

Scenarios, applied to rows at or after `drift_start`:
- `none`: stationary.
- `covariate`: amounts x2.5, distances x3, merchant mix shifts to online, device trust drops.
  The change is applied to both classes alike, so what an input says about fraud changes too
  (an amount of 100 is now typical of legitimate spending, and the merchant mix no longer depends
  on the class): a model trained before it needs labels from after it to recover
  (bench/early_retrain.py).
- `concept`: fraudsters adapt: fraud looks like normal card-present, local, day-time spending, so
  a model trained before the drift loses recall, most of all on the high-risk band.
- `card_testing`: a new fraud pattern a retrained model can learn: `concept_share` of fraud
  becomes card testing, bursts of tiny online card-not-present charges (under 3) on ordinary
  accounts, a region the old model saw almost only legitimate rows in, so it misses them.
- `subtle`: a small location shift in `device_trust` only (mean -0.03).
- `label_shift`: the fraud rate doubles with class-conditional features unchanged.
- `seasonal`: benign drift: legitimate customers spend closer to home, more at grocery, fuel and
  restaurants and more often with the card present (a holiday season); fraud is unchanged, so the
  features drift and the model is no worse.
- `mixed`: `covariate` and `concept` together.

A spec's `scenario` is one name or a tuple of them, applied together (`("card_testing",
"seasonal")`); `concept` (or `mixed`) and `card_testing` each redraw part of the fraud, so at most
one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Scenario = Literal["none", "covariate", "concept", "card_testing", "subtle", "label_shift", "seasonal", "mixed"]
SCENARIOS: tuple[Scenario, ...] = (
    "none",
    "covariate",
    "concept",
    "card_testing",
    "subtle",
    "label_shift",
    "seasonal",
    "mixed",
)

CATEGORIES = ("grocery", "restaurants", "fuel", "online", "electronics", "travel", "gaming")
_LEGIT_MIX = np.array([0.25, 0.18, 0.14, 0.20, 0.10, 0.08, 0.05])
_FRAUD_MIX = np.array([0.05, 0.05, 0.05, 0.40, 0.25, 0.05, 0.15])
_SHIFTED_MIX = np.array([0.15, 0.12, 0.08, 0.38, 0.14, 0.08, 0.05])
_SEASONAL_MIX = np.array([0.36, 0.22, 0.20, 0.10, 0.05, 0.05, 0.02])


@dataclass(frozen=True)
class StreamSpec:
    rows: int
    start: str = "2026-01-01"
    days: float = 120.0
    seed: int = 7
    fraud_rate: float = 0.02
    scenario: Scenario | tuple[Scenario, ...] = "none"
    drift_start: str | None = None
    concept_share: float = 0.7  # concept drift: share of fraud that mimics legitimate spending
    high_risk_cut: float = 1.41  # issuer score above which a row is "high" risk (about 8% of rows)


def generate(spec: StreamSpec) -> pd.DataFrame:
    """Draw `spec.rows` transactions in time order between start and start + days."""
    parts = scenario_parts(spec.scenario)
    rng = np.random.default_rng(spec.seed)
    n = spec.rows
    start = pd.Timestamp(spec.start)
    offsets = np.sort(rng.uniform(0.0, spec.days * 86_400.0, n))
    times = start + pd.to_timedelta(offsets, unit="s")
    drift_start = pd.Timestamp(spec.drift_start) if spec.drift_start else start
    drifted = np.asarray(times >= drift_start) if parts else np.zeros(n, bool)

    rate = np.full(n, spec.fraud_rate)
    if "label_shift" in parts:
        rate[drifted] *= 2
    fraud = rng.random(n) < rate
    # Fraud drawn from the legitimate profile: a share of it after the drift point (`concept`,
    # `mixed`), or exactly the card tests, whose tell-tale features are set afterwards.
    tests = fraud & drifted & (rng.random(n) < spec.concept_share) if "card_testing" in parts else None
    adapted = drifted if "concept" in parts else tests
    share = 1.0 if tests is not None else spec.concept_share

    frame = pd.DataFrame(
        {
            "transaction_id": [f"tx-{spec.seed}-{i:08d}" for i in range(n)],
            "event_time": times.as_unit("ms"),
            **_features(rng, fraud, adapted, share, spec.high_risk_cut),
        }
    )
    if tests is not None:
        _apply_card_testing(frame, tests, rng)
    if "covariate" in parts:
        _apply_covariate_shift(frame, drifted, rng)
    if "subtle" in parts:
        frame.loc[drifted, "device_trust"] = (frame.loc[drifted, "device_trust"] - 0.03).clip(0, 1)
    if "seasonal" in parts:
        _apply_seasonal_shift(frame, drifted & ~fraud, rng)
    frame["is_fraud"] = fraud.astype("int64")
    return frame


def scenario_parts(scenario: Scenario | tuple[Scenario, ...]) -> frozenset[str]:
    """The elementary shifts a scenario (or a tuple of them) applies: `mixed` is covariate + concept."""
    names = (scenario,) if isinstance(scenario, str) else tuple(scenario)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario {unknown[0]!r}; choose one of {SCENARIOS}, or a tuple of them")
    parts = {part for name in names for part in (("covariate", "concept") if name == "mixed" else (name,))}
    parts.discard("none")
    if {"concept", "card_testing"} <= parts:
        raise ValueError(
            f"scenario {scenario!r} combines concept (or mixed) with card_testing: each redraws part of the "
            "fraud by concept_share; keep one of them"
        )
    return frozenset(parts)


def _features(
    rng: np.random.Generator,
    fraud: np.ndarray,
    adapted: np.ndarray | None,
    concept_share: float = 0.7,
    high_risk_cut: float = 1.41,
) -> dict[str, np.ndarray]:
    """Class-conditional features. `adapted` marks fraud rows that mimic legitimate spending."""
    n = fraud.size
    looks_fraud = fraud.copy()
    if adapted is not None:
        # Concept drift: `concept_share` of fraud after the drift point (70% by default) is drawn
        # from the legitimate profile, except a weak trace in txn_count_24h, so the old decision
        # boundary misses it.
        looks_fraud &= ~(adapted & (rng.random(n) < concept_share))
    legit = ~looks_fraud

    amount = np.where(legit, rng.lognormal(np.log(40), 0.9, n), rng.lognormal(np.log(110), 1.0, n))
    category = np.where(
        legit,
        rng.choice(len(CATEGORIES), n, p=_LEGIT_MIX),
        rng.choice(len(CATEGORIES), n, p=_FRAUD_MIX),
    )
    day_hours = rng.choice(24, n, p=_hour_profile(night_weight=1.0))
    night_hours = rng.choice(24, n, p=_hour_profile(night_weight=3.0))
    hour = np.where(legit, day_hours, night_hours)
    age = np.where(legit, rng.exponential(900, n), rng.exponential(350, n))
    distance = np.where(legit, rng.lognormal(np.log(8), 1.0, n), rng.lognormal(np.log(30), 1.3, n))
    count = np.where(legit, rng.poisson(2, n), rng.poisson(3.5, n))
    if adapted is not None:
        count = count + (fraud & ~looks_fraud) * rng.poisson(1, n)
    present = np.where(legit, rng.random(n) < 0.6, rng.random(n) < 0.35).astype("int64")
    trust = np.where(legit, rng.beta(8, 2, n), rng.beta(4, 4, n))
    # Issuer risk score: noisy view of the true class; the top 8% form the high band.
    score = 1.6 * fraud + rng.normal(0, 1, n)
    band = np.where(score > high_risk_cut, "high", np.where(score > min(0.25, high_risk_cut), "medium", "low"))
    return {
        "amount": np.round(amount, 2),
        "merchant_category": np.asarray(CATEGORIES)[category],
        "hour_of_day": hour.astype("int64"),
        "account_age_days": np.round(age, 1),
        "distance_from_home_km": np.round(distance, 2),
        "txn_count_24h": count.astype("int64"),
        "card_present": present,
        "device_trust": np.round(trust, 4),
        "risk_band": band,
    }


def _hour_profile(night_weight: float) -> np.ndarray:
    hours = np.arange(24)
    weights = 1.0 + np.exp(-((hours - 14) ** 2) / 30.0) * 4.0
    weights[:5] *= night_weight
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def _apply_card_testing(frame: pd.DataFrame, tests: np.ndarray, rng: np.random.Generator) -> None:
    count = int(tests.sum())
    frame.loc[tests, "amount"] = np.round(rng.uniform(0.5, 3.0, count), 2)
    frame.loc[tests, "merchant_category"] = "online"
    frame.loc[tests, "card_present"] = 0
    frame.loc[tests, "txn_count_24h"] = rng.poisson(6, count)


def _apply_seasonal_shift(frame: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator) -> None:
    """Legitimate spending only: nearer home, card present more often, everyday merchants."""
    count = int(rows.sum())
    frame.loc[rows, "distance_from_home_km"] = (frame.loc[rows, "distance_from_home_km"] * 0.4).round(2)
    frame.loc[rows, "card_present"] = (rng.random(count) < 0.85).astype("int64")
    frame.loc[rows, "merchant_category"] = np.asarray(CATEGORIES)[rng.choice(len(CATEGORIES), count, p=_SEASONAL_MIX)]


def _apply_covariate_shift(frame: pd.DataFrame, drifted: np.ndarray, rng: np.random.Generator) -> None:
    frame.loc[drifted, "amount"] = (frame.loc[drifted, "amount"] * 2.5).round(2)
    frame.loc[drifted, "distance_from_home_km"] = (frame.loc[drifted, "distance_from_home_km"] * 3).round(2)
    shifted = rng.choice(len(CATEGORIES), int(drifted.sum()), p=_SHIFTED_MIX)
    frame.loc[drifted, "merchant_category"] = np.asarray(CATEGORIES)[shifted]
    frame.loc[drifted, "device_trust"] = (frame.loc[drifted, "device_trust"] * 0.85).round(4)


def edge_cases() -> pd.DataFrame:
    """Hand-written rows with an unambiguous expected label, for the edge-case gate."""
    rows = [
        # Obvious fraud: large online amount, far from home, new account, untrusted device, night.
        (4200.0, "online", 2, 3.0, 900.0, 11, 0, 0.05, "high", 1),
        (2500.0, "electronics", 3, 10.0, 600.0, 9, 0, 0.10, "high", 1),
        (1800.0, "gaming", 1, 20.0, 450.0, 8, 0, 0.12, "medium", 1),
        (3100.0, "online", 4, 5.0, 1200.0, 14, 0, 0.08, "high", 1),
        # Obvious legitimate: small local card-present grocery spending on an old account.
        (23.5, "grocery", 12, 2400.0, 2.0, 1, 1, 0.95, "low", 0),
        (61.0, "fuel", 8, 1800.0, 4.0, 2, 1, 0.91, "low", 0),
        (14.2, "restaurants", 19, 3100.0, 1.5, 3, 1, 0.97, "low", 0),
        (45.0, "grocery", 17, 1500.0, 6.0, 2, 1, 0.88, "medium", 0),
        # Large but ordinary: travel booking from a trusted long-standing account.
        (1900.0, "travel", 11, 2900.0, 5.0, 1, 0, 0.93, "low", 0),
        (850.0, "electronics", 15, 2200.0, 3.0, 1, 1, 0.90, "low", 0),
    ]
    columns = [
        "amount",
        "merchant_category",
        "hour_of_day",
        "account_age_days",
        "distance_from_home_km",
        "txn_count_24h",
        "card_present",
        "device_trust",
        "risk_band",
        "expected_label",
    ]
    return pd.DataFrame(rows, columns=columns)
