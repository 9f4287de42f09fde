"""Goal: the ledger check that ends every fault test catches each kind of damage it claims to catch.

Method: a scratch database gets a small consistent ledger through the real
write path (the Ledger use case), passes the check, and is then damaged one
way at a time behind the append-only trigger (switched off as the table
owner): each damage must be reported, naming the bad row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import grpc
import psycopg
import pytest

from server.app import create_server
from server.config import Settings
from tests.consistency import LedgerInconsistent, assert_ledger_consistent, ledger_problems
from tests.database import scratch_database
from tests.e2e.helpers import CREDIT, DEBIT, entry_request
from tests.seeding import seed_credits
from wallet.v1 import wallet_pb2_grpc


@pytest.fixture
def scratch(database_url: str) -> Iterator[str]:
    with scratch_database(database_url) as url:
        seed_credits(url, "cus_a", 5)
        seed_credits(url, "cus_b", 3, currency="INR")
        yield url


def _damage(url: str, *statements: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
        for statement in statements:
            conn.execute(statement)
        conn.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only")


def test_a_consistent_ledger_passes_the_check(scratch: str) -> None:
    assert ledger_problems(scratch) == []
    assert_ledger_consistent(scratch)


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (["UPDATE wallets SET balance = balance + 1 WHERE customer_id = 'cus_a'"], "wallet cus_a/USD: balance"),
        (
            [
                "UPDATE ledger_entries SET before_balance = 10, after_balance = 11"
                " WHERE customer_id = 'cus_b' AND seq = 2"
            ],
            "entry le_seed_000000000002 (customer cus_b, INR, position 2): before_balance 10",
        ),
        (
            [
                "DELETE FROM ledger_entries WHERE customer_id = 'cus_a' AND seq = 5",
                "UPDATE ledger_entries SET seq = 9 WHERE customer_id = 'cus_a' AND seq = 4",
            ],
            "position 9 where 4 was expected",
        ),
        (["UPDATE ledger_heads SET last_seq = 7 WHERE customer_id = 'cus_b'"], "customer cus_b: head says position 7"),
        (
            [
                "UPDATE ledger_entries SET idempotency_key = 'k' WHERE customer_id = 'cus_a' AND seq IN (1, 2)",
                "DROP INDEX ledger_entries_idempotency_key_key",
            ],
            "customer cus_a: idempotency key 'k' was applied 2 times",
        ),
    ],
    ids=["balance off", "chain broken", "seq gap", "head behind", "key twice"],
)
def test_each_kind_of_damage_is_caught_and_the_bad_row_named(scratch: str, damage: list[str], named: str) -> None:
    # The unique index would refuse the duplicate key: drop it before making one.
    _damage(scratch, *sorted(damage, key=lambda s: not s.startswith("DROP")))
    with pytest.raises(LedgerInconsistent, match="inconsistent") as raised:
        assert_ledger_consistent(scratch)
    assert named in str(raised.value)


async def test_entries_written_by_the_server_pass_the_check(database_url: str) -> None:
    """The check agrees with the real write path: coalesced batches, several customers, both currencies."""
    with scratch_database(database_url) as url:
        server, port = await create_server(replace(Settings(), listen_addr="127.0.0.1:0", metrics_addr=""), url)
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = wallet_pb2_grpc.WalletServiceStub(channel)
                for entry_type, amount in ((CREDIT, 100), (DEBIT, 7)):
                    await asyncio.gather(
                        *(
                            stub.CreateLedgerEntry(
                                entry_request(f"cus_{i % 3}", amount + i, entry_type, ("USD", "INR")[i % 2])
                            )
                            for i in range(30)
                        )
                    )
        finally:
            await server.stop(1)
        assert_ledger_consistent(url)
