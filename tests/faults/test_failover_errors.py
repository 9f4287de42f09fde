"""Goal: while its database fails over, the service says what happened, precisely and fast, and finds the new primary.

Method: real server processes against real PostgreSQL (the embedded one, no
HA manager needed). A multi-host DATABASE_URL, in both of libpq's forms, whose
first host refuses connections: the server starts, migrates and serves through
the second. A COMMIT left waiting (synchronous_standby_names names a standby
that never comes, so the commit waits for it as it would for a lost one) whose
session is then terminated: the caller is told COMMIT_OUTCOME_UNKNOWN, and the
retry with the same key replays the write, which had committed locally. The
database stopped: every write and read fails UNAVAILABLE DATABASE_UNAVAILABLE
within the pool timeout plus slack, never SERVER_BUSY, never INTERNAL; health
says NOT_SERVING; started again, the same process serves without a restart.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.e2e.helpers import DEBIT, entry_outcome, entry_request, error_reason
from tests.faults.postgres import private_postgres
from tests.faults.servers import NOT_SERVING, SERVING, server_process, wait_for_health
from tests.processes import free_port
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.slow

SERVER_ENV = {"WALLET_DB_POOL_TIMEOUT_S": "1", "WALLET_DB_CONNECT_TIMEOUT_S": "1"}
# The pool timeout, twice (the queue, then the pool), and slack for a loaded 2-core machine.
FAIL_FAST_S = 6.0


def _read(address: str, customer_id: str) -> tuple[grpc.StatusCode, str]:
    with grpc.insecure_channel(address) as channel:
        try:
            wallet_pb2_grpc.WalletServiceStub(channel).GetBalances(
                wallet_pb2.GetBalancesRequest(customer_id=customer_id), timeout=60
            )
        except grpc.RpcError as error:
            return error.code(), error_reason(error)
        return grpc.StatusCode.OK, ""


def _multi_host_urls(database_url: str) -> list[str]:
    """`database_url` behind a host that refuses connections, in libpq's two multi-host forms."""
    params = conninfo_to_dict(database_url)
    host, port = str(params.get("host") or "127.0.0.1"), str(params.get("port") or "5432")
    user, dbname = str(params.get("user", "postgres")), str(params["dbname"])
    password = f":{quote(str(params['password']), safe='')}" if params.get("password") else ""
    dead = free_port()
    return [
        f"postgresql://{user}{password}@127.0.0.1:{dead},{quote(host, safe='')}:{port}/{dbname}"
        "?target_session_attrs=read-write",
        f"postgresql://{user}{password}@/{dbname}?host=127.0.0.1,{quote(host, safe='/')}&port={dead},{port}"
        "&target_session_attrs=read-write",
    ]


@pytest.mark.parametrize("form", [0, 1], ids=["hosts-in-the-authority", "hosts-in-the-query"])
def test_a_multi_host_database_url_starts_the_server_and_it_writes_through_the_reachable_primary(
    database_url: str, tmp_path: Path, form: int
) -> None:
    url = _multi_host_urls(database_url)[form]
    with server_process(url, tmp_path / "server.log", **SERVER_ENV) as server:
        customer = f"cus_multihost_{uuid.uuid4().hex[:12]}"
        assert entry_outcome(server.address, entry_request(customer, 500)) == (grpc.StatusCode.OK, "", False)
        assert _read(server.address, customer) == (grpc.StatusCode.OK, "")


def _end_sessions(conn: psycopg.Connection[Any], where: str) -> int:
    """Terminates the sessions `where` selects and waits until they are gone; returns how many there were."""
    pids = [pid for (pid,) in conn.execute(f"SELECT pid FROM pg_stat_activity WHERE {where}")]
    for pid in pids:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 30
    while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone() != (0,):
        assert time.monotonic() < deadline, "terminated sessions linger"
        time.sleep(0.02)
    return len(pids)


def _set_synchronous_standby(url: str, names: str) -> None:
    """Sets synchronous_standby_names, for sure in every session of the server from now on.

    A reload reaches running sessions at some point; instead, once the postmaster has it
    (a new session sees it), the server's sessions are ended and its pool opens new ones.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
        conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 30
    while True:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SHOW synchronous_standby_names").fetchone()
            if row == (names,):
                _end_sessions(conn, "application_name = 'wallet-server'")
                return
        assert time.monotonic() < deadline, "the configuration was not reloaded"
        time.sleep(0.02)


def test_a_write_whose_connection_dies_during_commit_is_commit_outcome_unknown_and_its_retry_replays_it(
    tmp_path: Path,
) -> None:
    customer = f"cus_commit_{uuid.uuid4().hex[:12]}"
    with private_postgres() as postgres, server_process(postgres.url, tmp_path / "server.log", **SERVER_ENV) as server:
        assert entry_outcome(server.address, entry_request(customer, 1_000))[0] == grpc.StatusCode.OK
        held = entry_request(customer, 300, DEBIT, idempotency_key="debit-mid-commit")
        _set_synchronous_standby(postgres.url, "ghost_standby")
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
            call = executor.submit(entry_outcome, server.address, held)
            # Every COMMIT waiting for the standby is cut: the write's, and the event placement's
            # that may come first (it retries by itself).
            with psycopg.connect(postgres.url, autocommit=True) as conn:
                while not call.done():
                    _end_sessions(conn, "application_name = 'wallet-server' AND wait_event = 'SyncRep'")
                    time.sleep(0.02)
            assert call.result(timeout=60) == (grpc.StatusCode.UNAVAILABLE, "COMMIT_OUTCOME_UNKNOWN", False)
        _set_synchronous_standby(postgres.url, "")
        # It had committed locally: the retry with the same key replays it, and it is in the ledger once.
        # (Retried while UNAVAILABLE, as clients do: the server's sessions were just ended again.)
        deadline = time.monotonic() + 30
        while (answer := entry_outcome(server.address, held))[0] == grpc.StatusCode.UNAVAILABLE:
            assert time.monotonic() < deadline, answer
        assert answer == (grpc.StatusCode.OK, "", True)
        with psycopg.connect(postgres.url) as conn:
            row = conn.execute(
                "SELECT count(*), min(balance) FROM ledger_entries e JOIN wallets w USING (customer_id, currency)"
                " WHERE e.customer_id = %s AND e.idempotency_key = %s",
                (customer, held.idempotency_key),
            ).fetchone()
        assert row == (1, 700), row


def test_while_no_database_is_reachable_every_call_fails_fast_with_database_unavailable_never_server_busy(
    tmp_path: Path,
) -> None:
    customers = [f"cus_down_{uuid.uuid4().hex[:10]}_{i}" for i in range(12)]
    with private_postgres() as postgres, server_process(postgres.url, tmp_path / "server.log", **SERVER_ENV) as server:
        for customer in customers:
            assert entry_outcome(server.address, entry_request(customer, 1_000))[0] == grpc.StatusCode.OK
        postgres.stop("immediate")
        wait_for_health(server.address, NOT_SERVING, timeout_s=30)

        def timed(i: int) -> tuple[tuple[grpc.StatusCode, str], float]:
            started = time.monotonic()
            if i % 3 == 0:
                outcome = _read(server.address, customers[i])
            else:
                outcome = entry_outcome(server.address, entry_request(customers[i], 10, idempotency_key=f"down-{i}"))[
                    :2
                ]
            return outcome, time.monotonic() - started

        # Twelve at once: more than a write batch, so some wait in the queue, as under a real load.
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(customers)) as executor:
            results = list(executor.map(timed, range(len(customers))))
        assert {outcome for outcome, _ in results} == {(grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE")}, results
        assert max(took for _, took in results) < FAIL_FAST_S, results
        postgres.start()
        wait_for_health(server.address, SERVING, timeout_s=30)
        # The same process, no restart: the pool reconnected; the writes refused while down apply now, once.
        for i in range(len(customers)):
            if i % 3:
                request = entry_request(customers[i], 10, idempotency_key=f"down-{i}")
                assert entry_outcome(server.address, request) == (grpc.StatusCode.OK, "", False)
