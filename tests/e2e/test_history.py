"""ListLedgerEntries: order, filters, windows, limits, resuming, and streaming a long history."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from server.app import WalletServer
from server.config import Settings
from tests.database import scratch_database
from tests.e2e.helpers import CREDIT, DEBIT, entry_request
from tests.seeding import seed_credits
from tests.serving import serving
from tests.waiting import eventually
from wallet.v1 import wallet_pb2, wallet_pb2_grpc


async def history(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, **filters: object
) -> list[wallet_pb2.LedgerEntry]:
    request = wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id, **filters)  # type: ignore[arg-type]
    return [entry async for message in stub.ListLedgerEntries(request) for entry in message.entries]


async def make_history(stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str) -> list[wallet_pb2.LedgerEntry]:
    """Six entries: USD +100, INR +500, USD -30, INR -200, USD +7, USD -1."""
    plan = [
        (100, CREDIT, "USD"),
        (500, CREDIT, "INR"),
        (30, DEBIT, "USD"),
        (200, DEBIT, "INR"),
        (7, CREDIT, "USD"),
        (1, DEBIT, "USD"),
    ]
    return [
        (await stub.CreateLedgerEntry(entry_request(customer_id, amount, kind, currency))).entry
        for amount, kind, currency in plan
    ]


async def test_history_streams_entries_oldest_first_across_currencies(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    created = await make_history(stub, customer_id)
    assert await history(stub, customer_id) == created
    assert await history(stub, customer_id, newest_first=True) == created[::-1]


async def test_created_at_never_decreases_along_the_history(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    await asyncio.gather(
        *(stub.CreateLedgerEntry(entry_request(customer_id, 1, currency=c)) for c in ["USD", "INR"] * 20)
    )
    times = [e.created_at.ToNanoseconds() for e in await history(stub, customer_id)]
    assert len(times) == 40
    assert times == sorted(times)


async def test_history_filters_by_currency_and_entry_type(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    created = await make_history(stub, customer_id)
    assert await history(stub, customer_id, currency="INR") == [e for e in created if e.currency == "INR"]
    assert await history(stub, customer_id, entry_type=DEBIT) == [e for e in created if e.entry_type == DEBIT]
    assert await history(stub, customer_id, currency="USD", entry_type=CREDIT, newest_first=True) == [
        e for e in reversed(created) if e.currency == "USD" and e.entry_type == CREDIT
    ]


async def test_time_windows_are_half_open_and_tile_without_overlap(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    created = await make_history(stub, customer_id)
    middle = created[3].created_at
    before = await history(stub, customer_id, created_before=middle)
    after = await history(stub, customer_id, created_after=middle)
    assert before + after == created
    assert after[0].created_at == middle  # created_after is inclusive
    far_future = Timestamp()
    far_future.FromDatetime(middle.ToDatetime() + timedelta(days=1))
    assert await history(stub, customer_id, created_after=far_future) == []


async def test_limit_caps_the_stream_and_zero_means_all(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    created = await make_history(stub, customer_id)
    assert await history(stub, customer_id, limit=2) == created[:2]
    assert await history(stub, customer_id, limit=2, newest_first=True) == created[:-3:-1]
    assert await history(stub, customer_id, limit=0) == created


async def test_resuming_after_an_id_continues_exactly_in_either_order(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    created = await make_history(stub, customer_id)
    assert await history(stub, customer_id, start_after_id=created[1].id) == created[2:]
    assert await history(stub, customer_id, start_after_id=created[4].id, newest_first=True) == created[3::-1]
    assert await history(stub, customer_id, start_after_id=created[-1].id) == []


async def test_an_unknown_customer_has_an_empty_history(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    assert await history(stub, customer_id) == []


@pytest.mark.slow
async def test_a_long_history_streams_complete_and_in_order_in_batches(
    settings: Settings, customer_id: str, database_url: str
) -> None:
    count = 100_000
    # A database and a server of the test's own: the session's database stays small for the verifier
    # runs of every other test.
    with scratch_database(database_url) as own_database:
        await asyncio.to_thread(seed_credits, own_database, customer_id, count)
        async with serving(settings, own_database) as (_, address), grpc.aio.insecure_channel(address) as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            request = wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)
            expected_seq = 0
            messages = 0
            async for message in stub.ListLedgerEntries(request):
                messages += 1
                assert 0 < len(message.entries) <= 1_000
                for entry in message.entries:
                    expected_seq += 1
                    assert entry.after_balance == expected_seq
    assert expected_seq == count
    assert messages >= count // 1_000


async def test_export_resumed_while_both_currencies_are_written_matches_the_final_history(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str
) -> None:
    """Writes to USD and INR of one customer while an export reads in short pieces,
    resuming each time after the last id it got; the result must equal the final history."""
    writes_total = 400

    async def write(currency: str) -> None:
        for _ in range(writes_total // 2):
            await stub.CreateLedgerEntry(entry_request(customer_id, 1, currency=currency))

    writers = asyncio.gather(write("USD"), write("INR"))
    exported: list[wallet_pb2.LedgerEntry] = []

    async def caught_up_after_the_writers() -> bool:
        """Reads the next page; true once a read finds nothing more and the writers are done."""
        done = writers.done()
        piece = await history(stub, customer_id, start_after_id=exported[-1].id if exported else "", limit=7)
        exported.extend(piece)
        return not piece and done

    await eventually(caught_up_after_the_writers, 120, "the export to catch up with the writers", poll_s=0.005)
    await writers
    last_id = exported[-1].id if exported else ""
    exported.extend(await history(stub, customer_id, start_after_id=last_id))
    final = await history(stub, customer_id)
    assert len(final) == writes_total
    assert [e.id for e in exported] == [e.id for e in final]


async def test_cancelling_a_stream_returns_its_database_connection_to_the_pool(
    wallet_server: tuple[WalletServer, str], customer_id: str, database_url: str
) -> None:
    server, address = wallet_server
    await asyncio.to_thread(seed_credits, database_url, customer_id, 20_000)
    async with grpc.aio.insecure_channel(address) as channel:
        call = wallet_pb2_grpc.WalletServiceStub(channel).ListLedgerEntries(
            wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)
        )
        first = await call.read()
        assert len(first.entries) > 0
        call.cancel()

    def every_connection_back() -> bool:
        stats = server.pool.get_stats()
        return stats.get("pool_available", 0) == stats.get("pool_size", -1)

    await eventually(every_connection_back, 30, f"every connection back in the pool: {server.pool.get_stats()}")
