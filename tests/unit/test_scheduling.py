"""The suite's own scheduling (tests/scheduling.py): which tests travel together, and which start first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest

from tests.scheduling import BROWSER_TESTS, rank_files, work_unit


@dataclass
class FakeItem:
    nodeid: str
    slow: bool = False

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name == "slow" and self.slow else None


def test_every_browser_test_is_one_unit_and_every_other_test_goes_with_its_file() -> None:
    assert work_unit("tests/console/test_actions.py::test_a") == BROWSER_TESTS
    assert work_unit("tests/console/test_sign_in.py::test_b[x::y]") == BROWSER_TESTS
    assert work_unit("tests/e2e/test_history.py::test_c[p]") == "tests/e2e/test_history.py"


def test_browser_tests_then_files_with_a_slow_test_then_the_rest_each_file_kept_whole_and_in_order() -> None:
    items = [
        FakeItem("tests/unit/test_a.py::one"),
        FakeItem("tests/faults/test_b.py::fast"),
        FakeItem("tests/faults/test_b.py::slow", slow=True),
        FakeItem("tests/console/test_c.py::page"),
        FakeItem("tests/unit/test_a.py::two"),
        FakeItem("tests/e2e/test_d.py::slow", slow=True),
    ]
    rank_files(cast(list[pytest.Item], cast(Any, items)))
    assert [item.nodeid for item in items] == [
        "tests/console/test_c.py::page",
        "tests/faults/test_b.py::fast",
        "tests/faults/test_b.py::slow",
        "tests/e2e/test_d.py::slow",
        "tests/unit/test_a.py::one",
        "tests/unit/test_a.py::two",
    ]
