"""The registry of hostile-input cases: every RPC with its request strategies, its checks and the
outcomes a run must reach (one parametrized test runs them all, tests/faults/test_hostile_rpcs.py)."""

from __future__ import annotations

from tests.faults import hostile_entries, hostile_holds, hostile_reports, hostile_reversals, hostile_thresholds
from tests.faults.hostile import RpcCase

CASES: list[RpcCase] = [
    *hostile_entries.CASES,
    *hostile_holds.CASES,
    *hostile_reports.CASES,
    *hostile_thresholds.CASES,
    *hostile_reversals.CASES,
]

# The unary RPCs without a case of their own, and why.
NOT_HERE = {
    "BatchCreateLedgerEntries": "its entries are CreateLedgerEntry requests, parsed alike (tests/e2e/test_batches.py)",
    "WatchEvents": "a stream that stays open; its bad requests are in tests/e2e/test_events.py",
    "GetCallerInfo": "its request has no fields (its answers are in tests/e2e/test_caller_info.py)",
}
