"""The failover drill runs only when asked for (`make test-failover`, `-m failover`): it needs `make run-ha`'s setup."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/failover/" in str(item.fspath):
            item.add_marker(pytest.mark.failover)
