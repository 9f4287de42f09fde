"""Goal: more concurrent calls than database connections queue briefly, then fail fast; nothing hangs.

Method: a real server process runs with a one-connection pool
(WALLET_DB_POOL_SIZE=1) and a short pool wait (WALLET_DB_POOL_TIMEOUT_S). A
transaction from outside holds one customer's lock, so a write of that
customer holds the server's only connection for as long as the test likes.
Meanwhile a burst of calls of every RPC for other customers:
- when the lock is released within the pool wait, they queue and succeed;
- when it is not, each fails with UNAVAILABLE (reason SERVER_BUSY) within
  the pool wait plus a margin, never DEADLINE_EXCEEDED and never a hang;
- with a concurrency limit (WALLET_MAX_CONCURRENT_RPCS), calls beyond it fail
  at once with RESOURCE_EXHAUSTED.
Afterwards the blocked write completes, the server serves normally again, and
the ledger is consistent.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest

from tests.consistency import assert_ledger_consistent
from tests.e2e.helpers import DEBIT, entry_request, error_info
from tests.faults.servers import SERVING, health_status, server_process
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.slow

POOL_TIMEOUT_S = 0.5
# Pool wait, plus time to answer, plus slack for a loaded test machine.
FAIL_FAST_S = POOL_TIMEOUT_S + 2.5
SERVER_ENV = {
    "WALLET_DB_POOL_SIZE": "1",
    "WALLET_DB_POOL_TIMEOUT_S": str(POOL_TIMEOUT_S),
    # The held lock must outlast the test's waits rather than time out first.
    "WALLET_LOCK_TIMEOUT_MS": "30000",
    "WALLET_STATEMENT_TIMEOUT_MS": "60000",
}


@contextlib.contextmanager
def _locked_customer(database_url: str, customer_id: str) -> Iterator[psycopg.Connection]:
    """Holds the customer's ledger lock (its head row) until the block ends or the caller rolls back."""
    with psycopg.connect(database_url) as blocker:
        blocker.execute("SELECT 1 FROM ledger_heads WHERE customer_id = %s FOR UPDATE", (customer_id,))
        yield blocker
        blocker.rollback()


def _wait_for_lock_waiter(database_url: str, timeout_s: float = 10.0) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'wallet-server' AND wait_event_type = 'Lock'"
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.02)
    raise AssertionError("the write never waited for the lock")


def _burst(stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, count: int) -> list[Callable[[], Any]]:
    """`count` calls of every RPC for `customer_id`, each a function returning its response."""
    calls: list[Callable[[], Any]] = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            calls.append(lambda: stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id), timeout=20))
        elif kind == 1:
            request = entry_request(customer_id, 5, idempotency_key=f"burst-{i}")
            calls.append(functools.partial(stub.CreateLedgerEntry, request, timeout=20))
        else:
            calls.append(
                lambda: list(
                    stub.ListLedgerEntries(wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id), timeout=20)
                )
            )
    return calls


def _run_timed(calls: list[Callable[[], Any]]) -> list[tuple[grpc.StatusCode, float, str]]:
    """Runs the calls all at once; returns each one's status code, duration and error reason."""

    def timed(call: Callable[[], Any]) -> tuple[grpc.StatusCode, float, str]:
        started = time.monotonic()
        try:
            call()
        except grpc.RpcError as error:
            try:
                reason = error_info(error).reason
            except AssertionError:
                reason = ""
            return error.code(), time.monotonic() - started, reason
        return grpc.StatusCode.OK, time.monotonic() - started, ""

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(calls)) as executor:
        return list(executor.map(timed, calls))


def test_calls_beyond_the_pool_queue_briefly_then_fail_fast_with_unavailable_and_never_hang(
    database_url: str, customers: list[str], tmp_path: Path
) -> None:
    hot, other = customers[0], customers[1]
    with (
        server_process(database_url, tmp_path / "server.log", **SERVER_ENV) as server,
        grpc.insecure_channel(server.address) as channel,
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as background,
    ):
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        stub.CreateLedgerEntry(entry_request(hot, 1_000), timeout=10)
        stub.CreateLedgerEntry(entry_request(other, 1_000), timeout=10)

        # 1. Held for less than the pool wait: the burst queues and succeeds.
        with _locked_customer(database_url, hot) as blocker:
            held = background.submit(stub.CreateLedgerEntry, entry_request(hot, 10, DEBIT, idempotency_key="held-1"))
            _wait_for_lock_waiter(database_url)
            pending = background.submit(_run_timed, _burst(stub, other, 6))
            time.sleep(POOL_TIMEOUT_S / 3)
            blocker.rollback()
            queued = pending.result(timeout=30)
        assert held.result(timeout=30).wallet.balance == 990
        assert [code for code, _, _ in queued] == [grpc.StatusCode.OK] * 6, queued

        # 2. Held for longer: every call of the burst fails fast, retryably.
        with _locked_customer(database_url, hot):
            held = background.submit(stub.CreateLedgerEntry, entry_request(hot, 10, DEBIT, idempotency_key="held-2"))
            _wait_for_lock_waiter(database_url)
            started = time.monotonic()
            refused = _run_timed(_burst(stub, other, 24))
            burst_s = time.monotonic() - started
            # The held write is still waiting: it was not failed by the others.
            assert not held.done()
        assert held.result(timeout=30).wallet.balance == 980
        print(f"burst of {len(refused)} refused in {burst_s:.2f}s: {Counter((c.name, r) for c, _, r in refused)}")
        assert {(code, reason) for code, _, reason in refused} == {(grpc.StatusCode.UNAVAILABLE, "SERVER_BUSY")}
        assert max(seconds for _, seconds, _ in refused) < FAIL_FAST_S, refused

        # 3. Back to normal without a restart.
        assert stub.CreateLedgerEntry(entry_request(other, 1), timeout=10).wallet.balance == 1_000 + 6 // 3 * 5 + 1
    assert_ledger_consistent(database_url)


def test_calls_beyond_the_concurrency_limit_fail_at_once_with_resource_exhausted(
    database_url: str, customers: list[str], tmp_path: Path
) -> None:
    hot, other = customers[0], customers[1]
    with (
        server_process(database_url, tmp_path / "server.log", **SERVER_ENV, WALLET_MAX_CONCURRENT_RPCS="4") as server,
        grpc.insecure_channel(server.address) as channel,
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as background,
    ):
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        stub.CreateLedgerEntry(entry_request(hot, 1_000), timeout=10)
        with _locked_customer(database_url, hot):
            held = background.submit(stub.CreateLedgerEntry, entry_request(hot, 10, DEBIT, idempotency_key="held"))
            _wait_for_lock_waiter(database_url)
            refused = _run_timed(_burst(stub, other, 24))
        assert held.result(timeout=30).wallet.balance == 990
        codes = {code for code, _, _ in refused}
        print(f"burst of {len(refused)}: {Counter((c.name, r) for c, _, r in refused)}")
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes, refused
        assert codes <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE}, refused
        assert max(seconds for _, seconds, _ in refused) < FAIL_FAST_S, refused
        assert stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=hot), timeout=10).wallets
    assert_ledger_consistent(database_url)


def test_a_busy_pool_is_not_reported_as_an_unreachable_database(
    database_url: str, customers: list[str], tmp_path: Path
) -> None:
    hot = customers[0]
    with (
        server_process(database_url, tmp_path / "server.log", **SERVER_ENV) as server,
        grpc.insecure_channel(server.address) as channel,
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as background,
    ):
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        stub.CreateLedgerEntry(entry_request(hot, 1_000), timeout=10)
        statuses = []
        with _locked_customer(database_url, hot):
            held = background.submit(stub.CreateLedgerEntry, entry_request(hot, 10, DEBIT, idempotency_key="held"))
            _wait_for_lock_waiter(database_url)
            # Well past the monitor's 2 s wait for a connection, and a few of its 1 s rounds.
            for _ in range(10):
                time.sleep(0.5)
                statuses.append(health_status(server.address))
        assert held.result(timeout=30).wallet.balance == 990
        log = server.log()
    assert_ledger_consistent(database_url)
    assert "database unreachable" not in log
    assert set(statuses) == {SERVING}, statuses
