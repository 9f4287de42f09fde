"""Goal: when PostgreSQL goes away under load, callers get UNAVAILABLE, the server recovers by itself, nothing is lost.

Method: a real server process serves a retrying credit/debit load (see
`tests.faults.load`). In one test its private PostgreSQL is stopped (fast
shutdown, which kills the sessions in flight), kept down for a while, and
started again; in the other, every session of the server is killed with
`pg_terminate_backend`, several times, on a scratch database of the shared
test server. Every failed attempt's status code is recorded: only UNAVAILABLE
(and business refusals) may appear, never UNKNOWN or INTERNAL. Health must say
NOT_SERVING while the database is down and SERVING again afterwards, from the
same process (no restart). Finally every acknowledged request must be in the
ledger exactly once, and the whole ledger consistent.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import psycopg
import pytest

from tests.consistency import assert_ledger_consistent
from tests.database import scratch_database
from tests.faults.load import LedgerLoad
from tests.faults.postgres import private_postgres
from tests.faults.servers import NOT_SERVING, SERVING, server_process, wait_for_health
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.slow

CLEAN_FAILURES = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION}
SERVER_ENV = {
    "WALLET_DB_POOL_TIMEOUT_S": "1",
    "WALLET_DB_CONNECT_TIMEOUT_S": "1",
}


def _balances(address: str, customer_id: str, timeout_s: float = 10.0) -> wallet_pb2.GetBalancesResponse:
    with grpc.insecure_channel(address) as channel:
        response: wallet_pb2.GetBalancesResponse = wallet_pb2_grpc.WalletServiceStub(channel).GetBalances(
            wallet_pb2.GetBalancesRequest(customer_id=customer_id), timeout=timeout_s
        )
        return response


def test_a_postgresql_restart_under_load_gives_unavailable_and_the_pool_recovers_without_a_server_restart(
    customers: list[str], tmp_path: Path
) -> None:
    with private_postgres() as postgres:
        with server_process(postgres.url, tmp_path / "server.log", **SERVER_ENV) as server:
            pid = server.pid
            load = LedgerLoad(server.address, customers, workers=6, per_worker=80, seed=2).start()
            load.wait_acknowledged(60, timeout_s=60)
            postgres.stop("fast")
            down_at = time.monotonic()
            wait_for_health(server.address, NOT_SERVING, timeout_s=10)
            # While the database is down a call fails fast and retryably, not with a hang or INTERNAL.
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as raised:
                _balances(server.address, customers[0])
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, raised.value
            assert time.monotonic() - started < 5
            # Keep it down long enough for the pool's reconnection attempts to back off.
            time.sleep(max(0.0, 3.0 - (time.monotonic() - down_at)))
            postgres.start()
            recovered_in = wait_for_health(server.address, SERVING, timeout_s=30)
            load.join(timeout_s=120)
            # The same process recovered: still running, answering reads.
            assert server.process is not None and server.process.poll() is None and server.pid == pid
            _balances(server.address, customers[0])
            print(f"SERVING again {recovered_in:.1f}s after the restart")
        outcomes = load.verify_against_ledger(postgres.url)
        print(f"outcomes {dict(outcomes)}; failed attempts {dict(load.failed_attempts)}")
        assert load.failed_attempts[grpc.StatusCode.UNAVAILABLE] > 0, load.failed_attempts
        assert set(load.failed_attempts) <= CLEAN_FAILURES, (load.failed_attempts, server.log())
        assert_ledger_consistent(postgres.url)


def _terminate_server_sessions(admin_url: str, database: str) -> int:
    """Kills every session of the wallet server on `database`; returns how many there were."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'wallet-server'",
            (database,),
        ).fetchall()
    return sum(1 for (terminated,) in rows if terminated)


def test_terminated_database_sessions_under_load_give_unavailable_and_the_pool_recovers(
    database_url: str, customers: list[str], tmp_path: Path
) -> None:
    with scratch_database(database_url) as url:
        database = urlsplit(url).path.lstrip("/")
        with server_process(url, tmp_path / "server.log", **SERVER_ENV) as server:
            pid = server.pid
            load = LedgerLoad(server.address, customers, workers=6, per_worker=80, seed=3).start()
            terminated = []
            for round_ in range(1, 5):
                load.wait_acknowledged(80 * round_, timeout_s=60)
                terminated.append(_terminate_server_sessions(database_url, database))
                time.sleep(0.2)
            load.join(timeout_s=120)
            assert all(count > 0 for count in terminated), terminated
            # No restart: the same process is SERVING and answers.
            wait_for_health(server.address, SERVING, timeout_s=10)
            assert server.process is not None and server.process.poll() is None and server.pid == pid
            _balances(server.address, customers[0])
        outcomes = load.verify_against_ledger(url)
        print(f"terminated {terminated}; outcomes {dict(outcomes)}; failed attempts {dict(load.failed_attempts)}")
        assert load.failed_attempts[grpc.StatusCode.UNAVAILABLE] > 0, load.failed_attempts
        assert set(load.failed_attempts) <= CLEAN_FAILURES, (load.failed_attempts, server.log())
        assert_ledger_consistent(url)
