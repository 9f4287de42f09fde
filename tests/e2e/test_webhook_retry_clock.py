"""Webhook retries run on the dispatcher's clock: the test moves it, and each retry happens when it is due."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import grpc
import pytest_asyncio
from cryptography.fernet import Fernet

from server.app import WalletServer, create_server
from server.config import Settings
from tests.clocks import ManualClock
from tests.database import scratch_database
from tests.e2e.helpers import entry_request
from tests.receivers import Receiver, receiving
from tests.waiting import eventually
from wallet.v1 import wallet_pb2_grpc, webhooks_pb2, webhooks_pb2_grpc


@dataclass
class Clocked:
    server: WalletServer
    clock: ManualClock
    wallet: wallet_pb2_grpc.WalletServiceStub
    hooks: webhooks_pb2_grpc.WebhookServiceStub


@pytest_asyncio.fixture
async def clocked(database_url: str, settings: Settings) -> AsyncIterator[Clocked]:
    """A server whose webhooks retry after 60 s, doubling, for 400 s: on real time, a test of minutes."""
    clock = ManualClock()
    webhook_settings = replace(
        settings,
        webhook_allow_private_urls=True,
        webhook_retry_first_s=60,
        webhook_retry_for_s=400,
        webhook_secret_key=Fernet.generate_key().decode(),
    )
    with scratch_database(database_url) as url:
        server, port = await create_server(webhook_settings, url, sink_clock=clock)
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield Clocked(
                    server,
                    clock,
                    wallet_pb2_grpc.WalletServiceStub(channel),
                    webhooks_pb2_grpc.WebhookServiceStub(channel),
                )
        finally:
            await server.stop(1.0)


async def _attempts(clocked: Clocked, endpoint_id: str) -> list[webhooks_pb2.WebhookDelivery]:
    page = await clocked.hooks.ListWebhookDeliveries(webhooks_pb2.ListWebhookDeliveriesRequest(endpoint_id=endpoint_id))
    return sorted(page.deliveries, key=lambda d: d.attempt)


async def _wait_attempts(clocked: Clocked, endpoint_id: str, count: int) -> list[webhooks_pb2.WebhookDelivery]:
    async def made() -> bool:
        return len(await _attempts(clocked, endpoint_id)) >= count

    await eventually(made, 30, f"{count} delivery attempts to {endpoint_id}")
    return await _attempts(clocked, endpoint_id)


async def test_each_retry_waits_for_the_clock_and_the_endpoint_is_disabled_when_the_retry_period_runs_out(
    clocked: Clocked, customer_id: str
) -> None:
    async with receiving(Receiver(fail_first=1_000)) as receiver:
        created = await clocked.hooks.CreateWebhookEndpoint(webhooks_pb2.CreateWebhookEndpointRequest(url=receiver.url))
        endpoint_id = created.endpoint.id
        start = clocked.clock.now()
        await clocked.wallet.CreateLedgerEntry(entry_request(customer_id, 1))
        (first,) = await _wait_attempts(clocked, endpoint_id, 1)
        # The second attempt is due 60 s (±20 % jitter) after the first; the clock has not moved, so none is made.
        assert 48 <= first.next_attempt_at.seconds - int(start) <= 73
        assert len(receiver.received) == 1
        clocked.clock.advance(75)
        second = (await _wait_attempts(clocked, endpoint_id, 2))[1]
        # Then 120 s (±20 %) after the second.
        assert 96 <= second.next_attempt_at.seconds - second.attempted_at.seconds <= 145
        assert len(receiver.received) == 2
        clocked.clock.advance(150)
        third = (await _wait_attempts(clocked, endpoint_id, 3))[2]
        # The next would come after the 400 s retry period: given up, with no next attempt, and the endpoint disabled.
        assert not third.HasField("next_attempt_at")

        async def endpoint_now() -> webhooks_pb2.WebhookEndpoint:
            got = await clocked.hooks.GetWebhookEndpoint(webhooks_pb2.GetWebhookEndpointRequest(id=endpoint_id))
            found: webhooks_pb2.WebhookEndpoint = got.endpoint
            return found

        async def disabled() -> bool:
            return (await endpoint_now()).status == webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_DISABLED

        await eventually(disabled, 30, f"endpoint {endpoint_id} disabled")
        endpoint = await endpoint_now()
        assert "not delivered within 400 s" in endpoint.disabled_reason
        # Signed at the dispatcher's clock: still within the receivers' 5-minute tolerance.
        receiver.verified(created.signing_secret)
        assert [r.headers["webhook-id"] for r in receiver.received] == [first.event_cursor] * 3
        metrics = clocked.server.telemetry.sink_metrics
        assert metrics is not None
        assert metrics.deliveries.labels("webhook", "failed")._value.get() == 2
        assert metrics.deliveries.labels("webhook", "gave_up")._value.get() == 1
        assert metrics.endpoints_disabled.labels("retries_exhausted")._value.get() == 1
        assert metrics.leading.labels("webhook")._value.get() == 1  # the only process on its database leads
