"""The ledger verifier passes a healthy ledger and names the first bad entry of a corrupted one.

Corruption is done on a database of its own, so no other test sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from server.domain.errors import WalletError
from server.domain.holds import HoldRequest
from server.domain.model import EntryRequest, EntryType
from server.verify import verify
from server.verify.admin import main as admin_main
from tests.database import scratch_database
from tests.ledgers import ledger_on
from tests.seeding import seed_credits


@pytest.fixture
def ledger_copy(database_url: str) -> Iterator[str]:
    """A migrated database of its own (the verifier reads all of it) holding two healthy customers."""
    with scratch_database(database_url) as url:
        seed_credits(url, "cus_good", 50)
        seed_credits(url, "cus_target", 10)
        yield url


def _append(url: str, customer_id: str, seq: int, before: int, after: int, amount: int = 1) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,"
            " after_balance, created_at) VALUES (%s, %s, %s, 'USD', 'credit', %s, %s, %s, now())",
            (f"le_bad_{seq}", customer_id, seq, amount, before, after),
        )


def test_a_healthy_ledger_verifies(ledger_copy: str, capsys: pytest.CaptureFixture[str]) -> None:
    report = verify(ledger_copy)
    assert report.ok and (report.wallets, report.entries) == (2, 60)
    assert admin_main(["verify", "--database-url", ledger_copy]) == 0
    assert "ledger OK" in capsys.readouterr().out


def test_a_balance_that_differs_from_its_entries_is_caught(ledger_copy: str) -> None:
    with psycopg.connect(ledger_copy) as conn:
        conn.execute("UPDATE wallets SET balance = balance + 1 WHERE customer_id = 'cus_target'")
    report = verify(ledger_copy)
    # The first problem names the cause; the never-expiring pool no longer adding up follows from it.
    assert report.problems[0] == (
        "wallet cus_target/USD: balance 11 but its entries sum to 10 (last entry le_seed_000000000010)"
    )
    assert len(report.problems) == 2 and "never-expiring remainder 11" in report.problems[1]


def test_a_broken_before_after_chain_names_the_first_bad_entry(
    ledger_copy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Passes every row constraint (5 + 1 = 6) but does not start where entry 10 ended (10).
    _append(ledger_copy, "cus_target", 11, before=5, after=6)
    _append(ledger_copy, "cus_target", 12, before=6, after=7)
    report = verify(ledger_copy)
    assert report.problems[0].startswith("entry le_bad_11 (customer cus_target, USD, position 11): before_balance 5")
    assert admin_main(["verify", "--database-url", ledger_copy]) == 1
    output = capsys.readouterr().out
    assert "ledger INCONSISTENT" in output and "le_bad_11" in output


def test_a_gap_in_history_positions_is_caught(ledger_copy: str) -> None:
    _append(ledger_copy, "cus_target", 13, before=10, after=11)
    problems = verify(ledger_copy).problems
    assert any("le_bad_13" in p and "position 13 where 11 was expected" in p for p in problems)


async def _hold_and_expiring_credit(url: str) -> None:
    """Through the real write path: an expiring credit of 5 and a hold of 3 for cus_target."""
    async with ledger_on(url) as ledger:
        expires = datetime.now(UTC) + timedelta(days=1)
        credit = EntryRequest("cus_target", "USD", EntryType.CREDIT, 5, "", "", {}, expire_time=expires)
        hold = HoldRequest("cus_target", "USD", 3, "", "", {}, timedelta(minutes=10))
        outcomes = await ledger.transaction.apply([credit, hold])
        assert not any(isinstance(o, WalletError) for o in outcomes), outcomes


@pytest.mark.parametrize(
    ("tampering", "expected"),
    [
        ("UPDATE wallets SET held_balance = held_balance + 1 WHERE customer_id = 'cus_target'", "held_balance 4"),
        ("UPDATE credit_lots SET remaining = remaining - 1 WHERE customer_id = 'cus_target'", "remaining 4"),
        ("UPDATE credit_lots SET held = 0 WHERE customer_id = 'cus_target'", "held 0 but active holds reserve 3"),
        ("UPDATE wallets SET version = version + 1 WHERE customer_id = 'cus_target'", "version 13"),
        (
            "UPDATE holds SET status = 'released', closed_at = now(), closed_version = created_version"
            " WHERE customer_id = 'cus_target'",
            "held_balance 3",
        ),
        ("UPDATE holds SET created_version = 99 WHERE customer_id = 'cus_target'", "made at version 99"),
        (
            "DELETE FROM wallet_events WHERE customer_id = 'cus_target' AND event_type = 'entry_created' AND seq = 1",
            "0 ENTRY_CREATED events",
        ),
        (
            "DELETE FROM wallet_events WHERE customer_id = 'cus_target' AND event_type = 'hold_created'",
            "0 HOLD_CREATED and 0 closing events for a hold active",
        ),
        ("UPDATE ledger_heads SET last_event_seq = 1 WHERE customer_id = 'cus_target'", "is beyond the head's 1"),
    ],
)
def test_holds_lots_versions_and_events_that_disagree_with_the_ledger_are_caught(
    ledger_copy: str, tampering: str, expected: str
) -> None:
    asyncio.run(_hold_and_expiring_credit(ledger_copy))
    assert verify(ledger_copy).ok, verify(ledger_copy).problems
    with psycopg.connect(ledger_copy) as conn:
        conn.execute(tampering)
    problems = verify(ledger_copy).problems
    assert any(expected in p for p in problems), problems
