"""Goal: a server killed with SIGKILL mid-delivery loses no event for any sink, and repeats none where it must not.

Webhooks: receivers (fast, slow, failing with 500 for a while) behind a server
process that is killed while they are being sent events, then started again.
Afterwards each receiver has every event at least once, and deduplicated by
`webhook-id` exactly once, in each customer's order.

NATS: two server processes relay to one JetStream stream; the leader is
killed mid-stream while writes go on. The other takes over within seconds,
and the stream ends up holding every event exactly once, in order per customer.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from cryptography.fernet import Fernet
from google.protobuf import json_format

from tests.database import scratch_database
from tests.e2e.helpers import entry_request
from tests.faults.servers import FAST_RECONNECT, ServerProcess, server_process
from tests.jetstream import delete_stream, message_count, stored_messages
from tests.processes import ROOT
from tests.receivers import Receiver, receiving
from wallet.v1 import wallet_pb2, wallet_pb2_grpc, webhooks_pb2, webhooks_pb2_grpc

pytestmark = pytest.mark.slow

WEBHOOK_ENV = {
    "WALLET_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "WALLET_WEBHOOK_RETRY_FIRST_S": "0.05",
    "WALLET_WEBHOOK_TIMEOUT_S": "2",
    "WALLET_WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
}


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    """A database of its own: the sinks are led per database, and no other test's server may lead these."""
    with scratch_database(database_url) as url:
        yield url


async def _write(address: str, customers: list[str], per_customer: int, tag: str) -> None:
    """Credits each customer `per_customer` times, in order, retrying each with its key until it is answered."""
    async with grpc.aio.insecure_channel(address, options=FAST_RECONNECT) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)

        async def one_customer(customer: str) -> None:
            for n in range(per_customer):
                request = entry_request(customer, 1 + n, idempotency_key=f"{tag}_{n}")
                while True:
                    try:
                        await stub.CreateLedgerEntry(request, timeout=10, wait_for_ready=True)
                        break
                    except grpc.aio.AioRpcError as error:
                        assert error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                        await asyncio.sleep(0.05)

        await asyncio.gather(*(one_customer(c) for c in customers))


def _events_by_customer(database_url: str, customers: list[str]) -> dict[str, list[str]]:
    """Each customer's event cursors, in the customer's order, from the outbox, once all are placed in the stream."""
    deadline = time.monotonic() + 30
    with psycopg.connect(database_url) as conn:
        while True:
            rows = conn.execute(
                "SELECT customer_id, position FROM wallet_events WHERE customer_id = ANY(%s) ORDER BY customer_id, seq",
                (customers,),
            ).fetchall()
            conn.rollback()
            if all(position is not None for _, position in rows):
                break
            assert time.monotonic() < deadline, "committed events were not placed in the stream within 30 s"
            time.sleep(0.05)
    found: dict[str, list[str]] = {c: [] for c in customers}
    for customer, position in rows:
        found[customer].append(f"ev_{position}")
    return found


async def test_a_sigkilled_server_leaves_every_receiver_with_every_event_exactly_once_after_deduplication(
    own_database: str, customers: list[str], tmp_path: Path
) -> None:
    receivers = [Receiver(), Receiver(delay_s=0.2), Receiver(fail_first=15)]
    server = ServerProcess(own_database, tmp_path / "server.log", **WEBHOOK_ENV)
    async with receiving(receivers[0]), receiving(receivers[1]), receiving(receivers[2]):
        await asyncio.to_thread(server.start)
        try:
            secrets = []
            async with grpc.aio.insecure_channel(server.address) as channel:
                hooks = webhooks_pb2_grpc.WebhookServiceStub(channel)
                for receiver in receivers:
                    created = await hooks.CreateWebhookEndpoint(
                        webhooks_pb2.CreateWebhookEndpointRequest(url=receiver.url)
                    )
                    secrets.append(created.signing_secret)
            await _write(server.address, customers, 30, "before")
            # Mid-delivery: the slow receiver has some of the events, not all.
            await receivers[1].wait_for(lambda r: len(r.received) >= 20)
            assert len(receivers[1].unique_events()) < 4 * 30
            server.kill()
            await asyncio.to_thread(server.start)
            await _write(server.address, customers, 20, "after")
            expected = _events_by_customer(own_database, customers)
            total = sum(len(cursors) for cursors in expected.values())
            assert total == 4 * 50
            for receiver in receivers:
                await receiver.wait_for(lambda r: len(r.unique_events()) >= total, timeout_s=120)
        finally:
            await asyncio.to_thread(server.stop)
    for receiver, secret in zip(receivers, secrets, strict=True):
        receiver.verified(secret)
        unique = receiver.unique_events()
        assert len(unique) == total
        for customer, cursors in expected.items():
            assert [e["cursor"] for e in unique if e["customerId"] == customer] == cursors
    print(f"requests received: {[len(r.received) for r in receivers]} for {total} events each")


def _leader(servers: list[ServerProcess]) -> ServerProcess:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for server in servers:
            if "nats relay: leading" in server.log():
                return server
        time.sleep(0.05)
    raise TimeoutError("no server leads the relay")


async def test_a_sigkilled_relay_leader_is_replaced_within_seconds_and_the_stream_holds_every_event_once(
    own_database: str, customers: list[str], tmp_path: Path, nats_url: str
) -> None:
    stream = "WALLET_EVENTS_CRASH"
    await delete_stream(nats_url, stream)
    env = {"WALLET_NATS_URL": nats_url, "WALLET_NATS_STREAM": stream}
    with (
        server_process(own_database, tmp_path / "a.log", **env) as first,
        server_process(own_database, tmp_path / "b.log", **env) as second,
    ):
        leader = await asyncio.to_thread(_leader, [first, second])
        other = second if leader is first else first
        writes = asyncio.create_task(_write(other.address, customers, 60, "relay"))
        deadline = time.monotonic() + 60
        while await message_count(nats_url, stream) < 40:
            assert time.monotonic() < deadline and not writes.done()
            await asyncio.sleep(0.02)
        leader.kill()
        killed_at = time.monotonic()
        await asyncio.to_thread(other.wait_for_log, "nats relay: leading", timeout_s=30)
        takeover_s = time.monotonic() - killed_at
        await writes
        await asyncio.to_thread(leader.start)  # a restarted process joins as a follower
        expected = _events_by_customer(own_database, customers)
        total = sum(len(c) for c in expected.values())
        deadline = time.monotonic() + 60
        while await message_count(nats_url, stream) < total:
            assert time.monotonic() < deadline, f"{await message_count(nats_url, stream)} of {total} relayed"
            await asyncio.sleep(0.05)
    stored = await stored_messages(nats_url, stream)
    await delete_stream(nats_url, stream)
    ids = [m.headers["Nats-Msg-Id"] for m in stored]
    assert len(ids) == len(set(ids)) == total
    for customer, cursors in expected.items():
        assert [m.headers["Nats-Msg-Id"] for m in stored if m.headers["Wallet-Customer-Id"] == customer] == cursors
    for message in stored:
        assert json_format.ParseDict(message.event, wallet_pb2.WalletEvent()).cursor == message.headers["Nats-Msg-Id"]
    print(f"relay taken over {takeover_s:.2f} s after the leader's SIGKILL")
    assert takeover_s < 10


async def test_a_separate_sinks_process_delivers_for_api_servers_that_do_not(
    own_database: str, customers: list[str], tmp_path: Path
) -> None:
    log_path = tmp_path / "sinks.log"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"DATABASE_URL": own_database, "WALLET_METRICS_ADDR": "127.0.0.1:0", **WEBHOOK_ENV})
    async with receiving(Receiver()) as receiver:
        api = ServerProcess(own_database, tmp_path / "api.log", WALLET_SINKS="off", **WEBHOOK_ENV)
        await asyncio.to_thread(api.start)
        with log_path.open("wb") as log:
            sinks = subprocess.Popen(
                [sys.executable, "-m", "server", "sinks"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            async with grpc.aio.insecure_channel(api.address) as channel:
                created = await webhooks_pb2_grpc.WebhookServiceStub(channel).CreateWebhookEndpoint(
                    webhooks_pb2.CreateWebhookEndpointRequest(url=receiver.url)
                )
            await _write(api.address, customers, 5, "sinks")
            await receiver.wait_for(lambda r: len(r.unique_events()) >= 20, timeout_s=60)
        finally:
            sinks.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(sinks.wait, 30) == 0
            await asyncio.to_thread(api.stop)
    receiver.verified(created.signing_secret)
    assert "webhook dispatcher: leading" in log_path.read_text()
    assert "webhook dispatcher: leading" not in api.log()
