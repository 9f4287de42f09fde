"""Goal: lose the database primary under load, twice, and lose nothing that was acknowledged.

Method (`make test-failover`, docs/high-availability.md): `make run-ha`'s
setup in a temporary directory (etcd, two Patroni nodes, a primary and a
synchronous standby) and the service on the multi-host URL. Sixteen writers
make keyed credits, debits, holds and captures on 200 customers, retrying
UNAVAILABLE with the same request; one watcher follows every event. The
first failover SIGKILLs the primary's postmaster and all its processes (its
Patroni lives on and must promote the standby, not restart PostgreSQL in
place); once the old primary is back as the synchronous standby (rewound or
cloned again by Patroni), the second SIGKILLs the new primary's node whole,
its Patroni with it, and the leader key must expire first. For each: the
time from the kill to the first acknowledged write whose last attempt began
after it, and the failed attempts meanwhile, printed. Afterwards, on the
final primary: every acknowledged write is in the ledger once, as
acknowledged; refused writes left nothing; every write got an answer;
balances equal their entries and the verifier passes; health went
NOT_SERVING and back to SERVING; the background expirer left no hold active
past its time; every balance and
held amount is what the contract's model (tests/model) makes of the
acknowledged writes; the watcher got every
event exactly once, each customer's in order.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ha.cluster import HaCluster
from tests.consistency import assert_ledger_consistent
from tests.failover.ledger_check import (
    check_balances_with_model,
    check_outcomes_against_ledger,
    check_watched_events,
)
from tests.failover.watcher import AllEventsWatcher, HealthRecorder
from tests.failover.writers import DrillWriters
from tests.faults.servers import NOT_SERVING, SERVING, server_process
from tests.waiting import eventually_blocking

CUSTOMERS = [f"cus_drill_{i:03d}" for i in range(200)]
SERVER_ENV = {
    "WALLET_DB_POOL_TIMEOUT_S": "1",
    "WALLET_DB_CONNECT_TIMEOUT_S": "1",
    # The background passes run often, so the drill sees them carry on across the failovers.
    "WALLET_EXPIRER_INTERVAL_S": "1",
    "WALLET_LOG_LEVEL": "WARNING",
}
# The targets: PostgreSQL dead, its Patroni alive (primary_start_timeout 0); the node dead (ttl 20).
TARGET_POSTGRES_KILLED_S = 5.0
TARGET_NODE_KILLED_S = 30.0
# What a write may be told while the primary is gone: never SERVER_BUSY, INTERNAL or UNKNOWN.
EXPECTED_FAILURES = {"UNAVAILABLE/DATABASE_UNAVAILABLE", "UNAVAILABLE/COMMIT_OUTCOME_UNKNOWN"}
# Writes acknowledged between the steps, so that each failover happens under load.
WRITES_BETWEEN = 300


@dataclass
class Failover:
    what: str
    old_primary: str
    new_primary: str
    to_first_write_s: float
    failed_calls: dict[str, int]

    def report(self) -> str:
        total = sum(self.failed_calls.values())
        return (
            f"{self.what}: {self.old_primary} -> {self.new_primary}, first acknowledged write "
            f"{self.to_first_write_s:.2f}s after the kill; {total} failed attempts meanwhile {self.failed_calls}"
        )


@pytest.fixture
def cluster() -> Iterator[HaCluster]:
    # A short path: each node's Unix socket lives in it.
    base = Path(tempfile.mkdtemp(prefix="wfo-"))
    os.chmod(base, 0o755)
    cluster = HaCluster(base)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def _fail_over(cluster: HaCluster, writers: DrillWriters, *, whole_node: bool) -> Failover:
    old = cluster.primary()
    assert old is not None
    # The instant the last SIGKILL was sent: writes acknowledged before it were the old primary's.
    killed_at = cluster.kill_node(old) if whole_node else cluster.kill_postgres(old)
    new = cluster.wait_for_primary(90, other_than=old)
    eventually_blocking(
        lambda: writers.first_acknowledged_after(killed_at) is not None, 90, "a write acknowledged after the failover"
    )
    first = writers.first_acknowledged_after(killed_at)
    assert first is not None
    failed = writers.failures_between(killed_at, first)
    what = "node killed (Patroni and PostgreSQL)" if whole_node else "PostgreSQL killed (Patroni alive)"
    return Failover(what, old, new, first - killed_at, dict(failed))


def test_the_primary_killed_twice_under_load_loses_no_acknowledged_write_and_no_event(
    cluster: HaCluster, tmp_path: Path
) -> None:
    with server_process(cluster.database_url, tmp_path / "server.log", **SERVER_ENV) as server:
        watcher = AllEventsWatcher(server.address).start()
        health = HealthRecorder(server.address).start()
        writers = DrillWriters(server.address, CUSTOMERS, workers=16).start()
        try:
            writers.wait_acknowledged(WRITES_BETWEEN, timeout_s=120)
            first = _fail_over(cluster, writers, whole_node=False)
            print(first.report())
            # The old primary rejoins as the synchronous standby: only then may the primary fail again.
            assert cluster.wait_for_sync_standby(120) == first.old_primary
            writers.wait_acknowledged(writers.acknowledged + WRITES_BETWEEN, timeout_s=120)
            second = _fail_over(cluster, writers, whole_node=True)
            print(second.report())
            assert second.new_primary == first.old_primary
            writers.wait_acknowledged(writers.acknowledged + WRITES_BETWEEN, timeout_s=120)
        finally:
            writers.stop()
        # The node killed whole comes back, by Patroni's own means, as the standby.
        cluster.start_node(first.new_primary)
        assert cluster.wait_for_sync_standby(120) == first.new_primary
        final = cluster.node_url(second.new_primary)
        health.stop()
        # NOT_SERVING while no primary answered, SERVING again after each failover (the whole-node
        # one lasts the leader key's ttl: the 1 s health probe cannot miss it).
        assert NOT_SERVING in health.statuses() and health.statuses()[-1] == SERVING, health.changes
        # The background expirer carried on after both failovers: no hold is left active long past its
        # expire time (it runs every second; reads settle only their own customer).
        with psycopg.connect(final) as conn:
            overdue = conn.execute(
                "SELECT count(*) FROM holds WHERE status = 'active' AND expire_time < now() - interval '5 seconds'"
            ).fetchone()
        assert overdue == (0,), overdue
        tally = check_outcomes_against_ledger(writers.outcomes, final)
        print(f"writes: {dict(sorted(tally.items()))}")
        assert_ledger_consistent(final)
        check_balances_with_model(writers.outcomes, CUSTOMERS, server.address)
        with psycopg.connect(final) as conn:
            stored_events = conn.execute("SELECT count(*) FROM wallet_events").fetchone()
        assert stored_events is not None
        watcher.wait_for(int(stored_events[0]), timeout_s=60)
        watcher.stop()
        check_watched_events(watcher.events, final)
        print(f"watcher: {len(watcher.events)} events over {watcher.streams} streams, ended with {watcher.ended_with}")
        assert set(watcher.ended_with) <= {"UNAVAILABLE"}, watcher.ended_with
        assert server.process is not None and server.process.poll() is None, "the service restarted"
    assert first.to_first_write_s < TARGET_POSTGRES_KILLED_S, first.report()
    assert second.to_first_write_s < TARGET_NODE_KILLED_S, second.report()
    for failover in (first, second):
        assert set(failover.failed_calls) <= {
            "UNAVAILABLE/DATABASE_UNAVAILABLE",
            "UNAVAILABLE/COMMIT_OUTCOME_UNKNOWN",
        }, failover.report()
