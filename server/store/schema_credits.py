"""Expiring credits and holds: lots, draws, returns and holds (see `server.store.schema`)."""

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

# The unspent remainder of each expiring credit, and how much of it active
# holds reserve. Credits that never expire have no row: they are one pool per
# wallet, spent oldest first (docs/holds.md).
credit_lots = Table(
    "credit_lots",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("credit_seq", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("credit_id", Text, nullable=False),
    Column("expire_time", DateTime(timezone=True), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("held", BigInteger, nullable=False),
    PrimaryKeyConstraint("customer_id", "credit_seq", name="credit_lots_pkey"),
    ForeignKeyConstraint(
        ["customer_id", "credit_seq"],
        ["ledger_entries.customer_id", "ledger_entries.seq"],
        name="credit_lots_credit_fkey",
    ),
    CheckConstraint("0 <= held AND held <= remaining AND remaining <= amount", name="credit_lots_amounts"),
)
Index("credit_lots_open_idx", credit_lots.c.customer_id, postgresql_where=credit_lots.c.remaining > 0)
Index("credit_lots_due_idx", credit_lots.c.expire_time, postgresql_where=credit_lots.c.remaining > credit_lots.c.held)

# What each debit, capture and expiration took from each expiring credit
# (append-only, like the entries): the verifier checks every lot against it.
credit_draws = Table(
    "credit_draws",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("entry_seq", BigInteger, nullable=False),
    Column("credit_seq", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    PrimaryKeyConstraint("customer_id", "entry_seq", "credit_seq", name="credit_draws_pkey"),
    ForeignKeyConstraint(
        ["customer_id", "entry_seq"],
        ["ledger_entries.customer_id", "ledger_entries.seq"],
        name="credit_draws_entry_fkey",
    ),
    ForeignKeyConstraint(
        ["customer_id", "credit_seq"],
        ["credit_lots.customer_id", "credit_lots.credit_seq"],
        name="credit_draws_lot_fkey",
    ),
    CheckConstraint("amount > 0", name="credit_draws_amount_positive"),
)

# What each refund gave back to each expiring credit (append-only): the reverse of a draw, so a lot's
# remainder is its amount less its draws plus its returns (the verifier checks it).
credit_returns = Table(
    "credit_returns",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("entry_seq", BigInteger, nullable=False),
    Column("credit_seq", BigInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    PrimaryKeyConstraint("customer_id", "entry_seq", "credit_seq", name="credit_returns_pkey"),
    ForeignKeyConstraint(
        ["customer_id", "entry_seq"],
        ["ledger_entries.customer_id", "ledger_entries.seq"],
        name="credit_returns_entry_fkey",
    ),
    ForeignKeyConstraint(
        ["customer_id", "credit_seq"],
        ["credit_lots.customer_id", "credit_lots.credit_seq"],
        name="credit_returns_lot_fkey",
    ),
    CheckConstraint("amount > 0", name="credit_returns_amount_positive"),
)


holds = Table(
    "holds",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("captured_amount", BigInteger, nullable=False, server_default=text("0")),
    Column("capture_entry_id", Text, nullable=True),
    Column("reason", Text, nullable=False, server_default=text("''")),
    Column("idempotency_key", Text, nullable=True),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expire_time", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("created_by", Text, nullable=False, server_default=text("''")),
    Column("ttl_ms", BigInteger, nullable=False),
    # [[credit_seq or 0 for the never-expiring pool, amount], ...]: what the hold reserves.
    Column("reservations", JSONB, nullable=False),
    # The wallet's version right after the hold was made and right after it closed: with the entries'
    # wallet_version, the version as of any instant (GetBalances as_of) without counting events.
    Column("created_version", BigInteger, nullable=False, server_default=text("0")),
    Column("closed_version", BigInteger, nullable=True),
    PrimaryKeyConstraint("customer_id", "id", name="holds_pkey"),
    ForeignKeyConstraint(
        ["customer_id", "currency"], ["wallets.customer_id", "wallets.currency"], name="holds_wallet_fkey"
    ),
    CheckConstraint("status IN ('active', 'captured', 'released', 'expired')", name="holds_status_known"),
    CheckConstraint("amount > 0 AND amount <= 1000000000000000", name="holds_amount_range"),
    CheckConstraint(
        "captured_amount >= 0 AND captured_amount <= amount AND (captured_amount > 0) = (status = 'captured')",
        name="holds_captured_amount",
    ),
    CheckConstraint("(capture_entry_id IS NOT NULL) = (status = 'captured')", name="holds_capture_entry"),
    CheckConstraint("(closed_at IS NULL) = (status = 'active')", name="holds_closed_at"),
    CheckConstraint("(closed_version IS NULL) = (status = 'active')", name="holds_closed_version"),
    CheckConstraint("expire_time > created_at AND ttl_ms > 0", name="holds_expire_time_after_creation"),
    CheckConstraint("char_length(reason) <= 1000", name="holds_reason_length"),
    CheckConstraint(
        "idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 255", name="holds_idempotency_key_length"
    ),
)
Index(
    "holds_idempotency_key_key",
    holds.c.customer_id,
    holds.c.idempotency_key,
    unique=True,
    postgresql_where=holds.c.idempotency_key.isnot(None),
)
Index("holds_newest_idx", holds.c.customer_id, holds.c.created_at.desc(), holds.c.id.desc())
Index("holds_due_idx", holds.c.expire_time, postgresql_where=holds.c.status == "active")
Index("holds_active_idx", holds.c.customer_id, holds.c.expire_time, postgresql_where=holds.c.status == "active")
# A wallet's holds by when they closed, for the version and held balance as of an instant.
Index("holds_closed_idx", holds.c.customer_id, holds.c.currency, holds.c.closed_at)
