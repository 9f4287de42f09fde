"""The NATS JetStream relay end to end: a real server on its own database, a real nats-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import grpc
import nats
import psycopg
import pytest_asyncio
from google.protobuf import json_format

from server.app import create_server
from server.config import Settings
from tests.database import scratch_database
from tests.e2e.helpers import entry_request
from tests.jetstream import delete_stream, message_count, stored_messages, wait_for_messages
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

STREAM = "WALLET_EVENTS_E2E"


@pytest_asyncio.fixture(scope="module")
async def relayed(
    database_url: str, settings: Settings, nats_url: str
) -> AsyncIterator[tuple[wallet_pb2_grpc.WalletServiceStub, str]]:
    """A server relaying to a fresh stream; yields its stub and its database's URL."""
    await delete_stream(nats_url, STREAM)
    with scratch_database(database_url) as url:
        server, port = await create_server(replace(settings, nats_url=nats_url, nats_stream=STREAM), url)
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield wallet_pb2_grpc.WalletServiceStub(channel), url
        finally:
            await server.stop(1.0)
            await delete_stream(nats_url, STREAM)


async def test_every_event_is_published_once_with_its_subject_headers_and_json_in_each_customers_order(
    relayed: tuple[wallet_pb2_grpc.WalletServiceStub, str], nats_url: str, customer_id: str
) -> None:
    stub, url = relayed
    customers = [f"{customer_id}_{i}" for i in range(3)]
    await asyncio.gather(*(stub.CreateLedgerEntry(entry_request(c, 10 + n)) for n in range(10) for c in customers))
    await stub.SetLowBalanceThreshold(
        wallet_pb2.SetLowBalanceThresholdRequest(customer_id=customers[0], currency="USD", threshold=10_000)
    )
    try:
        await wait_for_messages(nats_url, STREAM, 31, timeout_s=30)
    except TimeoutError:
        raise AssertionError(f"only {await message_count(nats_url, STREAM)} messages") from None
    stored = await stored_messages(nats_url, STREAM)
    assert len(stored) == 31
    ids = [m.headers["Nats-Msg-Id"] for m in stored]
    assert len(set(ids)) == len(ids)
    for message in stored:
        assert message.headers["Nats-Msg-Id"] == message.event["cursor"]
        assert message.headers["Wallet-Customer-Id"] == message.event["customerId"]
        assert message.subject == "wallet.events." + message.event["eventType"].removeprefix("EVENT_TYPE_").lower()
    assert [m.subject for m in stored].count("wallet.events.balance_low") == 1
    for customer in customers:
        watched: list[wallet_pb2.WalletEvent] = []
        call = stub.WatchEvents(wallet_pb2.WatchEventsRequest(customer_id=customer, from_oldest=True))
        async for message in call:
            watched.extend(message.events)
            if len(watched) >= (11 if customer == customers[0] else 10):
                call.cancel()
                break
        mine = [m.event for m in stored if m.event["customerId"] == customer]
        assert mine == [json_format.MessageToDict(e) for e in watched]
    with psycopg.connect(url) as conn:
        (position,) = conn.execute("SELECT position FROM sink_positions WHERE sink = 'nats'").fetchone() or (0,)
        (last,) = conn.execute("SELECT last_position FROM event_stream").fetchone() or (0,)
    assert position == last


async def test_the_stream_is_created_with_a_duplicate_window_of_at_least_two_minutes(
    relayed: tuple[wallet_pb2_grpc.WalletServiceStub, str], nats_url: str
) -> None:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(STREAM)
    finally:
        await nc.close()
    assert (info.config.duplicate_window or 0) >= 120
    assert info.config.subjects == ["wallet.events.>"]
