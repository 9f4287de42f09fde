"""The write statement's documents and its record types name the same columns, all taken from the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.domain.decide import BatchDecision
from server.domain.events import Event, EventType
from server.domain.holds import Hold, HoldStatus
from server.domain.model import Draw, Entry, EntryType, Head, Lot, Return, Wallet
from server.domain.refusals import StoredRefusal
from server.store.documents import documents_of
from server.store.rows import ENTRY_COLUMN_LIST, entry_from_row
from server.store.writes import _PARTS, COLUMNS_OF, write_statement

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def one_of_each() -> BatchDecision:
    wallet = Wallet("cus_a", "USD", 100, NOW, NOW, held_balance=10, version=3, low_balance_threshold=5)
    entry = Entry(
        id="le_1",
        customer_id="cus_a",
        seq=1,
        currency="USD",
        entry_type=EntryType.CREDIT,
        amount=100,
        before_balance=0,
        after_balance=100,
        reason="top-up",
        idempotency_key="k1",
        metadata={"m": "1"},
        created_at=NOW,
        created_by="tests",
        expire_time=NOW + timedelta(days=1),
    )
    hold = Hold(
        "hd_1",
        "cus_a",
        "USD",
        10,
        HoldStatus.ACTIVE,
        0,
        "",
        "",
        "k2",
        {},
        NOW,
        NOW + timedelta(minutes=1),
        None,
        "tests",
        timedelta(minutes=1),
        ((1, 10),),
    )
    return BatchDecision(
        entries=[entry],
        events=[Event("cus_a", 1, EventType.ENTRY_CREATED, "USD", NOW, wallet, entry=entry)],
        draws=[Draw("cus_a", 2, 1, 5)],
        returns=[Return("cus_a", 3, 1, 5)],
        refusals=[StoredRefusal("cus_a", "k3", "fp", "INSUFFICIENT_FUNDS", "no", {}, NOW)],
        wallets={("cus_a", "USD"): wallet},
        lots={("cus_a", 1): Lot("cus_a", "USD", 1, "le_1", NOW + timedelta(days=1), 100, 100, 10)},
        holds={("cus_a", "hd_1"): hold},
        heads={"cus_a": Head("cus_a", 3, NOW, 1)},
    )


def test_each_document_carries_exactly_the_columns_its_record_type_declares() -> None:
    documents = documents_of(one_of_each())
    assert set(documents) == set(_PARTS)
    for name, rows in documents.items():
        assert len(rows) == 1, name
        assert set(rows[0]) == set(COLUMNS_OF[name]), name


def test_the_statement_counts_every_part_a_batch_writes() -> None:
    statement, params = write_statement(one_of_each())
    for name in _PARTS:
        assert f"%({name})s::jsonb" in statement
        assert params[f"{name}_count"] == 1


def test_an_entry_read_back_from_its_row_is_the_entry_written() -> None:
    entry = one_of_each().entries[0]
    row = [getattr(entry, name) for name in ENTRY_COLUMN_LIST.names]
    row[ENTRY_COLUMN_LIST.names.index("entry_type")] = entry.entry_type.value
    assert entry_from_row(row) == entry
    assert entry_from_row(row).reversed_amount == 0
