"""The registry of hostile-input cases: every RPC with its request strategies, its checks and the
outcomes a run must reach (one parametrized test runs them all, tests/faults/test_hostile_rpcs.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.faults import hostile_entries, hostile_holds, hostile_reports, hostile_reversals, hostile_thresholds
from tests.faults.hostile import OK, Drawn, RpcCase, plain, reaching
from wallet.v1 import wallet_pb2


def _caller_info_ok(request: Any, responses: list[bytes]) -> None:
    """With authentication off (as the hostile server runs): no name, and every scope."""
    info = wallet_pb2.GetCallerInfoResponse.FromString(responses[0])
    assert (info.name, list(info.scopes), info.auth_enabled) == ("", sorted(info.scopes), False)
    assert {"wallet.read", "wallet.write", "webhooks.admin"} <= set(info.scopes)


# GetCallerInfo has no fields: its hostile input is the unknown fields every case gets appended.
CALLER_INFO = RpcCase(
    "GetCallerInfo",
    "GetCallerInfo",
    wallet_pb2.GetCallerInfoRequest,
    lambda _: plain(st.just(Drawn(wallet_pb2.GetCallerInfoRequest())), _caller_info_ok),
    reaching(OK),
    max_examples=50,
)

CASES: list[RpcCase] = [
    *hostile_entries.CASES,
    *hostile_holds.CASES,
    *hostile_reports.CASES,
    *hostile_thresholds.CASES,
    *hostile_reversals.CASES,
    CALLER_INFO,
]

# The unary RPCs without a case of their own, and why.
NOT_HERE = {
    "BatchCreateLedgerEntries": "its entries are CreateLedgerEntry requests, parsed alike (tests/e2e/test_batches.py)",
    "WatchEvents": "a stream that stays open; its bad requests are in tests/e2e/test_events.py",
}
