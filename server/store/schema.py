"""The database tables, in SQLAlchemy Core: what the statements are built from.

The migrations (`migrations/versions/`) build the real tables, each revision a
frozen step; tests/integration/test_schema_matches_migrations.py holds this
description and the migrated database equal (tables, columns, keys, indexes,
check constraints and the append-only triggers). A schema change is a new
migration plus the same change here.

Every key starts with `customer_id` and every write touches one customer, so
the tables can be distributed by `customer_id` (docs/scaling.md). The rules
of the ledger are constraints here, not only checks in Python.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# One row per customer that has ever been written: the lock every write of
# that customer takes first, and the customer's last history position, so
# positions are handed out in commit order per customer.
ledger_heads = Table(
    "ledger_heads",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("last_seq", BigInteger, nullable=False, server_default=text("0")),
    Column("last_entry_at", DateTime(timezone=True), nullable=True),
    # The customer's last event position (wallet_events.seq), handed out under the same lock.
    Column("last_event_seq", BigInteger, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("customer_id", name="ledger_heads_pkey"),
    CheckConstraint("char_length(customer_id) BETWEEN 1 AND 128", name="ledger_heads_customer_id_length"),
    CheckConstraint("last_seq >= 0", name="ledger_heads_last_seq_nonnegative"),
)

wallets = Table(
    "wallets",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("balance", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The sum of the wallet's active holds, and the count of its changes (Wallet.version).
    Column("held_balance", BigInteger, nullable=False, server_default=text("0")),
    Column("version", BigInteger, nullable=False, server_default=text("0")),
    # The wallet's own low-balance threshold; NULL: the currency's configured default.
    Column("low_balance_threshold", BigInteger, nullable=True),
    PrimaryKeyConstraint("customer_id", "currency", name="wallets_pkey"),
    ForeignKeyConstraint(["customer_id"], ["ledger_heads.customer_id"], name="wallets_customer_fkey"),
    CheckConstraint("balance >= 0", name="wallets_balance_nonnegative"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="wallets_currency_iso4217"),
    CheckConstraint("held_balance >= 0 AND held_balance <= balance", name="wallets_held_within_balance"),
    CheckConstraint("version >= 0", name="wallets_version_nonnegative"),
    CheckConstraint("low_balance_threshold >= 0", name="wallets_low_balance_threshold_nonnegative"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("customer_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("entry_type", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("before_balance", BigInteger, nullable=False),
    Column("after_balance", BigInteger, nullable=False),
    Column("reason", Text, nullable=False, server_default=text("''")),
    Column("idempotency_key", Text, nullable=True),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Text, nullable=False, server_default=text("''")),
    Column("expire_time", DateTime(timezone=True), nullable=True),
    Column("hold_id", Text, nullable=True),
    Column("expired_entry_id", Text, nullable=True),
    # The wallet's version and held balance right after the entry, for replays and the verifier.
    Column("wallet_version", BigInteger, nullable=False, server_default=text("0")),
    Column("wallet_held", BigInteger, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("customer_id", "seq", name="ledger_entries_pkey"),
    UniqueConstraint("customer_id", "id", name="ledger_entries_customer_id_id_key"),
    ForeignKeyConstraint(
        ["customer_id", "currency"],
        ["wallets.customer_id", "wallets.currency"],
        name="ledger_entries_wallet_fkey",
    ),
    CheckConstraint("seq > 0", name="ledger_entries_seq_positive"),
    CheckConstraint("entry_type IN ('credit', 'debit', 'expiration')", name="ledger_entries_entry_type_known"),
    CheckConstraint("amount > 0 AND amount <= 1000000000000000", name="ledger_entries_amount_range"),
    CheckConstraint("before_balance >= 0 AND after_balance >= 0", name="ledger_entries_balances_nonnegative"),
    CheckConstraint(
        "after_balance = CASE entry_type WHEN 'credit' THEN before_balance + amount ELSE before_balance - amount END",
        name="ledger_entries_balance_arithmetic",
    ),
    CheckConstraint("char_length(reason) <= 1000", name="ledger_entries_reason_length"),
    CheckConstraint("expire_time IS NULL OR entry_type = 'credit'", name="ledger_entries_expire_time_on_credits"),
    CheckConstraint("hold_id IS NULL OR entry_type = 'debit'", name="ledger_entries_hold_id_on_debits"),
    CheckConstraint(
        "(expired_entry_id IS NOT NULL) = (entry_type = 'expiration')", name="ledger_entries_expired_entry_id"
    ),
    CheckConstraint("wallet_held >= 0 AND wallet_held <= after_balance", name="ledger_entries_wallet_held_range"),
    CheckConstraint(
        "idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 255",
        name="ledger_entries_idempotency_key_length",
    ),
)

# A wallet's entries in time order, with what a summary sums: the balance as of any instant is one
# probe (the last entry before it), and a summary of a range reads only the range, from the index
# alone unless it breaks debits down by metadata (docs/performance.md says what this costs writes).
Index(
    "ledger_entries_wallet_time_idx",
    ledger_entries.c.customer_id,
    ledger_entries.c.currency,
    ledger_entries.c.created_at,
    postgresql_include=["entry_type", "amount"],
)
Index(
    "ledger_entries_idempotency_key_key",
    ledger_entries.c.customer_id,
    ledger_entries.c.idempotency_key,
    unique=True,
    postgresql_where=ledger_entries.c.idempotency_key.isnot(None),
)

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

# Ledger rows are facts: triggers refuse UPDATE, DELETE and TRUNCATE of
# ledger_entries whatever the client. Core cannot declare triggers; migration
# 0001 creates them under these names.
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

APPEND_ONLY_TRIGGERS = {
    "ledger_entries": ("ledger_entries_append_only", "ledger_entries_no_truncate"),
    "credit_draws": ("credit_draws_append_only", "credit_draws_no_truncate"),
}

# The sinks' tables join `metadata` (imported last: that module builds on this one's metadata).
from server.store import sink_schema as _sink_schema  # noqa: E402, F401
