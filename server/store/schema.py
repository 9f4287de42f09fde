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
    PrimaryKeyConstraint("customer_id", "currency", name="wallets_pkey"),
    ForeignKeyConstraint(["customer_id"], ["ledger_heads.customer_id"], name="wallets_customer_fkey"),
    CheckConstraint("balance >= 0", name="wallets_balance_nonnegative"),
    CheckConstraint("currency ~ '^[A-Z]{3}$'", name="wallets_currency_iso4217"),
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
    PrimaryKeyConstraint("customer_id", "seq", name="ledger_entries_pkey"),
    UniqueConstraint("customer_id", "id", name="ledger_entries_customer_id_id_key"),
    ForeignKeyConstraint(
        ["customer_id", "currency"],
        ["wallets.customer_id", "wallets.currency"],
        name="ledger_entries_wallet_fkey",
    ),
    CheckConstraint("seq > 0", name="ledger_entries_seq_positive"),
    CheckConstraint("entry_type IN ('credit', 'debit')", name="ledger_entries_entry_type_known"),
    CheckConstraint("amount > 0 AND amount <= 1000000000000000", name="ledger_entries_amount_range"),
    CheckConstraint("before_balance >= 0 AND after_balance >= 0", name="ledger_entries_balances_nonnegative"),
    CheckConstraint(
        "after_balance = CASE entry_type WHEN 'credit' THEN before_balance + amount ELSE before_balance - amount END",
        name="ledger_entries_balance_arithmetic",
    ),
    CheckConstraint("char_length(reason) <= 1000", name="ledger_entries_reason_length"),
    CheckConstraint(
        "idempotency_key IS NULL OR char_length(idempotency_key) BETWEEN 1 AND 255",
        name="ledger_entries_idempotency_key_length",
    ),
)

Index(
    "ledger_entries_idempotency_key_key",
    ledger_entries.c.customer_id,
    ledger_entries.c.idempotency_key,
    unique=True,
    postgresql_where=ledger_entries.c.idempotency_key.isnot(None),
)

# Ledger rows are facts: triggers refuse UPDATE, DELETE and TRUNCATE of
# ledger_entries whatever the client. Core cannot declare triggers; migration
# 0001 creates them under these names.
APPEND_ONLY_TRIGGERS = ("ledger_entries_append_only", "ledger_entries_no_truncate")
