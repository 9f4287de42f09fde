"""Reversals (refunds and reclaims linked to what they reverse) and refusals stored under their keys.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Upgrades a populated database (written by the events release) in place.
Nothing existing changes meaning: every existing entry reverses nothing and
has been reversed by nothing, and no refusal was ever stored (refusals made
before the upgrade were not kept, so their keys stay free). The new column
is nullable, so adding it rewrites no row; its constraints hold for every
existing row by construction.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen copy of the DDL that server/store/schema.py described when this revision was written.
_STATEMENTS = [
    "ALTER TABLE ledger_entries ADD COLUMN reverses_entry_id TEXT",
    """ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_reversal_fkey
       FOREIGN KEY (customer_id, reverses_entry_id) REFERENCES ledger_entries (customer_id, id)""",
    """ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_reverses_credits_or_debits
       CHECK (reverses_entry_id IS NULL OR entry_type IN ('credit', 'debit'))""",
    """CREATE INDEX ledger_entries_reverses_idx ON ledger_entries (customer_id, reverses_entry_id)
       WHERE reverses_entry_id IS NOT NULL""",
    """CREATE INDEX ledger_entries_reversals_time_idx ON ledger_entries (customer_id, currency, created_at)
       INCLUDE (entry_type, amount) WHERE reverses_entry_id IS NOT NULL""",
    """
CREATE TABLE credit_returns (
    customer_id TEXT NOT NULL,
    entry_seq BIGINT NOT NULL,
    credit_seq BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    CONSTRAINT credit_returns_pkey PRIMARY KEY (customer_id, entry_seq, credit_seq),
    CONSTRAINT credit_returns_entry_fkey FOREIGN KEY (customer_id, entry_seq)
        REFERENCES ledger_entries (customer_id, seq),
    CONSTRAINT credit_returns_lot_fkey FOREIGN KEY (customer_id, credit_seq)
        REFERENCES credit_lots (customer_id, credit_seq),
    CONSTRAINT credit_returns_amount_positive CHECK (amount > 0)
)
    """,
    """
CREATE TRIGGER credit_returns_append_only
    BEFORE UPDATE OR DELETE ON credit_returns
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse_change()
    """,
    """
CREATE TRIGGER credit_returns_no_truncate
    BEFORE TRUNCATE ON credit_returns
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_refuse_change()
    """,
    """
CREATE TABLE stored_refusals (
    customer_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    metadata JSONB DEFAULT '{}'::jsonb NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT stored_refusals_pkey PRIMARY KEY (customer_id, idempotency_key),
    CONSTRAINT stored_refusals_customer_fkey FOREIGN KEY (customer_id) REFERENCES ledger_heads (customer_id),
    CONSTRAINT stored_refusals_idempotency_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 255)
)
    """,
    "CREATE INDEX stored_refusals_created_idx ON stored_refusals (created_at)",
]


def upgrade() -> None:
    for statement in _STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for statement in [
        "DROP TABLE stored_refusals",
        "DROP TABLE credit_returns",
        "DROP INDEX ledger_entries_reversals_time_idx",
        "DROP INDEX ledger_entries_reverses_idx",
        "ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_reverses_credits_or_debits",
        "ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_reversal_fkey",
        "ALTER TABLE ledger_entries DROP COLUMN reverses_entry_id",
    ]:
        op.execute(statement)
