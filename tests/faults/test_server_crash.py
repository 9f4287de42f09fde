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

import logging
from pathlib import Path

import grpc
import pytest

from tests.consistency import assert_ledger_consistent
from tests.faults.load import LedgerLoad
from tests.faults.servers import server_process
from tests.waiting import eventually_blocking
from wallet.v1 import wallet_pb2

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.slow


def test_a_sigkilled_server_restarted_on_the_same_database_loses_and_repeats_nothing(
    database_url: str, customers: list[str], tmp_path: Path
) -> None:
    with server_process(database_url, tmp_path / "server.log") as server:
        load = LedgerLoad(server.address, customers, workers=8, per_worker=60, seed=1).start()
        # Credits never fail, so the load acknowledges at least this many.
        credits = sum(op.entry_type == wallet_pb2.ENTRY_TYPE_CREDIT for op in load.operations)
        for acknowledged in (credits // 5, credits * 3 // 4):
            load.wait_acknowledged(acknowledged, timeout_s=60)
            unavailable = load.failed_attempts[grpc.StatusCode.UNAVAILABLE]
            server.kill()
            # The clients see the dead server (a call fails) before it comes back.
            eventually_blocking(
                lambda: load.failed_attempts[grpc.StatusCode.UNAVAILABLE] != unavailable,  # noqa: B023
                60,
                "a call to fail against the killed server",
            )
            server.start()
        load.join(timeout_s=120)
    outcomes = load.verify_against_ledger(database_url)
    logger.info(f"outcomes {dict(outcomes)}; failed attempts {dict(load.failed_attempts)}")
    # The kills really hit the load: some calls failed and were retried with their keys.
    assert load.failed_attempts[grpc.StatusCode.UNAVAILABLE] > 0, load.failed_attempts
    assert set(load.failed_attempts) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION}, (
        load.failed_attempts
    )
    assert outcomes["OK"] >= credits, outcomes
    assert_ledger_consistent(database_url)
