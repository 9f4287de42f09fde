"""Fixtures of the fault tests: unique customers and the end-of-test ledger check."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.faults.load import stop_all_loads


@pytest.fixture
def customers() -> list[str]:
    """Four customers no other test touches: enough to spread a load, few enough to contend."""
    run = uuid.uuid4().hex[:10]
    return [f"cus_fault_{run}_{i}" for i in range(4)]


@pytest.fixture(autouse=True)
def _no_load_outlives_its_test() -> Iterator[None]:
    yield
    stop_all_loads()
