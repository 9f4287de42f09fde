"""How `make test` spreads the suite over worker processes (pytest-xdist), and in what order.

Most of the suite's time is spent waiting: on server processes that start,
crash and drain, on SIGKILLs and restarts, on a browser. Several workers
overlap those waits on two cores. Two rules keep that overlap good:

- A test file is one unit of work, so its module-scoped fixtures (a server
  process, a hostile-input server) start once; the console's browser tests
  are one unit together, so one Chromium and one console process serve them
  all instead of one per file.
- Heavy units start first: the browser tests, then every file with a test
  marked `slow`, then the rest in collection order. A heavy file handed out
  last would otherwise run alone at the end while the other workers idle.
  The order is set at collection (`rank_files`), so a run without workers
  runs in the same order.
"""

from __future__ import annotations

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

BROWSER_TESTS = "tests/console/"


def work_unit(nodeid: str) -> str:
    """The unit a test is scheduled with: the browser tests together, every other test with its file."""
    path = nodeid.split("::", 1)[0]
    return BROWSER_TESTS if path.startswith(BROWSER_TESTS) else path


def rank_files(items: list[pytest.Item]) -> None:
    """Sorts `items` in place, heavy units first, keeping each unit's tests together and in their order."""
    ranks: dict[str, int] = {}
    for item in items:
        unit = work_unit(item.nodeid)
        rank = 0 if unit == BROWSER_TESTS else 1 if item.get_closest_marker("slow") else 2
        ranks[unit] = min(rank, ranks.get(unit, rank))
    items.sort(key=lambda item: ranks[work_unit(item.nodeid)])


class HeavyFirstScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with `work_unit` as the scope, handing units out in collection order."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        # xdist would otherwise reorder units by their number of tests, which says nothing of their time.
        config.option.loadscopereorder = False
        super().__init__(config, log)

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)
