"""The ledger's own tables: heads, wallets and entries (see `server.store.schema`)."""

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
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from server.store.metadata import metadata

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
    # A reversal (refund or reclaim): the id of the entry it reverses.
    Column("reverses_entry_id", Text, nullable=True),
    PrimaryKeyConstraint("customer_id", "seq", name="ledger_entries_pkey"),
    UniqueConstraint("customer_id", "id", name="ledger_entries_customer_id_id_key"),
    ForeignKeyConstraint(
        ["customer_id", "currency"],
        ["wallets.customer_id", "wallets.currency"],
        name="ledger_entries_wallet_fkey",
    ),
    ForeignKeyConstraint(
        ["customer_id", "reverses_entry_id"],
        ["ledger_entries.customer_id", "ledger_entries.id"],
        name="ledger_entries_reversal_fkey",
    ),
    CheckConstraint("seq > 0", name="ledger_entries_seq_positive"),
    CheckConstraint(
        "reverses_entry_id IS NULL OR entry_type IN ('credit', 'debit')",
        name="ledger_entries_reverses_credits_or_debits",
    ),
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

# Reversals: the sum of an entry's reversals is one probe; reports sum them apart from other entries
# (docs/reversals.md). Both are partial: an entry that reverses nothing costs them nothing.
Index(
    "ledger_entries_reverses_idx",
    ledger_entries.c.customer_id,
    ledger_entries.c.reverses_entry_id,
    postgresql_where=ledger_entries.c.reverses_entry_id.isnot(None),
)
Index(
    "ledger_entries_reversals_time_idx",
    ledger_entries.c.customer_id,
    ledger_entries.c.currency,
    ledger_entries.c.created_at,
    postgresql_include=["entry_type", "amount"],
    postgresql_where=ledger_entries.c.reverses_entry_id.isnot(None),
)
