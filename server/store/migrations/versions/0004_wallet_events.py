"""Wallet events: the outbox of every change, the stream's positions, low-balance thresholds.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Upgrades a populated database (written by the reports release) in place. Nothing existing changes: changes
made before the upgrade have no events (the stream starts at the upgrade,
which event_stream.started_at records), every customer's event position
starts at 0 and every wallet follows its currency's default threshold.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen copy of the DDL that server/store/schema.py described when this revision was written.
_STATEMENTS = [
    "ALTER TABLE ledger_heads ADD COLUMN last_event_seq BIGINT DEFAULT 0 NOT NULL",
    "ALTER TABLE wallets ADD COLUMN low_balance_threshold BIGINT",
    "ALTER TABLE wallets ADD CONSTRAINT wallets_low_balance_threshold_nonnegative CHECK (low_balance_threshold >= 0)",
    """
CREATE TABLE wallet_events (
    customer_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    position BIGINT,
    event_type TEXT NOT NULL,
    currency TEXT NOT NULL,
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
    entry_id TEXT,
    hold_id TEXT,
    threshold BIGINT DEFAULT 0 NOT NULL,
    wallet_balance BIGINT NOT NULL,
    wallet_held BIGINT NOT NULL,
    wallet_version BIGINT NOT NULL,
    wallet_threshold BIGINT,
    wallet_created_at TIMESTAMP WITH TIME ZONE,
    wallet_updated_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT wallet_events_pkey PRIMARY KEY (customer_id, seq),
    CONSTRAINT wallet_events_type_known CHECK (event_type IN ('entry_created', 'hold_created', 'hold_captured',
        'hold_released', 'hold_expired', 'balance_low', 'balance_recovered')),
    CONSTRAINT wallet_events_entry_id CHECK ((entry_id IS NOT NULL) = (event_type = 'entry_created')),
    CONSTRAINT wallet_events_hold_id CHECK ((hold_id IS NOT NULL) = (event_type IN ('hold_created', 'hold_captured',
        'hold_released', 'hold_expired'))),
    CONSTRAINT wallet_events_positions_positive CHECK (position > 0 AND seq > 0)
)
    """,
    "CREATE UNIQUE INDEX wallet_events_position_key ON wallet_events (position)",
    "CREATE INDEX wallet_events_customer_position_idx ON wallet_events (customer_id, position)",
    "CREATE INDEX wallet_events_unplaced_idx ON wallet_events (customer_id, seq) WHERE position IS NULL",
    """
CREATE TABLE event_stream (
    id BIGINT NOT NULL,
    last_position BIGINT DEFAULT 0 NOT NULL,
    started_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    retained_after TIMESTAMP WITH TIME ZONE,
    CONSTRAINT event_stream_pkey PRIMARY KEY (id),
    CONSTRAINT event_stream_one_row CHECK (id = 1),
    CONSTRAINT event_stream_last_position_nonnegative CHECK (last_position >= 0)
)
    """,
    "INSERT INTO event_stream (id) VALUES (1)",
]


def upgrade() -> None:
    for statement in _STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for statement in [
        "DROP TABLE event_stream",
        "DROP TABLE wallet_events",
        "ALTER TABLE wallets DROP COLUMN low_balance_threshold",
        "ALTER TABLE ledger_heads DROP COLUMN last_event_seq",
    ]:
        op.execute(statement)
