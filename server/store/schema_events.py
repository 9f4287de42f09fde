"""Events and kept refusals: the outbox, the stream's positions, stored refusals (see `server.store.schema`)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from server.store.metadata import metadata

# The outbox: every change's events, written in the change's transaction.
# `seq` orders a customer's events (handed out under the customer's lock, so
# in commit order); `position` orders the whole stream and is set after
# commit by the sequencer (server.store.events), one transaction at a time,
# so a reader that has seen position p never later finds an event below p.
# The entry and the hold are not copied: an entry never changes and a hold's
# row is final once closed (a HOLD_CREATED event shows it as it was, active).
wallet_events = Table(
    "wallet_events",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=True),
    Column("event_type", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("entry_id", Text, nullable=True),
    Column("hold_id", Text, nullable=True),
    Column("threshold", BigInteger, nullable=False, server_default=text("0")),
    # The wallet as it stood right after the change.
    Column("wallet_balance", BigInteger, nullable=False),
    Column("wallet_held", BigInteger, nullable=False),
    Column("wallet_version", BigInteger, nullable=False),
    Column("wallet_threshold", BigInteger, nullable=True),
    Column("wallet_created_at", DateTime(timezone=True), nullable=True),
    Column("wallet_updated_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("customer_id", "seq", name="wallet_events_pkey"),
    CheckConstraint(
        "event_type IN ('entry_created', 'hold_created', 'hold_captured', 'hold_released', 'hold_expired',"
        " 'balance_low', 'balance_recovered')",
        name="wallet_events_type_known",
    ),
    CheckConstraint("(entry_id IS NOT NULL) = (event_type = 'entry_created')", name="wallet_events_entry_id"),
    CheckConstraint(
        "(hold_id IS NOT NULL) = (event_type IN ('hold_created', 'hold_captured', 'hold_released', 'hold_expired'))",
        name="wallet_events_hold_id",
    ),
    CheckConstraint("position > 0 AND seq > 0", name="wallet_events_positions_positive"),
)
Index("wallet_events_position_key", wallet_events.c.position, unique=True)
Index(
    "wallet_events_unplaced_idx",
    wallet_events.c.customer_id,
    wallet_events.c.seq,
    postgresql_where=wallet_events.c.position.is_(None),
)
Index("wallet_events_customer_position_idx", wallet_events.c.customer_id, wallet_events.c.position)

# One row: the last position handed out, and what retention has removed.
event_stream = Table(
    "event_stream",
    metadata,
    Column("id", BigInteger, nullable=False, autoincrement=False),
    Column("last_position", BigInteger, nullable=False, server_default=text("0")),
    # Events were first written at started_at (an upgraded ledger's older entries have none);
    # retention has removed every event that occurred before retained_after.
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("retained_after", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("id", name="event_stream_pkey"),
    CheckConstraint("id = 1", name="event_stream_one_row"),
    CheckConstraint("last_position >= 0", name="event_stream_last_position_nonnegative"),
)

# A keyed request's refusal, kept under its key so a retry gets it again (domain.refusals); pruned
# after WALLET_REFUSAL_RETENTION_DAYS by created_at.
stored_refusals = Table(
    "stored_refusals",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("customer_id", "idempotency_key", name="stored_refusals_pkey"),
    ForeignKeyConstraint(["customer_id"], ["ledger_heads.customer_id"], name="stored_refusals_customer_fkey"),
    CheckConstraint("char_length(idempotency_key) BETWEEN 1 AND 255", name="stored_refusals_idempotency_key_length"),
)
Index("stored_refusals_created_idx", stored_refusals.c.created_at)
