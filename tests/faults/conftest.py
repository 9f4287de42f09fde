"""Fixtures of the fault tests: unique customers, the hostile-input server, and no load outliving its test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest

from tests.faults.hostile import hostile_server
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


@pytest.fixture(scope="module")
def channel(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[grpc.Channel]:
    """A channel to a server process of the hostile-input tests, one per test module (its log named after it)."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    with hostile_server(database_url, tmp_path_factory.mktemp(name)) as channel:
        yield channel
