"""Seeds a long, consistent history straight into the database (much faster than the API)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def seed_credits(database_url: str, customer_id: str, count: int, currency: str = "USD", amount: int = 1) -> None:
    """Gives `customer_id` `count` credits of `amount` minor units with an unbroken before/after chain."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at, last_event_seq)"
            " VALUES (%s, %s, now(), %s)",
            (customer_id, count, count),
        )
        conn.execute(
            "INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at, version)"
            " VALUES (%s, %s, %s, now(), now(), %s)",
            (customer_id, currency, count * amount, count),
        )
        conn.execute(
            """
            INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,
                                        after_balance, reason, metadata, created_at, wallet_version)
            SELECT 'le_seed_' || lpad(g::text, 12, '0'), %(customer_id)s, g, %(currency)s, 'credit', %(amount)s,
                   (g - 1) * %(amount)s, g * %(amount)s,
                   'seed', '{}'::jsonb, now() - make_interval(secs => (%(count)s - g) / 1000.0), g
            FROM generate_series(1, %(count)s) AS g
            """,
            {"customer_id": customer_id, "currency": currency, "count": count, "amount": amount},
        )
        # Each entry's event, as the write path would have written it, placed in the stream as a placer would
        # (under the stream's lock), so that no running server spends its time placing a seeded history.
        row = conn.execute("SELECT last_position FROM event_stream WHERE id = 1 FOR UPDATE").fetchone()
        assert row is not None
        conn.execute(
            """
            INSERT INTO wallet_events (customer_id, seq, position, event_type, currency, occurred_at, entry_id,
                                       wallet_balance, wallet_held, wallet_version, wallet_created_at,
                                       wallet_updated_at)
            SELECT customer_id, seq, %(last)s + seq, 'entry_created', currency, created_at, id, after_balance, 0,
                   wallet_version, created_at, created_at
            FROM ledger_entries WHERE customer_id = %(customer_id)s
            """,
            {"customer_id": customer_id, "last": row[0]},
        )
        conn.execute("UPDATE event_stream SET last_position = last_position + %s WHERE id = 1", (count,))


# One entry of a seeded history: when, which type, how much, and its metadata.
SeededEntry = tuple[datetime, str, int, dict[str, str]]


def seed_history(database_url: str, customer_id: str, entries: Sequence[SeededEntry], currency: str = "USD") -> int:
    """Writes `entries` (in time order, each keeping the balance non-negative) as the customer's one wallet.

    Balances, versions and positions are chained as the server would write
    them. An expiration expires the last credit before it, which must be of
    the same amount: that credit becomes an expiring credit whose lot the
    expiration empties, so the ledger passes the verifier. Returns the final balance.
    """
    assert entries and list(entries) == sorted(entries, key=lambda e: e[0])
    rows: list[list[Any]] = []
    lots, draws, balance, last_credit = [], [], 0, 0
    for seq, (created_at, entry_type, amount, metadata) in enumerate(entries, start=1):
        after = balance + amount if entry_type == "credit" else balance - amount
        assert after >= 0, (seq, balance, entry_type, amount)
        entry_id, expired, expire_time = f"le_h{seq:031x}", None, None
        if entry_type == "credit":
            last_credit = seq
        if entry_type == "expiration":
            credit = rows[last_credit - 1]
            assert last_credit and credit[3] == amount and credit[9] is None, "expire the credit just before it"
            credit[9] = created_at  # the credit's expire_time
            expired = credit[0]
            lots.append((customer_id, last_credit, currency, credit[0], created_at, amount, 0, 0))
            draws.append((customer_id, seq, last_credit, amount))
        row = [entry_id, seq, entry_type, amount, balance, after, Jsonb(metadata), created_at, expired, expire_time]
        rows.append(row)
        balance = after
    first, last = entries[0][0], entries[-1][0]
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at) VALUES (%s, %s, %s)",
            (customer_id, len(entries), last),
        )
        conn.execute(
            "INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at, version)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (customer_id, currency, balance, first, last, len(entries)),
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,"
                " after_balance, reason, metadata, created_at, expired_entry_id, expire_time, wallet_version)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'seeded', %s, %s, %s, %s, %s)",
                [
                    (id_, customer_id, seq, currency, kind, amount, before, after, metadata, at, expired, expires, seq)
                    for id_, seq, kind, amount, before, after, metadata, at, expired, expires in rows
                ],
            )
            cursor.executemany(
                "INSERT INTO credit_lots (customer_id, credit_seq, currency, credit_id, expire_time, amount,"
                " remaining, held) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                lots,
            )
            cursor.executemany(
                "INSERT INTO credit_draws (customer_id, entry_seq, credit_seq, amount) VALUES (%s, %s, %s, %s)", draws
            )
    return balance
