"""The drift monitor's schedule runs on the clock's boundaries, so its windows are the alarm periods."""

from __future__ import annotations

import pytest
import yaml

from pipelines.config import DriftSection, parse_config
from pipelines.errors import ConfigError
from tests.conftest import EXAMPLE_CONFIG


@pytest.mark.parametrize(
    ("schedule", "deployed", "period"),
    [
        ("rate(1 hour)", "cron(15 * * * ? *)", 3600),  # 15 minutes for the last capture files to land
        ("rate(2 hours)", "cron(15 0/2 * * ? *)", 7200),
        ("rate(1 day)", "cron(15 0 * * ? *)", 86_400),
    ],
)
def test_a_rate_is_deployed_as_the_cron_of_the_same_period_on_the_clock(
    schedule: str, deployed: str, period: int
) -> None:
    drift = DriftSection(schedule=schedule)
    assert (drift.monitor_schedule, drift.alarm_period_seconds) == (deployed, period)


def test_a_cron_is_deployed_as_given() -> None:
    drift = DriftSection(schedule="cron(5 * * * ? *)", period_seconds=3600)
    assert drift.monitor_schedule == "cron(5 * * * ? *)"


@pytest.mark.parametrize("schedule", ["rate(15 minutes)", "rate(90 minutes)"])
def test_a_period_of_part_of_an_hour_is_refused_at_its_field(schedule: str) -> None:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["drift"]["schedule"] = schedule
    with pytest.raises(ConfigError, match=r"drift\.schedule: the monitor judges whole hours of data capture"):
        parse_config(raw)


@pytest.mark.parametrize("schedule", ["rate(7 hours)", "rate(2 days)"])
def test_a_rate_that_cannot_align_is_refused_at_its_field(schedule: str) -> None:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["drift"]["schedule"] = schedule
    with pytest.raises(ConfigError, match=r"drift\.schedule: .*cannot run on the clock's boundaries"):
        parse_config(raw)


@pytest.mark.parametrize(
    ("field", "schedule", "message"),
    [
        ("drift", "rate(0 hours)", "at least 1"),
        ("drift", "rate(1 hours)", r"rate\(1 hour\)"),
        ("drift", "cron(hello)", "six fields"),
        ("drift", "cron(0 * * * *)", "six fields"),
        ("drift", "cron(0 * * * * *)", r"\? in day-of-month or day-of-week"),
        ("shadow", "rate(2 hour)", r"rate\(2 hours\)"),
        ("shadow", "rate(0 minutes)", "at least 1"),
        ("shadow", "cron(0 * * * *)", "six fields"),
    ],
)
def test_schedules_eventbridge_refuses_are_refused_at_their_field(field: str, schedule: str, message: str) -> None:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    if field == "drift":
        raw["drift"]["schedule"] = schedule
        where = r"drift\.schedule"
    else:
        raw["promotion"]["shadow"]["evaluation_schedule"] = schedule
        where = r"promotion\.shadow\.evaluation_schedule"
    with pytest.raises(ConfigError, match=rf"{where}: .*{message}"):
        parse_config(raw)


def test_a_period_that_is_not_the_rate_is_refused() -> None:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["drift"]["period_seconds"] = 300
    with pytest.raises(ConfigError, match=r"drift\.period_seconds: .*must be the schedule's interval \(3600 s"):
        parse_config(raw)


def test_the_deployment_timeout_must_outlast_its_waits() -> None:
    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["promotion"]["deployment"].update(
        canary_wait_seconds=3600, termination_wait_seconds=3600, max_execution_seconds=600
    )
    with pytest.raises(ConfigError, match=r"promotion\.deployment\.max_execution_seconds: .*\(7200\)"):
        parse_config(raw)
