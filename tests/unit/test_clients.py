"""One place creates AWS clients, with the standard retry mode whatever the environment says."""

from __future__ import annotations

import re

import pytest

from pipelines.clients import client
from tests.conftest import ROOT


def test_a_client_retries_in_standard_mode_even_when_the_environment_says_legacy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    made = client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    assert made.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}


def test_no_product_code_creates_a_client_elsewhere() -> None:
    creating = re.compile(r"\bboto3\.client\(|\bsession\.client\(|\bSession\(\)\.client\(")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("pipelines", "stacks", "training_containers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "clients.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if creating.search(line)
    ]
    assert found == []
