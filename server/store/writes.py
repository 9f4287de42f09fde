"""The write statements of a batch: lock what it touches, then write what it decided.

Each function takes an open psycopg connection whose transaction the caller
(`server.ledger`) owns. The batch statements are SQL text (rows read from a
JSON document, upserts that lock, a data-modifying CTE): Core cannot say them
briefly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from server.domain.decide import BatchDecision, BatchState, KeyRef, WalletKey
from server.domain.model import Head
from server.store.rows import ENTRY_COLUMN_LIST, entry_from_row, isoformat, wallet_from_row

# Batch parameters travel as one JSON document each rather than as arrays:
# psycopg adapts list parameters element by element in Python, which cost
# about ten times what one json.dumps of the same rows costs (measured: 405 µs
# against 39 µs for a batch of 20 entries).

# Creates each customer's head row if needed and locks it, in one round trip.
# Rows are locked in ORDER BY order, the same for every writer, so two batches
# that share customers cannot deadlock. The no-op update is what takes the lock.
_LOCK_HEADS = """
INSERT INTO ledger_heads (customer_id)
SELECT customer_id FROM jsonb_array_elements_text(%(customer_ids)s::jsonb) AS customer_id ORDER BY customer_id
ON CONFLICT (customer_id) DO UPDATE SET last_seq = ledger_heads.last_seq
RETURNING customer_id, last_seq, last_entry_at, clock_timestamp()
"""

_LOCK_WALLETS = """
SELECT customer_id, currency, balance, created_at, updated_at FROM wallets
WHERE (customer_id, currency) IN (
    SELECT pair->>0, pair->>1 FROM jsonb_array_elements(%(wallet_keys)s::jsonb) AS pair
)
ORDER BY customer_id, currency
FOR UPDATE
"""

_SELECT_BY_KEYS = f"""
SELECT {ENTRY_COLUMN_LIST} FROM ledger_entries
WHERE (customer_id, idempotency_key) IN (
    SELECT pair->>0, pair->>1 FROM jsonb_array_elements(%(key_pairs)s::jsonb) AS pair
)
"""

# All the writes of one batch in one statement: the entries, the wallets' new
# balances and the heads' new positions.
_WRITE_BATCH = """
WITH inserted AS (
    INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,
                                after_balance, reason, idempotency_key, metadata, created_at, created_by)
    SELECT id, customer_id, seq, currency, entry_type, amount, before_balance, after_balance, reason,
           idempotency_key, metadata, created_at, created_by
    FROM jsonb_to_recordset(%(entries)s::jsonb)
         AS e(id text, customer_id text, seq bigint, currency text, entry_type text, amount bigint,
              before_balance bigint, after_balance bigint, reason text, idempotency_key text, metadata jsonb,
              created_at timestamptz, created_by text)
    RETURNING 1
), updated_wallets AS (
    -- A wallet is created by its first entry, so a refused debit writes nothing.
    INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at)
    SELECT customer_id, currency, balance, created_at, updated_at
    FROM jsonb_to_recordset(%(wallets)s::jsonb)
         AS w(customer_id text, currency text, balance bigint, created_at timestamptz, updated_at timestamptz)
    ORDER BY 1, 2
    ON CONFLICT (customer_id, currency) DO UPDATE
        SET balance = EXCLUDED.balance, updated_at = EXCLUDED.updated_at
    RETURNING 1
), updated_heads AS (
    UPDATE ledger_heads SET last_seq = h.last_seq, last_entry_at = h.last_entry_at
    FROM jsonb_to_recordset(%(heads)s::jsonb) AS h(customer_id text, last_seq bigint, last_entry_at timestamptz)
    WHERE ledger_heads.customer_id = h.customer_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated_wallets),
       (SELECT count(*) FROM updated_heads)
"""


async def lock_batch(
    conn: psycopg.AsyncConnection[Any],
    customer_ids: Sequence[str],
    wallet_keys: Sequence[WalletKey],
    key_refs: Sequence[KeyRef],
) -> BatchState:
    """Locks the customers' heads (creating them) and their wallets, and reads the entries of the keys.

    The statements travel in one pipeline, so the batch pays one round trip for
    them. Each statement still starts only after the one before it finished, so
    the wallet and key reads take their snapshots with the head locks held and
    see every write committed before.
    """
    async with conn.pipeline():
        heads_cursor = await conn.execute(_LOCK_HEADS, {"customer_ids": json.dumps(list(customer_ids))})
        wallets_cursor = await conn.execute(_LOCK_WALLETS, {"wallet_keys": json.dumps(list(wallet_keys))})
        keys_cursor = None
        if key_refs:
            keys_cursor = await conn.execute(_SELECT_BY_KEYS, {"key_pairs": json.dumps(list(key_refs))})
        head_rows = await heads_cursor.fetchall()
        wallet_rows = await wallets_cursor.fetchall()
        key_rows = await keys_cursor.fetchall() if keys_cursor is not None else []
    assert len(head_rows) == len(customer_ids)
    entries = [entry_from_row(row) for row in key_rows]
    return BatchState(
        now=max(row[3] for row in head_rows),
        heads={row[0]: Head(row[0], row[1], row[2]) for row in head_rows},
        wallets={(row[0], row[1]): wallet_from_row(row) for row in wallet_rows},
        prior={(entry.customer_id, entry.idempotency_key): entry for entry in entries},
    )


def _as_json(decision: BatchDecision) -> dict[str, str]:
    entries = [
        {
            "id": e.id,
            "customer_id": e.customer_id,
            "seq": e.seq,
            "currency": e.currency,
            "entry_type": e.entry_type.value,
            "amount": e.amount,
            "before_balance": e.before_balance,
            "after_balance": e.after_balance,
            "reason": e.reason,
            "idempotency_key": e.idempotency_key or None,
            "metadata": e.metadata,
            "created_at": e.created_at.isoformat(),
            "created_by": e.created_by,
        }
        for e in decision.new_entries
    ]
    wallets = [
        {
            "customer_id": w.customer_id,
            "currency": w.currency,
            "balance": w.balance,
            "created_at": isoformat(w.created_at),
            "updated_at": isoformat(w.updated_at),
        }
        for w in decision.wallets
    ]
    heads = [
        {"customer_id": h.customer_id, "last_seq": h.last_seq, "last_entry_at": isoformat(h.last_entry_at)}
        for h in decision.heads
    ]
    return {"entries": json.dumps(entries), "wallets": json.dumps(wallets), "heads": json.dumps(heads)}


async def write_batch(conn: psycopg.AsyncConnection[Any], decision: BatchDecision) -> None:
    """Inserts the decided entries and stores the wallets' balances and the heads' positions."""
    cursor = await conn.execute(_WRITE_BATCH, _as_json(decision))
    counts = await cursor.fetchone()
    assert counts == (len(decision.new_entries), len(decision.wallets), len(decision.heads)), counts
