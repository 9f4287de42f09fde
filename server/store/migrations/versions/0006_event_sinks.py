"""Event sinks: webhook endpoints, their delivery log, and the positions of the other sinks (NATS).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Upgrades a populated database (written by the reversals release) in place: only
new tables, nothing existing changes. An endpoint receives the events made
after it is created; the NATS relay, on its first run, starts at the end of
the stream as it finds it (docs/webhooks.md, docs/nats.md).
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen copy of the DDL that server/store/sink_schema.py described when this revision was written.
_STATEMENTS = [
    """
CREATE TABLE webhook_endpoints (
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types JSONB DEFAULT '[]'::jsonb NOT NULL,
    description TEXT DEFAULT '' NOT NULL,
    status TEXT DEFAULT 'active' NOT NULL,
    disabled_reason TEXT DEFAULT '' NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    secret BYTEA NOT NULL,
    previous_secret BYTEA,
    previous_secret_expires_at TIMESTAMP WITH TIME ZONE,
    start_position BIGINT NOT NULL,
    last_position BIGINT NOT NULL,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_endpoints_status_known CHECK (status IN ('active', 'disabled')),
    CONSTRAINT webhook_endpoints_position_after_start CHECK (last_position >= start_position)
)
    """,
    """
CREATE TABLE webhook_deliveries (
    endpoint_id TEXT NOT NULL,
    event_position BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    http_status INTEGER NOT NULL,
    error TEXT NOT NULL,
    attempted_at TIMESTAMP WITH TIME ZONE NOT NULL,
    duration_ms BIGINT NOT NULL,
    next_attempt_at TIMESTAMP WITH TIME ZONE,
    delivered BOOLEAN NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (endpoint_id, event_position, attempt),
    CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (endpoint_id)
        REFERENCES webhook_endpoints (id) ON DELETE CASCADE
)
    """,
    """
CREATE TABLE sink_positions (
    sink TEXT NOT NULL,
    position BIGINT NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    CONSTRAINT sink_positions_pkey PRIMARY KEY (sink),
    CONSTRAINT sink_positions_position_nonnegative CHECK (position >= 0)
)
    """,
]


def upgrade() -> None:
    for statement in _STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for statement in ["DROP TABLE sink_positions", "DROP TABLE webhook_deliveries", "DROP TABLE webhook_endpoints"]:
        op.execute(statement)
