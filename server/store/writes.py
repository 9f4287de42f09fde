"""The second step of every write batch: write what it decided, in one statement.

Entries and draws are inserted; wallets, heads, lots and holds are upserted
to their final state. Only the parts a batch needs are in its statement (a
plain credit or debit writes entries, wallets and heads), each variant built
once. Each function takes an open psycopg connection whose transaction the
caller (`server.ledger`) owns.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Table

from server.domain.decide import BatchDecision
from server.store.columns import record_type, render, written
from server.store.documents import documents_of
from server.store.schema import (
    credit_draws,
    credit_lots,
    credit_returns,
    holds,
    ledger_entries,
    ledger_heads,
    stored_refusals,
    wallet_events,
    wallets,
)


@dataclass(frozen=True)
class _Part:
    """One table's share of the statement: its rows from a JSON document whose record type is the table's columns.

    `ordered` rows are inserted in key order (the order every writer locks
    them in); `updated` columns are set from the document on a key conflict
    (an upsert); a part that updates nothing is a plain insert.
    """

    table: Table
    alias: str
    without: tuple[str, ...] = ()
    ordered: bool = False
    updated: tuple[str, ...] = ()


_PART_OF = {
    "entries": _Part(ledger_entries, "e"),
    # A wallet is created by its first entry, so a refused debit writes nothing.
    "wallets": _Part(
        wallets,
        "w",
        ordered=True,
        updated=("balance", "updated_at", "held_balance", "version", "low_balance_threshold"),
    ),
    # Every head exists (the batch locked it). An upsert finds each through the key; an UPDATE ... FROM
    # the document was planned as a hash join over every head (1.1 ms a batch at 10,000 customers).
    "heads": _Part(ledger_heads, "h", ordered=True, updated=("last_seq", "last_entry_at", "last_event_seq")),
    "lots": _Part(credit_lots, "l", updated=("remaining", "held")),
    "draws": _Part(credit_draws, "d"),
    "returns": _Part(credit_returns, "r"),
    "refusals": _Part(stored_refusals, "f"),
    # An event's stream position is set after commit (server.store.events).
    "events": _Part(wallet_events, "v", without=("position",)),
    "holds": _Part(
        holds,
        "h",
        updated=("status", "captured_amount", "capture_entry_id", "closed_at", "closed_version"),
    ),
}

# The columns each document carries, in the table's order.
COLUMNS_OF = {name: written(part.table, without=part.without) for name, part in _PART_OF.items()}


def _identifiers(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _part_sql(name: str, part: _Part) -> sql.Composed:
    columns = COLUMNS_OF[name]
    key = [column.name for column in part.table.primary_key.columns]
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT * FROM jsonb_to_recordset({rows}::jsonb) AS {alias}({record})"
    )
    pieces: list[sql.Composable] = [
        statement.format(
            table=sql.Identifier(part.table.name),
            columns=_identifiers(columns),
            rows=sql.Placeholder(name),
            alias=sql.Identifier(part.alias),
            record=record_type(part.table, columns),
        )
    ]
    if part.ordered:
        pieces.append(sql.SQL("ORDER BY {}").format(_identifiers(key)))
    if part.updated:
        sets = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in part.updated)
        pieces.append(sql.SQL("ON CONFLICT ({}) DO UPDATE SET {}").format(_identifiers(key), sets))
    pieces.append(sql.SQL("RETURNING 1"))
    return sql.SQL("\n    ").join(pieces)


# Each part's data-modifying statement, composed once.
_PARTS = {name: _part_sql(name, part) for name, part in _PART_OF.items()}


@functools.lru_cache(maxsize=len(_PARTS) ** 2)
def _statement(parts: tuple[str, ...]) -> str:
    """One data-modifying CTE per part, then a check that each wrote as many rows as it was given.

    The check fails the statement, and so the transaction, when a count
    differs (the text cast to int raises; it is built from the counts, so the
    planner cannot fold it ahead of the CASE). Failing inside the database
    lets the caller queue this statement and the COMMIT together and wait
    once, instead of reading the counts before committing.
    """
    ctes = sql.SQL(",\n").join(
        sql.SQL("{} AS (\n    {}\n)").format(sql.Identifier(name), _PARTS[name]) for name in parts
    )
    counts = [sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(name)) for name in parts]
    same = sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(count, sql.Placeholder(f"{name}_count"))
        for name, count in zip(parts, counts, strict=True)
    )
    differ = sql.SQL(" || ' ' || ").join(
        sql.SQL("{} || {}").format(sql.Literal(f"{name}="), count) for name, count in zip(parts, counts, strict=True)
    )
    check = "SELECT CASE WHEN {same} THEN 0 ELSE ('rows written differ: ' || {differ})::int END"
    return render(sql.SQL("WITH {ctes}\n" + check).format(ctes=ctes, same=same, differ=differ))


def write_statement(decision: BatchDecision) -> tuple[str, dict[str, Any]]:
    """The statement writing the decided rows, and its parameters (the rows, and how many of each)."""
    documents = {name: rows for name, rows in documents_of(decision).items() if rows}
    parts = tuple(name for name in _PARTS if name in documents)
    params: dict[str, Any] = {name: json.dumps(rows) for name, rows in documents.items()}
    params.update({f"{name}_count": len(rows) for name, rows in documents.items()})
    return _statement(parts), params


async def write_batch(conn: psycopg.AsyncConnection[Any], decision: BatchDecision) -> None:
    """Queues the write of the decided rows; the statement fails unless every row is written exactly once.

    In pipeline mode this does not wait: the statement's outcome arrives with
    the COMMIT's, and an error then rolls the transaction back.
    """
    await conn.execute(*write_statement(decision))
