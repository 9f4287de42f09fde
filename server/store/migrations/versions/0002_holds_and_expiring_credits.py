"""Holds and expiring credits: wallet held balance and version, entry expiry/hold links, lots, draws, holds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Upgrades a populated database in place: every existing credit becomes a
credit that never expires (the pool, which needs no rows), every wallet's
version becomes the number of its entries, and every entry's wallet_version
its position among its wallet's entries.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copy of the DDL that server/store/schema.py described when this revision was written.
_COLUMNS = [
    "ALTER TABLE wallets ADD COLUMN held_balance BIGINT DEFAULT 0 NOT NULL",
    "ALTER TABLE wallets ADD COLUMN version BIGINT DEFAULT 0 NOT NULL",
    "ALTER TABLE wallets ADD CONSTRAINT wallets_held_within_balance"
    " CHECK (held_balance >= 0 AND held_balance <= balance)",
    "ALTER TABLE wallets ADD CONSTRAINT wallets_version_nonnegative CHECK (version >= 0)",
    "ALTER TABLE ledger_entries ADD COLUMN expire_time TIMESTAMP WITH TIME ZONE",
    "ALTER TABLE ledger_entries ADD COLUMN hold_id TEXT",
    "ALTER TABLE ledger_entries ADD COLUMN expired_entry_id TEXT",
    "ALTER TABLE ledger_entries ADD COLUMN wallet_version BIGINT DEFAULT 0 NOT NULL",
    "ALTER TABLE ledger_entries ADD COLUMN wallet_held BIGINT DEFAULT 0 NOT NULL",
    "ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_entry_type_known",
    "ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_entry_type_known"
    " CHECK (entry_type IN ('credit', 'debit', 'expiration'))",
    "ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_expire_time_on_credits"
    " CHECK (expire_time IS NULL OR entry_type = 'credit')",
    "ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_hold_id_on_debits"
    " CHECK (hold_id IS NULL OR entry_type = 'debit')",
    "ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_expired_entry_id"
    " CHECK ((expired_entry_id IS NOT NULL) = (entry_type = 'expiration'))",
    "ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_wallet_held_range"
    " CHECK (wallet_held >= 0 AND wallet_held <= after_balance)",
]

# The versions of what exists: a wallet's version counts its entries.
_BACKFILL = [
    "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only",
    """
UPDATE ledger_entries e SET wallet_version = n.position
FROM (
    SELECT customer_id, seq, row_number() OVER (PARTITION BY customer_id, currency ORDER BY seq) AS position
    FROM ledger_entries
) n
WHERE e.customer_id = n.customer_id AND e.seq = n.seq
    """,
    "ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only",
    """
UPDATE wallets w SET version = c.entries
FROM (SELECT customer_id, currency, count(*) AS entries FROM ledger_entries GROUP BY customer_id, currency) c
WHERE w.customer_id = c.customer_id AND w.currency = c.currency
    """,
]

_TABLES = [
    """
CREATE TABLE credit_lots (
    customer_id TEXT NOT NULL,
    credit_seq BIGINT NOT NULL,
    currency TEXT NOT NULL,
    credit_id TEXT NOT NULL,
    expire_time TIMESTAMP WITH TIME ZONE NOT NULL,
    amount BIGINT NOT NULL,
    remaining BIGINT NOT NULL,
    held BIGINT NOT NULL,
    CONSTRAINT credit_lots_pkey PRIMARY KEY (customer_id, credit_seq),
    CONSTRAINT credit_lots_credit_fkey FOREIGN KEY(customer_id, credit_seq)
        REFERENCES ledger_entries (customer_id, seq),
    CONSTRAINT credit_lots_amounts CHECK (0 <= held AND held <= remaining AND remaining <= amount)
)
    """,
    "CREATE INDEX credit_lots_open_idx ON credit_lots (customer_id) WHERE remaining > 0",
    "CREATE INDEX credit_lots_due_idx ON credit_lots (expire_time) WHERE remaining > held",
    """
CREATE TABLE credit_draws (
    customer_id TEXT NOT NULL,
    entry_seq BIGINT NOT NULL,
    credit_seq BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    CONSTRAINT credit_draws_pkey PRIMARY KEY (customer_id, entry_seq, credit_seq),
    CONSTRAINT credit_draws_entry_fkey FOREIGN KEY(customer_id, entry_seq)
        REFERENCES ledger_entries (customer_id, seq),
    CONSTRAINT credit_draws_lot_fkey FOREIGN KEY(customer_id, credit_seq)
        REFERENCES credit_lots (customer_id, credit_seq),
    CONSTRAINT credit_draws_amount_positive CHECK (amount > 0)
)
    """,
    """
CREATE TABLE holds (
    customer_id TEXT NOT NULL,
    id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL,
    captured_amount BIGINT DEFAULT 0 NOT NULL,
    capture_entry_id TEXT,
    reason TEXT DEFAULT '' NOT NULL,
    idempotency_key TEXT,
    metadata JSONB DEFAULT '{}'::jsonb NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    expire_time TIMESTAMP WITH TIME ZONE NOT NULL,
    closed_at TIMESTAMP WITH TIME ZONE,
    created_by TEXT DEFAULT '' NOT NULL,
    ttl_ms BIGINT NOT NULL,
    reservations JSONB NOT NULL,
    CONSTRAINT holds_pkey PRIMARY KEY (customer_id, id),
    CONSTRAINT holds_wallet_fkey FOREIGN KEY(customer_id, currency) REFERENCES wallets (customer_id, currency),
    CONSTRAINT holds_status_known CHECK (status IN ('active', 'captured', 'released', 'expired')),
    CONSTRAINT holds_amount_range CHECK (amount > 0 AND amount <= 1000000000000000),
    CONSTRAINT holds_captured_amount CHECK (captured_amount >= 0 AND captured_amount <= amount
        AND (captured_amount > 0) = (status = 'captured')),
    CONSTRAINT holds_capture_entry CHECK ((capture_entry_id IS NOT NULL) = (status = 'captured')),
    CONSTRAINT holds_closed_at CHECK ((closed_at IS NULL) = (status = 'active')),
    CONSTRAINT holds_expire_time_after_creation CHECK (expire_time > created_at AND ttl_ms > 0),
    CONSTRAINT holds_reason_length CHECK (char_length(reason) <= 1000),
    CONSTRAINT holds_idempotency_key_length CHECK (
        idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 255)
)
    """,
    "CREATE UNIQUE INDEX holds_idempotency_key_key ON holds (customer_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL",
    "CREATE INDEX holds_newest_idx ON holds (customer_id, created_at DESC, id DESC)",
    "CREATE INDEX holds_due_idx ON holds (expire_time) WHERE status = 'active'",
    "CREATE INDEX holds_active_idx ON holds (customer_id, expire_time) WHERE status = 'active'",
]

# Draws are facts like entries: the same function refuses changes, now naming its table.
_APPEND_ONLY = [
    """
CREATE OR REPLACE FUNCTION ledger_entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
    """,
    """
CREATE TRIGGER credit_draws_append_only
    BEFORE UPDATE OR DELETE ON credit_draws
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse_change()
    """,
    """
CREATE TRIGGER credit_draws_no_truncate
    BEFORE TRUNCATE ON credit_draws
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_refuse_change()
    """,
]


def upgrade() -> None:
    for statement in [*_COLUMNS, *_BACKFILL, *_TABLES, *_APPEND_ONLY]:
        op.execute(statement)


def downgrade() -> None:
    # Holds and expirations have no meaning in revision 0001: going back is a restore from backup.
    raise NotImplementedError("revision 0002 cannot be downgraded; restore a backup taken before it")
