"""The tables of the event sinks (webhooks, the NATS relay), on the schema's metadata.

Kept apart from `server.store.schema` (which imports this module at its end, so
its `metadata` describes every table). Each sink's position is a stream
position of `wallet_events`: every event up to it is done for that sink.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from server.store.schema import metadata

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Text, nullable=False),
    Column("url", Text, nullable=False),
    # Event type values (server.domain.events.EventType); empty: all.
    Column("event_types", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("description", Text, nullable=False, server_default=text("''")),
    Column("status", Text, nullable=False, server_default=text("'active'")),
    Column("disabled_reason", Text, nullable=False, server_default=text("''")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # Signing secrets, encrypted with the configured key (server/store/secret_box.py); never in clear.
    Column("secret", LargeBinary, nullable=False),
    Column("previous_secret", LargeBinary, nullable=True),
    Column("previous_secret_expires_at", DateTime(timezone=True), nullable=True),
    # Events after start_position are the endpoint's; every one up to last_position is delivered or given up.
    Column("start_position", BigInteger, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    PrimaryKeyConstraint("id", name="webhook_endpoints_pkey"),
    CheckConstraint("status IN ('active', 'disabled')", name="webhook_endpoints_status_known"),
    CheckConstraint("last_position >= start_position", name="webhook_endpoints_position_after_start"),
)

# Every attempt to deliver an event to an endpoint, kept as long as the event is.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("endpoint_id", Text, nullable=False),
    Column("event_position", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("delivered", Boolean, nullable=False),
    PrimaryKeyConstraint("endpoint_id", "event_position", "attempt", name="webhook_deliveries_pkey"),
    ForeignKeyConstraint(
        ["endpoint_id"], ["webhook_endpoints.id"], name="webhook_deliveries_endpoint_fkey", ondelete="CASCADE"
    ),
)

# The positions of the sinks that are not endpoints (the NATS relay: `nats`).
sink_positions = Table(
    "sink_positions",
    metadata,
    Column("sink", Text, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    PrimaryKeyConstraint("sink", name="sink_positions_pkey"),
    CheckConstraint("position >= 0", name="sink_positions_position_nonnegative"),
)
