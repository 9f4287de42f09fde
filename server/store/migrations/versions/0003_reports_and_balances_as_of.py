"""Reports and balances as of an instant: a wallet-and-time index on entries, the wallet version on holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Upgrades a populated database in place. Each existing hold gets the
wallet's version right after the instant it was made and, if closed, the
instant it closed: the number of the wallet's entries and hold events (made,
released, expired) up to that instant, which is how every version so far
was counted (migration 0002 and the write path since).
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copy of the DDL that server/store/schema.py described when this revision was written.
_INDEXES = [
    "CREATE INDEX ledger_entries_wallet_time_idx ON ledger_entries (customer_id, currency, created_at)"
    " INCLUDE (entry_type, amount)",
    "CREATE INDEX holds_closed_idx ON holds (customer_id, currency, closed_at)",
]

_COLUMNS = [
    "ALTER TABLE holds ADD COLUMN created_version BIGINT DEFAULT 0 NOT NULL",
    "ALTER TABLE holds ADD COLUMN closed_version BIGINT",
]

# The version of a wallet right after instant X: its entries and hold events up to X.
_VERSION_AT = """(
    (SELECT count(*) FROM ledger_entries e
     WHERE e.customer_id = h.customer_id AND e.currency = h.currency AND e.created_at <= {at})
  + (SELECT count(*) FROM holds o
     WHERE o.customer_id = h.customer_id AND o.currency = h.currency AND o.created_at <= {at})
  + (SELECT count(*) FROM holds o
     WHERE o.customer_id = h.customer_id AND o.currency = h.currency
       AND o.status IN ('released', 'expired') AND o.closed_at <= {at})
)"""

_BACKFILL = [
    f"UPDATE holds h SET created_version = {_VERSION_AT.format(at='h.created_at')}",
    f"UPDATE holds h SET closed_version = {_VERSION_AT.format(at='h.closed_at')} WHERE h.status <> 'active'",
    "ALTER TABLE holds ADD CONSTRAINT holds_closed_version CHECK ((closed_version IS NULL) = (status = 'active'))",
]


def upgrade() -> None:
    for statement in [*_INDEXES, *_COLUMNS, *_BACKFILL]:
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE holds DROP CONSTRAINT holds_closed_version")
    op.execute("ALTER TABLE holds DROP COLUMN closed_version")
    op.execute("ALTER TABLE holds DROP COLUMN created_version")
    op.execute("DROP INDEX holds_closed_idx")
    op.execute("DROP INDEX ledger_entries_wallet_time_idx")
