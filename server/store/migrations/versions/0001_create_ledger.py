"""Create the ledger: ledger_heads, wallets and the append-only ledger_entries.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of the DDL that server/schema.py described when this revision was written.
_TABLES = [
    """
CREATE TABLE ledger_heads (
    customer_id TEXT NOT NULL,
    last_seq BIGINT DEFAULT 0 NOT NULL,
    last_entry_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT ledger_heads_pkey PRIMARY KEY (customer_id),
    CONSTRAINT ledger_heads_customer_id_length CHECK (char_length(customer_id) BETWEEN 1 AND 128),
    CONSTRAINT ledger_heads_last_seq_nonnegative CHECK (last_seq >= 0)
)
    """,
    """
CREATE TABLE wallets (
    customer_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance BIGINT DEFAULT 0 NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT wallets_pkey PRIMARY KEY (customer_id, currency),
    CONSTRAINT wallets_customer_fkey FOREIGN KEY(customer_id) REFERENCES ledger_heads (customer_id),
    CONSTRAINT wallets_balance_nonnegative CHECK (balance >= 0),
    CONSTRAINT wallets_currency_iso4217 CHECK (currency ~ '^[A-Z]{3}$')
)
    """,
    """
CREATE TABLE ledger_entries (
    customer_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    currency TEXT NOT NULL,
    entry_type TEXT NOT NULL,
    amount BIGINT NOT NULL,
    before_balance BIGINT NOT NULL,
    after_balance BIGINT NOT NULL,
    reason TEXT DEFAULT '' NOT NULL,
    idempotency_key TEXT,
    metadata JSONB DEFAULT '{}'::jsonb NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_by TEXT DEFAULT '' NOT NULL,
    CONSTRAINT ledger_entries_pkey PRIMARY KEY (customer_id, seq),
    CONSTRAINT ledger_entries_customer_id_id_key UNIQUE (customer_id, id),
    CONSTRAINT ledger_entries_wallet_fkey FOREIGN KEY(customer_id, currency) REFERENCES wallets (customer_id, currency),
    CONSTRAINT ledger_entries_seq_positive CHECK (seq > 0),
    CONSTRAINT ledger_entries_entry_type_known CHECK (entry_type IN ('credit', 'debit')),
    CONSTRAINT ledger_entries_amount_range CHECK (amount > 0 AND amount <= 1000000000000000),
    CONSTRAINT ledger_entries_balances_nonnegative CHECK (before_balance >= 0 AND after_balance >= 0),
    CONSTRAINT ledger_entries_balance_arithmetic CHECK (after_balance = CASE entry_type
        WHEN 'credit' THEN before_balance + amount ELSE before_balance - amount END),
    CONSTRAINT ledger_entries_reason_length CHECK (char_length(reason) <= 1000),
    CONSTRAINT ledger_entries_idempotency_key_length CHECK (
        idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 255)
)
    """,
    """
CREATE UNIQUE INDEX ledger_entries_idempotency_key_key ON ledger_entries (customer_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL
    """,
]

# Ledger rows are facts: corrections are new entries, never edits. The database
# itself refuses UPDATE, DELETE and TRUNCATE, whatever the client.
_APPEND_ONLY = [
    """
CREATE FUNCTION ledger_entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
    """,
    """
CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse_change()
    """,
    """
CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_refuse_change()
    """,
]


def upgrade() -> None:
    for statement in [*_TABLES, *_APPEND_ONLY]:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE ledger_entries")
    op.execute("DROP FUNCTION ledger_entries_refuse_change()")
    op.execute("DROP TABLE wallets")
    op.execute("DROP TABLE ledger_heads")
