"""Seeds a long, consistent history straight into the database (much faster than the API)."""

from __future__ import annotations

import psycopg


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
        # Each entry's event, as the write path would have written it (placed later by a running server).
        conn.execute(
            """
            INSERT INTO wallet_events (customer_id, seq, event_type, currency, occurred_at, entry_id, wallet_balance,
                                       wallet_held, wallet_version, wallet_created_at, wallet_updated_at)
            SELECT customer_id, seq, 'entry_created', currency, created_at, id, after_balance, 0, wallet_version,
                   created_at, created_at
            FROM ledger_entries WHERE customer_id = %(customer_id)s
            """,
            {"customer_id": customer_id},
        )
