"""Goal: a server killed with SIGKILL in the middle of a write load loses nothing and applies nothing twice.

Method: eight client threads send credits and debits with idempotency keys to
a real server process; once some are acknowledged, the process is SIGKILLed
(twice, at different moments) and started again on the same address and
database. The clients retry every unanswered request with the same key until
it gets an answer. Then every acknowledged request must be in the ledger
exactly once as the entry the caller was told, refused ones nowhere, no key
twice, and the whole ledger consistent.
"""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from tests.consistency import assert_ledger_consistent
from tests.faults.load import LedgerLoad
from tests.faults.servers import server_process

pytestmark = pytest.mark.slow


def test_a_sigkilled_server_restarted_on_the_same_database_loses_and_repeats_nothing(
    database_url: str, customers: list[str], tmp_path: Path
) -> None:
    with server_process(database_url, tmp_path / "server.log") as server:
        load = LedgerLoad(server.address, customers, workers=8, per_worker=60, seed=1).start()
        for acknowledged in (60, 220):
            load.wait_acknowledged(acknowledged, timeout_s=60)
            server.kill()
            # Let the clients see the dead server for a moment before it comes back.
            time.sleep(0.5)
            server.start()
        load.join(timeout_s=120)
    outcomes = load.verify_against_ledger(database_url)
    print(f"outcomes {dict(outcomes)}; failed attempts {dict(load.failed_attempts)}")
    # The kills really hit the load: some calls failed and were retried with their keys.
    assert load.failed_attempts[grpc.StatusCode.UNAVAILABLE] > 0, load.failed_attempts
    assert set(load.failed_attempts) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION}, (
        load.failed_attempts
    )
    assert outcomes["OK"] > 300, outcomes
    assert_ledger_consistent(database_url)
