"""The database tables, in SQLAlchemy Core: what the statements are built from.

The migrations (`migrations/versions/`) build the real tables, each revision a
frozen step; tests/integration/test_schema_matches_migrations.py holds this
description and the migrated database equal (tables, columns, keys, indexes,
check constraints and the append-only triggers). The tables are declared in
`schema_ledger` (heads, wallets, entries), `schema_credits` (lots, draws,
returns, holds) and `schema_events` (the outbox, the stream, stored
refusals), all on one `metadata`; this module gathers them. A schema change
is a new migration plus the same change there.

Every key starts with `customer_id` and every write touches one customer, so
the tables can be distributed by `customer_id` (docs/scaling.md). The rules
of the ledger are constraints here, not only checks in Python.
"""

from __future__ import annotations

from server.store.metadata import metadata
from server.store.schema_credits import credit_draws, credit_lots, credit_returns, holds
from server.store.schema_events import event_stream, stored_refusals, wallet_events
from server.store.schema_ledger import ledger_entries, ledger_heads, wallets

__all__ = [
    "APPEND_ONLY_TRIGGERS",
    "credit_draws",
    "credit_lots",
    "credit_returns",
    "event_stream",
    "holds",
    "ledger_entries",
    "ledger_heads",
    "metadata",
    "stored_refusals",
    "wallet_events",
    "wallets",
]

# Ledger rows are facts: triggers refuse UPDATE, DELETE and TRUNCATE of
# ledger_entries whatever the client. Core cannot declare triggers; migration
# 0001 creates them under these names.
APPEND_ONLY_TRIGGERS = {
    "ledger_entries": ("ledger_entries_append_only", "ledger_entries_no_truncate"),
    "credit_draws": ("credit_draws_append_only", "credit_draws_no_truncate"),
    "credit_returns": ("credit_returns_append_only", "credit_returns_no_truncate"),
}

# The sinks' tables join `metadata` (imported last: that module builds on this one's metadata).
from server.store import sink_schema as _sink_schema  # noqa: E402, F401
