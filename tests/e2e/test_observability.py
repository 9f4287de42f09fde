"""Metrics and traces, seen from outside: a scrape over HTTP after known calls, spans read back from memory.

Each test builds its own server (metrics on a port the system picks, so the
counts start at zero and no other test's calls are in them). Traces go to
the SDK's in-memory exporter through a tracer provider handed to the server.
To make a coalesced batch for sure, a test holds one customer's ledger lock
from outside, so the server's first write waits inside its transaction
while the next requests queue behind it; releasing the lock lets them all
go in one batch.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC

import grpc
import pytest
import pytest_asyncio
from google.protobuf.duration_pb2 import Duration
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from server.app import WalletServer, create_server
from server.config import Settings
from tests.e2e.helpers import DEBIT, entry_request
from tests.faults.locks import locked_customer, wait_for_lock_waiter
from tests.seeding import seed_credits
from tests.waiting import eventually, move_past
from wallet.v1 import wallet_pb2, wallet_pb2_grpc
from wallet_client import AsyncWalletClient

CREATE = "wallet.v1.WalletService/CreateLedgerEntry"


async def scrape(server: WalletServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the server's /metrics, fetched over HTTP, keyed by name and labels."""
    assert server.telemetry.endpoint is not None
    url = server.telemetry.endpoint.url
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


@pytest_asyncio.fixture
async def traced() -> AsyncIterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


async def test_a_scrape_after_known_calls_shows_their_exact_counts(
    settings: Settings, database_url: str, customer_id: str
) -> None:
    server, port = await create_server(settings, database_url)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            await stub.CreateLedgerEntry(entry_request(customer_id, 1_000, idempotency_key="welcome"))
            replay = await stub.CreateLedgerEntry(entry_request(customer_id, 1_000, idempotency_key="welcome"))
            assert replay.idempotent_replay
            await stub.CreateLedgerEntry(entry_request(customer_id, 300, DEBIT))
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.CreateLedgerEntry(entry_request(customer_id, 5_000, DEBIT))
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.CreateLedgerEntry(entry_request(customer_id, 0))
            await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
            messages = [
                m async for m in stub.ListLedgerEntries(wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id))
            ]
            assert [len(m.entries) for m in messages] == [2]
        samples = await scrape(server)
    finally:
        await server.stop(1.0)

    create = {"grpc_service": "wallet.v1.WalletService", "grpc_method": "CreateLedgerEntry", "grpc_type": "unary"}
    assert value(samples, "grpc_server_started_total", **create) == 5
    assert value(samples, "grpc_server_handled_total", **create, grpc_code="OK") == 3
    assert value(samples, "grpc_server_handled_total", **create, grpc_code="FAILED_PRECONDITION") == 1
    assert value(samples, "grpc_server_handled_total", **create, grpc_code="INVALID_ARGUMENT") == 1
    assert value(samples, "grpc_server_handling_seconds_count", **create) == 5
    assert value(samples, "grpc_server_handled_total", grpc_method="GetBalances", grpc_code="OK") == 1
    listing = {"grpc_method": "ListLedgerEntries", "grpc_type": "server_stream"}
    assert value(samples, "grpc_server_handled_total", **listing, grpc_code="OK") == 1
    assert value(samples, "grpc_server_msg_sent_total", **listing) == 1
    assert value(samples, "wallet_refusals_total", reason="INSUFFICIENT_WALLET_FUNDS") == 1
    assert value(samples, "wallet_refusals_total", reason="INVALID_ARGUMENT") == 1
    assert value(samples, "wallet_refusals_total") == 2
    assert value(samples, "wallet_entries_total", currency="USD", entry_type="credit") == 1
    assert value(samples, "wallet_entries_total", currency="USD", entry_type="debit") == 1
    assert value(samples, "wallet_entries_total") == 2
    assert value(samples, "wallet_idempotent_replays_total") == 1
    # Four writes reached the ledger one after another (the invalid one never did): four batches of one.
    assert value(samples, "wallet_write_batch_size_count") == 4
    assert value(samples, "wallet_write_batch_size_sum") == 4
    assert value(samples, "wallet_write_queue_seconds_count") == 4
    assert value(samples, "wallet_write_transaction_seconds_count") == 4
    assert value(samples, "wallet_write_queue_depth") == 0
    assert value(samples, "wallet_export_entries_total") == 2
    assert value(samples, "wallet_db_pool_connections", state="waiting") == 0
    assert value(samples, "wallet_db_pool_connections", state="idle") >= 1
    assert ("process_cpu_seconds_total", frozenset()) in samples
    assert not any("cus_" in label for (_, labels) in samples for _, label in labels)


async def test_watchers_and_the_events_delivered_to_them_are_counted(
    settings: Settings, database_url: str, customer_id: str
) -> None:
    server, port = await create_server(settings, database_url)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            watches = [stub.WatchEvents(wallet_pb2.WatchEventsRequest(customer_id=customer_id)) for _ in range(2)]
            for watch in watches:
                assert list((await watch.read()).events) == []  # live
            await stub.CreateLedgerEntry(entry_request(customer_id, 10))
            await stub.CreateLedgerEntry(entry_request(customer_id, 20))
            for watch in watches:
                received: list[wallet_pb2.WalletEvent] = []
                while len(received) < 2:
                    received.extend((await asyncio.wait_for(watch.read(), 30)).events)
            open_samples = await scrape(server)
            for watch in watches:
                watch.cancel()
            await eventually(lambda: server.ledger.events.watchers == 0, 30, "the watches to close")
        closed_samples = await scrape(server)
    finally:
        await server.stop(1.0)
    assert value(open_samples, "wallet_event_watchers") == 2
    assert value(open_samples, "wallet_events_delivered_total") == 4
    assert value(open_samples, "wallet_event_delivery_seconds_count") == 4
    handled = {"grpc_method": "WatchEvents", "grpc_type": "server_stream"}
    assert value(open_samples, "grpc_server_started_total", **handled) == 2
    assert value(closed_samples, "wallet_event_watchers") == 0


async def test_holds_are_counted_by_outcome_once_each_and_replays_are_not(
    settings: Settings, database_url: str, customer_id: str
) -> None:
    server, port = await create_server(settings, database_url)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            await stub.CreateLedgerEntry(entry_request(customer_id, 1_000))
            captured = await stub.CreateHold(hold(customer_id, 400, ttl_s=600))
            capture = wallet_pb2.CaptureHoldRequest(customer_id=customer_id, hold_id=captured.hold.id, amount=150)
            await stub.CaptureHold(capture)
            assert (await stub.CaptureHold(capture)).idempotent_replay
            released = await stub.CreateHold(hold(customer_id, 100, ttl_s=600))
            await stub.ReleaseHold(wallet_pb2.ReleaseHoldRequest(customer_id=customer_id, hold_id=released.hold.id))
            expiring = await stub.CreateHold(hold(customer_id, 50, ttl_s=1))
            # The clock moves past the hold's expiry, then a read posts it.
            move_past(server.ledger.clock, expiring.hold.expire_time.ToDatetime(UTC))
            await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
        samples = await scrape(server)
    finally:
        await server.stop(1.0)

    assert value(samples, "wallet_holds_total", outcome="created") == 3
    assert value(samples, "wallet_holds_total", outcome="captured") == 1
    assert value(samples, "wallet_holds_total", outcome="released") == 1
    assert value(samples, "wallet_holds_total", outcome="expired") == 1
    assert value(samples, "wallet_idempotent_replays_total") == 1
    # The credit, and the capture's debit.
    assert value(samples, "wallet_entries_total", entry_type="credit") == 1
    assert value(samples, "wallet_entries_total", entry_type="debit") == 1


def hold(customer_id: str, amount: int, ttl_s: int) -> wallet_pb2.CreateHoldRequest:
    return wallet_pb2.CreateHoldRequest(
        customer_id=customer_id, currency="USD", amount=amount, ttl=Duration(seconds=ttl_s)
    )


async def test_a_coalesced_batch_has_one_span_linked_to_the_span_of_every_request_it_carried(
    settings: Settings,
    database_url: str,
    customer_id: str,
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = traced
    quiet = replace(settings, metrics_addr="", lock_timeout_ms=60_000)
    server, port = await create_server(quiet, database_url, tracer_provider=provider)
    await server.start()
    others = [f"{customer_id}_{n}" for n in range(3)]
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            await stub.CreateLedgerEntry(entry_request(customer_id, 100))
            with locked_customer(database_url, customer_id) as lock:
                first = asyncio.ensure_future(stub.CreateLedgerEntry(entry_request(customer_id, 1)))
                await asyncio.to_thread(wait_for_lock_waiter, database_url)
                queued = [asyncio.ensure_future(stub.CreateLedgerEntry(entry_request(c, 5))) for c in others]
                await eventually(lambda: server.ledger.queued_writes == 3, 30, "three queued writes")
                lock.rollback()
            await asyncio.gather(first, *queued)
    finally:
        await server.stop(1.0)

    spans = exporter.get_finished_spans()
    calls = [s for s in spans if s.name == CREATE and s.kind is SpanKind.SERVER]
    batches = [s for s in spans if s.name == "wallet.write_batch"]
    assert len(calls) == 5
    # No caller sent a traceparent: each call is a trace of its own.
    assert all(c.parent is None for c in calls) and len({c.context.trace_id for c in calls}) == 5
    assert [b.attributes["wallet.batch_size"] for b in batches if b.attributes] == [1, 1, 3]
    coalesced = batches[-1]
    linked = {link.context.span_id for link in coalesced.links}
    carried = {c.context.span_id for c in calls if _carried_by(c, coalesced)}
    assert len(linked) == 3 and linked == carried
    waits = [link.attributes["wallet.queue_seconds"] for link in coalesced.links if link.attributes]
    assert len(waits) == 3 and all(isinstance(w, float) and w >= 0 for w in waits)
    assert coalesced.parent is not None and coalesced.parent.span_id in linked
    assert [e.name for e in coalesced.events] == ["db.locked", "db.written", "db.committed"]
    for call in calls:
        assert call.attributes is not None
        assert call.attributes["rpc.system"] == "grpc"
        assert call.attributes["rpc.service"] == "wallet.v1.WalletService"
        assert call.attributes["rpc.method"] == "CreateLedgerEntry"
        assert call.attributes["rpc.grpc.status_code"] == 0


def _carried_by(call: ReadableSpan, batch: ReadableSpan) -> bool:
    return any(
        e.name == "carried by batch"
        and e.attributes
        and e.attributes["wallet.batch.span_id"] == f"{batch.context.span_id:016x}"
        for e in call.events
    )


async def test_the_server_span_continues_the_traceparent_the_client_sent_and_the_log_line_names_it(
    settings: Settings,
    database_url: str,
    customer_id: str,
    traced: tuple[TracerProvider, InMemorySpanExporter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wallet.rpc")
    provider, exporter = traced
    server, port = await create_server(replace(settings, metrics_addr=""), database_url, tracer_provider=provider)
    await server.start()
    caller = TracerProvider().get_tracer("test caller")
    try:
        async with AsyncWalletClient(f"127.0.0.1:{port}") as wallet:
            with caller.start_as_current_span("a caller's operation") as operation:
                await wallet.credit(customer_id, 100, "USD", reason="traced")
        server.access_log.flush()
    finally:
        await server.stop(1.0)

    (call,) = [s for s in exporter.get_finished_spans() if s.name == CREATE]
    sent = operation.get_span_context()
    assert call.context.trace_id == sent.trace_id
    assert call.parent is not None and call.parent.span_id == sent.span_id and call.parent.is_remote
    assert f'"trace_id": "{sent.trace_id:032x}", "span_id": "{call.context.span_id:016x}"' in caplog.text


async def test_a_stream_the_caller_cancels_ends_its_span_as_cancelled_without_a_logged_error(
    settings: Settings,
    database_url: str,
    customer_id: str,
    traced: tuple[TracerProvider, InMemorySpanExporter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider, exporter = traced
    seed_credits(database_url, customer_id, 5_000)
    server, port = await create_server(replace(settings, metrics_addr=""), database_url, tracer_provider=provider)
    await server.start()
    listing = "wallet.v1.WalletService/ListLedgerEntries"
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = wallet_pb2_grpc.WalletServiceStub(channel).ListLedgerEntries(
                wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)
            )
            await call.read()
            call.cancel()
            await eventually(
                lambda: any(s.name == listing for s in exporter.get_finished_spans()), 30, "the stream's span"
            )
    finally:
        await server.stop(1.0)
    (span,) = [s for s in exporter.get_finished_spans() if s.name == listing]
    assert span.attributes is not None and span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    assert "Failed to detach context" not in caplog.text


async def test_with_metrics_and_tracing_off_there_is_no_endpoint_and_no_exporter(
    settings: Settings, database_url: str, customer_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wallet.rpc")
    threads_before = sum(t.name == "metrics" for t in threading.enumerate())
    server, port = await create_server(replace(settings, metrics_addr="", traces_exporter="none"), database_url)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await wallet_pb2_grpc.WalletServiceStub(channel).CreateLedgerEntry(entry_request(customer_id, 100))
        server.access_log.flush()
        telemetry = server.telemetry
        assert telemetry.endpoint is None and telemetry.registry is None
        assert telemetry.tracer_provider is None and telemetry.tracer is None
        assert sum(t.name == "metrics" for t in threading.enumerate()) == threads_before
    finally:
        await server.stop(1.0)
    assert "CreateLedgerEntry" in caplog.text and "trace_id" not in caplog.text
