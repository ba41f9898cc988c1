"""Alert routes in the config: no credential in it, only where to find one."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pipelines.config import parse_config
from pipelines.errors import ConfigError
from tests.conftest import EXAMPLE_CONFIG


def _with_alerts(alerts: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    raw["alerts"] = alerts
    return raw


def test_a_pagerduty_url_is_refused_with_where_the_key_goes_instead() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_alerts({"pagerduty_events_url": "https://events.pagerduty.com/integration/abc/enqueue"}))
    message = str(caught.value)
    assert "alerts: pagerduty_events_url is no longer read" in message
    assert "alerts.pagerduty.routing_key_secret" in message and "Secrets Manager" in message


@pytest.mark.parametrize(
    "secret",
    ["retraining/pagerduty", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:retraining/pagerduty-AbCdEf"],
)
def test_the_routing_key_is_named_by_secret_name_or_arn(secret: str) -> None:
    config = parse_config(_with_alerts({"pagerduty": {"routing_key_secret": secret, "severity": "critical"}}))
    assert config.alerts.pagerduty is not None
    assert (config.alerts.pagerduty.routing_key_secret, config.alerts.pagerduty.severity) == (secret, "critical")


@pytest.mark.parametrize("secret", ["", "has spaces", "https://events.pagerduty.com/v2/enqueue"])
def test_a_secret_reference_that_names_no_secret_is_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match=r"alerts\.pagerduty\.routing_key_secret"):
        parse_config(_with_alerts({"pagerduty": {"routing_key_secret": secret}}))


def test_a_routing_key_given_where_its_secret_goes_is_refused() -> None:
    with pytest.raises(ConfigError, match="looks like the 32-character routing key itself"):
        parse_config(_with_alerts({"pagerduty": {"routing_key_secret": "R0123456789ABCDEF0123456789ABCDE"}}))
