"""Fixtures of the fault tests: unique customers and the end-of-test ledger check."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def customers() -> list[str]:
    """Four customers no other test touches: enough to spread a load, few enough to contend."""
    run = uuid.uuid4().hex[:10]
    return [f"cus_fault_{run}_{i}" for i in range(4)]
