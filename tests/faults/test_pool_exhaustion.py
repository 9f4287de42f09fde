"""Goal: more concurrent calls than database connections queue briefly, then fail fast; nothing hangs.

Method: a real server process runs with a one-connection pool
(WALLET_DB_POOL_SIZE=1) and a pool wait (WALLET_DB_POOL_TIMEOUT_S). A
transaction from outside holds one customer's lock, so a write of that
customer holds the server's only connection for as long as the test likes
(`tests.faults.locks`). Meanwhile a burst of calls of every RPC for other
customers is started; a health check on the same connection, answered after
them, shows that the server has taken them in:
- when the lock is released right then, they have waited for the connection
  and all succeed;
- when it is not, each fails with UNAVAILABLE (reason SERVER_BUSY) after the
  pool wait, well within a bound, never DEADLINE_EXCEEDED and never a hang,
  while the held write still waits;
- with a concurrency limit (WALLET_MAX_CONCURRENT_RPCS), calls beyond it fail
  at once with RESOURCE_EXHAUSTED.
Afterwards the blocked write completes, the server serves normally again, and
the ledger is consistent. Health stays SERVING through rounds of its monitor
while the pool is busy.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.consistency import assert_ledger_consistent
from tests.database import scratch_database
from tests.e2e.helpers import DEBIT, entry_request, error_reason
from tests.faults.locks import locked_customer, wait_for_lock_waiter
from tests.faults.servers import SERVING, health_status, server_process
from tests.waiting import eventually_blocking
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.slow

# Long enough for a queued burst to be served once the connection frees, on a loaded machine.
POOL_TIMEOUT_S = 2.0
# A refused call waited for the pool timeout once (in a queue, or for a connection), or
# twice at most (a read taken from its queue just before its timeout then waits for a
# connection). Plus slack for a loaded machine; still far below the calls' deadline.
FAIL_FAST_S = 2 * POOL_TIMEOUT_S + 5.0
CALL_TIMEOUT_S = 30.0
SERVER_ENV = {
    "WALLET_DB_POOL_SIZE": "1",
    "WALLET_DB_POOL_TIMEOUT_S": str(POOL_TIMEOUT_S),
    # The held lock must outlast the test's waits rather than time out first.
    "WALLET_LOCK_TIMEOUT_MS": "60000",
    "WALLET_STATEMENT_TIMEOUT_MS": "60000",
    # Only the calls contend for the one connection: webhook endpoints that earlier tests left on the
    # session's database would otherwise be served by this process's delivery, now and then on it.
    "WALLET_SINKS": "off",
}
OK, UNAVAILABLE = grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE


@dataclass
class _Call:
    """A started call: `outcome()` waits for its status code, duration and ErrorInfo reason."""

    call: Any  # A grpc.Future of a unary call, or the response iterator of the stream.
    stream: bool
    started: float = field(default_factory=time.monotonic)
    ended: float = 0.0
    _done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.call.add_done_callback(self._on_done)

    def _on_done(self, _: object) -> None:
        self.ended = time.monotonic()
        self._done.set()

    def done(self) -> bool:
        return self._done.is_set()

    def outcome(self) -> tuple[grpc.StatusCode, float, str]:
        code, reason = OK, ""
        try:
            list(self.call) if self.stream else self.call.result()
        except grpc.RpcError as error:
            code, reason = error.code(), error_reason(error)
        assert self._done.wait(CALL_TIMEOUT_S)
        return code, self.ended - self.started, reason


def _start_burst(channel: grpc.Channel, customer_id: str, count: int, *, confirm: bool = True) -> list[_Call]:
    """Starts `count` calls of every RPC for `customer_id`; with `confirm`, waits until the server has them.

    The calls share one HTTP/2 connection with a health check started after them;
    the server accepts calls in the order they arrive, so once the check is
    answered, every call of the burst is in the server.
    """
    stub = wallet_pb2_grpc.WalletServiceStub(channel)
    run = uuid.uuid4().hex[:8]
    calls: list[_Call] = []
    for i in range(count):
        if i % 3 == 0:
            request = wallet_pb2.GetBalancesRequest(customer_id=customer_id)
            calls.append(_Call(stub.GetBalances.future(request, timeout=CALL_TIMEOUT_S), stream=False))
        elif i % 3 == 1:
            entry = entry_request(customer_id, 5, idempotency_key=f"burst-{run}-{i}")
            calls.append(_Call(stub.CreateLedgerEntry.future(entry, timeout=CALL_TIMEOUT_S), stream=False))
        else:
            history = wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)
            calls.append(_Call(stub.ListLedgerEntries(history, timeout=CALL_TIMEOUT_S), stream=True))
    if confirm:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S)
    return calls


def _hold(
    executor: concurrent.futures.Executor, stub: wallet_pb2_grpc.WalletServiceStub, database_url: str, customer: str
) -> concurrent.futures.Future[wallet_pb2.CreateLedgerEntryResponse]:
    """Starts a debit of the locked `customer`; returns once it holds the server's only connection."""
    request = entry_request(customer, 10, DEBIT, idempotency_key=f"held-{uuid.uuid4().hex[:8]}")
    held = executor.submit(stub.CreateLedgerEntry, request, timeout=CALL_TIMEOUT_S * 2)
    wait_for_lock_waiter(database_url)
    return held


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
        stub.CreateLedgerEntry(entry_request(hot, 1_000), timeout=CALL_TIMEOUT_S)
        stub.CreateLedgerEntry(entry_request(other, 1_000), timeout=CALL_TIMEOUT_S)

        # 1. The connection frees within the pool wait: the burst, waiting for it, succeeds.
        with locked_customer(database_url, hot) as blocker:
            held = _hold(background, stub, database_url, hot)
            burst = _start_burst(channel, other, 6)
            assert not any(call.done() for call in burst), "a call was served while the only connection was held"
            blocker.rollback()
        queued = [call.outcome() for call in burst]
        assert held.result(timeout=CALL_TIMEOUT_S).wallet.balance == 990
        logger.info(f"queued burst served in {max(seconds for _, seconds, _ in queued):.2f}s at most")
        assert [code for code, _, _ in queued] == [OK] * 6, queued

        # 2. Held for longer: every call of the burst fails after the pool wait, retryably.
        with locked_customer(database_url, hot):
            held = _hold(background, stub, database_url, hot)
            refused = [call.outcome() for call in _start_burst(channel, other, 24)]
            # The held write is still waiting: it was not failed by the others.
            assert not held.done()
        assert held.result(timeout=CALL_TIMEOUT_S).wallet.balance == 980
        slowest = max(seconds for _, seconds, _ in refused)
        logger.info(f"burst refused: {Counter((c.name, r) for c, _, r in refused)}; slowest in {slowest:.2f}s")
        assert {(code, reason) for code, _, reason in refused} == {(UNAVAILABLE, "SERVER_BUSY")}, refused
        # Real time: the pool wait is psycopg_pool's timeout in the server process, not the service's clock.
        assert all(0.9 * POOL_TIMEOUT_S <= seconds < FAIL_FAST_S for _, seconds, _ in refused), refused

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
        stub.CreateLedgerEntry(entry_request(hot, 1_000), timeout=CALL_TIMEOUT_S)
        with locked_customer(database_url, hot):
            held = _hold(background, stub, database_url, hot)
            # Started within milliseconds, while the admitted ones wait for the pool timeout. (No
            # health check to confirm: beyond the limit, it would be refused like the rest.)
            refused = [call.outcome() for call in _start_burst(channel, other, 24, confirm=False)]
        assert held.result(timeout=CALL_TIMEOUT_S).wallet.balance == 990
        logger.info(f"burst of {len(refused)}: {Counter((c.name, r) for c, _, r in refused)}")
        codes = {code for code, _, _ in refused}
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes, refused
        assert codes <= {grpc.StatusCode.RESOURCE_EXHAUSTED, UNAVAILABLE}, refused
        # Real time: the pool wait is psycopg_pool's timeout in the server process, not the service's clock.
        # Beyond the limit at once, without waiting for the pool; admitted ones after the pool wait.
        assert all(
            seconds < POOL_TIMEOUT_S if code == grpc.StatusCode.RESOURCE_EXHAUSTED else seconds >= 0.9 * POOL_TIMEOUT_S
            for code, seconds, _ in refused
        ), refused
        assert max(seconds for _, seconds, _ in refused) < FAIL_FAST_S, refused
        assert stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=hot), timeout=10).wallets
    assert_ledger_consistent(database_url)


def _probe_ran_at(conn: psycopg.Connection) -> object:
    """When the server's health probe (its own session, outside the pool) last finished its query."""
    row = conn.execute(
        "SELECT max(state_change) FROM pg_stat_activity WHERE datname = current_database()"
        " AND query = 'SELECT pg_is_in_recovery()' AND state = 'idle' AND pid <> pg_backend_pid()"
    ).fetchone()
    return row[0] if row else None


def test_a_busy_pool_is_not_reported_as_an_unreachable_database(
    customers: list[str], database_url: str, tmp_path: Path
) -> None:
    hot = customers[0]
    # A database of its own, so that the only `SELECT pg_is_in_recovery()` session on it is this server's health probe.
    with (
        scratch_database(database_url) as url,
        server_process(url, tmp_path / "server.log", **SERVER_ENV) as server,
        grpc.insecure_channel(server.address) as channel,
        concurrent.futures.ThreadPoolExecutor(max_workers=1) as background,
        psycopg.connect(url, autocommit=True) as observer,
    ):
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        stub.CreateLedgerEntry(entry_request(hot, 1_000), timeout=CALL_TIMEOUT_S)
        statuses: list[int | None] = []
        with locked_customer(url, hot):
            held = _hold(background, stub, url, hot)
            # Rounds of the health monitor while the pool is busy: more than its 2 s probe timeout.
            ran_at = [_probe_ran_at(observer)]

            def four_rounds() -> bool:
                if (latest := _probe_ran_at(observer)) not in (None, ran_at[-1]):
                    ran_at.append(latest)
                    statuses.append(health_status(server.address, timeout_s=CALL_TIMEOUT_S))
                return len(statuses) >= 4

            eventually_blocking(four_rounds, 60, "four rounds of the health monitor")
        assert held.result(timeout=CALL_TIMEOUT_S).wallet.balance == 990
        log = server.log()
        assert_ledger_consistent(url)
    assert "database unreachable" not in log
    assert set(statuses) == {SERVING}, statuses
