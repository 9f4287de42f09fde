"""The database itself backs the ledger's rules, whatever client writes to it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from server.store.db import migrate
from tests.seeding import seed_credits


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection whose work is rolled back at the end of the test."""
    with psycopg.connect(database_url) as connection:
        yield connection
        connection.rollback()


@pytest.fixture
def seeded(database_url: str, customer_id: str) -> str:
    seed_credits(database_url, customer_id, 3)
    return customer_id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = 999 WHERE customer_id = %(c)s",
        "DELETE FROM ledger_entries WHERE customer_id = %(c)s",
        "TRUNCATE ledger_entries CASCADE",
    ],
)
def test_ledger_entries_refuse_update_delete_and_truncate(
    conn: psycopg.Connection, seeded: str, statement: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute(statement, {"c": seeded})


def _insert_entry(conn: psycopg.Connection, customer_id: str, **overrides: object) -> None:
    row: dict[str, object] = {
        "id": "le_manual",
        "customer_id": customer_id,
        "seq": 4,
        "currency": "USD",
        "entry_type": "credit",
        "amount": 1,
        "before_balance": 3,
        "after_balance": 4,
        "idempotency_key": None,
    }
    row.update(overrides)
    columns = ", ".join(row)
    values = ", ".join(f"%({name})s" for name in row)
    conn.execute(f"INSERT INTO ledger_entries ({columns}, created_at) VALUES ({values}, now())", row)


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": 0, "after_balance": 3},
        {"amount": -1, "after_balance": 2},
        {"amount": 10**15 + 1, "after_balance": 3 + 10**15 + 1},
        {"after_balance": 5},
        {"entry_type": "debit", "amount": 4, "after_balance": -1},
        {"entry_type": "refund"},
        {"idempotency_key": ""},
    ],
)
def test_entries_that_break_a_rule_are_refused_by_check_constraints(
    conn: psycopg.Connection, seeded: str, overrides: dict[str, object]
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        _insert_entry(conn, seeded, **overrides)


def test_an_entry_needs_an_existing_wallet(conn: psycopg.Connection, seeded: str) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _insert_entry(conn, seeded, currency="INR")


def test_a_position_and_an_idempotency_key_are_unique_per_customer(conn: psycopg.Connection, seeded: str) -> None:
    with pytest.raises(psycopg.errors.UniqueViolation):
        _insert_entry(conn, seeded, seq=3)
    conn.rollback()
    _insert_entry(conn, seeded, idempotency_key="k")
    with pytest.raises(psycopg.errors.UniqueViolation):
        _insert_entry(conn, seeded, id="le_other", seq=5, idempotency_key="k", before_balance=4, after_balance=5)


def test_a_wallet_balance_cannot_go_negative(conn: psycopg.Connection, seeded: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE wallets SET balance = -1 WHERE customer_id = %s", (seeded,))


def test_migrating_an_up_to_date_database_changes_nothing(database_url: str) -> None:
    migrate(database_url)
    with psycopg.connect(database_url) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("0003",)]
