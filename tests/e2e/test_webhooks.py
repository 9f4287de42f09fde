"""Webhooks end to end: a real server on its own database, real HTTP receivers, `standardwebhooks` verifying."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import grpc
import pytest
import pytest_asyncio
from cryptography.fernet import Fernet
from google.protobuf import json_format

from server.app import create_server
from server.config import Settings
from tests.database import scratch_database
from tests.e2e.helpers import DEBIT, entry_request, error_reason, field_violations
from tests.receivers import Receiver, receiving
from tests.waiting import eventually
from wallet.v1 import wallet_pb2, wallet_pb2_grpc, webhooks_pb2, webhooks_pb2_grpc

ACTIVE = webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_ACTIVE
DISABLED = webhooks_pb2.WEBHOOK_ENDPOINT_STATUS_DISABLED


@dataclass
class Service:
    wallet: wallet_pb2_grpc.WalletServiceStub
    hooks: webhooks_pb2_grpc.WebhookServiceStub

    async def add(self, url: str, *types: wallet_pb2.EventType.ValueType) -> webhooks_pb2.CreateWebhookEndpointResponse:
        response: webhooks_pb2.CreateWebhookEndpointResponse = await self.hooks.CreateWebhookEndpoint(
            webhooks_pb2.CreateWebhookEndpointRequest(url=url, event_types=list(types), description="test")
        )
        return response

    async def endpoint(self, endpoint_id: str) -> webhooks_pb2.WebhookEndpoint:
        response = await self.hooks.GetWebhookEndpoint(webhooks_pb2.GetWebhookEndpointRequest(id=endpoint_id))
        endpoint: webhooks_pb2.WebhookEndpoint = response.endpoint
        return endpoint

    async def wait_status(self, endpoint_id: str, status: int, timeout_s: float = 30.0) -> webhooks_pb2.WebhookEndpoint:
        async def reached() -> bool:
            return (await self.endpoint(endpoint_id)).status == status

        await eventually(reached, timeout_s, f"endpoint {endpoint_id} in status {status}", poll_s=0.05)
        return await self.endpoint(endpoint_id)


@pytest_asyncio.fixture(scope="module")
async def service(database_url: str, settings: Settings) -> AsyncIterator[Service]:
    """A server with webhooks to loopback allowed, quick retries (first after 0.05 s, for 3 s) and a 1 s timeout.

    Its own database: the dispatcher leads per database, and no other test's server may lead this one's.
    """
    webhook_settings = replace(
        settings,
        webhook_allow_private_urls=True,
        webhook_retry_first_s=0.05,
        webhook_retry_for_s=3.0,
        webhook_timeout_s=1.0,
        webhook_secret_key=Fernet.generate_key().decode(),
    )
    with scratch_database(database_url) as url:
        server, port = await create_server(webhook_settings, url)
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield Service(wallet_pb2_grpc.WalletServiceStub(channel), webhooks_pb2_grpc.WebhookServiceStub(channel))
        finally:
            await server.stop(1.0)


async def _watched(service: Service, customer_id: str, count: int) -> list[wallet_pb2.WalletEvent]:
    found: list[wallet_pb2.WalletEvent] = []
    call = service.wallet.WatchEvents(wallet_pb2.WatchEventsRequest(customer_id=customer_id, from_oldest=True))
    async for message in call:
        found.extend(message.events)
        if len(found) >= count:
            call.cancel()
            break
    return found


def _events_of(receiver: Receiver, customer_id: str) -> list[dict[str, object]]:
    return [e for e in receiver.unique_events() if e["customerId"] == customer_id]


async def test_every_event_after_creation_is_posted_once_signed_and_in_each_customers_order(
    service: Service, customer_id: str
) -> None:
    async with receiving(Receiver()) as receiver:
        created = await service.add(receiver.url)
        assert created.signing_secret.startswith("whsec_")
        assert created.endpoint.status == ACTIVE and created.endpoint.last_delivered_cursor == ""
        customers = [f"{customer_id}_{i}" for i in range(3)]
        writes = [service.wallet.CreateLedgerEntry(entry_request(c, 100 + n)) for n in range(10) for c in customers]
        await asyncio.gather(*writes)
        await receiver.wait_for(lambda r: all(len(_events_of(r, c)) == 10 for c in customers))
        receiver.verified(created.signing_secret)
        assert len(receiver.received) == 30
        for customer in customers:
            watched = await _watched(service, customer, 10)
            # The very event WatchEvents carries, in protobuf's JSON form, in the customer's order.
            assert _events_of(receiver, customer) == [json_format.MessageToDict(e) for e in watched]
        for item in receiver.received:
            assert item.headers["webhook-id"] == item.event["cursor"]
        endpoint = await service.endpoint(created.endpoint.id)
        assert endpoint.last_delivered_cursor != ""


async def test_an_endpoint_gets_only_its_event_types(service: Service, customer_id: str) -> None:
    async with receiving(Receiver()) as receiver:
        created = await service.add(receiver.url, wallet_pb2.EVENT_TYPE_BALANCE_LOW)
        await service.wallet.CreateLedgerEntry(entry_request(customer_id, 1_000))
        await service.wallet.SetLowBalanceThreshold(
            wallet_pb2.SetLowBalanceThresholdRequest(customer_id=customer_id, currency="USD", threshold=500)
        )
        await service.wallet.CreateLedgerEntry(entry_request(customer_id, 600, DEBIT))
        await receiver.wait_for(lambda r: len(_events_of(r, customer_id)) >= 1)
        receiver.verified(created.signing_secret)
        assert [e["eventType"] for e in _events_of(receiver, customer_id)] == ["EVENT_TYPE_BALANCE_LOW"]


async def test_failed_deliveries_are_retried_with_backoff_in_order_and_logged(
    service: Service, customer_id: str
) -> None:
    async with receiving(Receiver(fail_first=3)) as receiver:
        created = await service.add(receiver.url)
        for amount in (1, 2, 3):
            await service.wallet.CreateLedgerEntry(entry_request(customer_id, amount))
        await receiver.wait_for(lambda r: len(_events_of(r, customer_id)) == 3 and len(r.received) >= 6)
        receiver.verified(created.signing_secret)
        amounts = [int(e["entry"]["amount"]) for e in _events_of(receiver, customer_id)]  # type: ignore[index]
        assert amounts == [1, 2, 3]
        # The first event was sent 4 times (3 refusals), and nothing after it before it was delivered.
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert ids[:4] == [ids[0]] * 4
        page = await service.hooks.ListWebhookDeliveries(
            webhooks_pb2.ListWebhookDeliveriesRequest(endpoint_id=created.endpoint.id)
        )
        first = sorted((d for d in page.deliveries if d.event_cursor == ids[0]), key=lambda d: d.attempt)
        assert [d.attempt for d in first] == [1, 2, 3, 4]
        assert [d.http_status for d in first] == [500, 500, 500, 200]
        assert all(d.next_attempt_at.seconds > 0 for d in first[:3]) and not first[3].HasField("next_attempt_at")
        assert first[3].delivered and first[0].error == "HTTP 500"


async def test_a_410_gone_disables_the_endpoint_at_once(service: Service, customer_id: str) -> None:
    async with receiving(Receiver(status=410)) as receiver:
        created = await service.add(receiver.url)
        await service.wallet.CreateLedgerEntry(entry_request(customer_id, 5))
        await service.wallet.CreateLedgerEntry(entry_request(customer_id, 6))
        endpoint = await service.wait_status(created.endpoint.id, DISABLED)
        assert "410" in endpoint.disabled_reason
        assert len(receiver.received) == 1


async def test_an_endpoint_that_never_answers_is_disabled_after_the_retry_period_without_delaying_another(
    service: Service, customer_id: str
) -> None:
    async with receiving(Receiver(never_answer=True)) as dead, receiving(Receiver()) as fast:
        dead_endpoint = await service.add(dead.url)
        fast_endpoint = await service.add(fast.url)
        await service.wallet.CreateLedgerEntry(entry_request(customer_id, 7))
        await fast.wait_for(lambda r: len(_events_of(r, customer_id)) == 1, timeout_s=5)
        assert (await service.endpoint(dead_endpoint.endpoint.id)).status == ACTIVE
        await service.wallet.CreateLedgerEntry(entry_request(customer_id, 8))
        await fast.wait_for(lambda r: len(_events_of(r, customer_id)) == 2, timeout_s=5)
        endpoint = await service.wait_status(dead_endpoint.endpoint.id, DISABLED)
        assert "not delivered within 3 s" in endpoint.disabled_reason
        assert (await service.endpoint(fast_endpoint.endpoint.id)).status == ACTIVE


async def test_a_slow_endpoint_still_gets_every_event_in_order(service: Service, customer_id: str) -> None:
    async with receiving(Receiver(delay_s=0.3)) as slow:
        created = await service.add(slow.url)
        for amount in range(1, 6):
            await service.wallet.CreateLedgerEntry(entry_request(customer_id, amount))
        await slow.wait_for(lambda r: len(_events_of(r, customer_id)) == 5)
        slow.verified(created.signing_secret)
        amounts = [int(e["entry"]["amount"]) for e in _events_of(slow, customer_id)]  # type: ignore[index]
        assert amounts == [1, 2, 3, 4, 5]


async def test_after_a_rotation_deliveries_verify_with_the_new_and_the_old_secret(
    service: Service, customer_id: str
) -> None:
    async with receiving(Receiver()) as receiver:
        created = await service.add(receiver.url)
        rotated = await service.hooks.RotateWebhookSecret(
            webhooks_pb2.RotateWebhookSecretRequest(id=created.endpoint.id)
        )
        assert rotated.signing_secret.startswith("whsec_") and rotated.signing_secret != created.signing_secret
        await service.wallet.CreateLedgerEntry(entry_request(customer_id, 9))
        await receiver.wait_for(lambda r: len(_events_of(r, customer_id)) == 1)
        receiver.verified(rotated.signing_secret, created.signing_secret)


async def test_endpoints_are_listed_in_pages_read_and_deleted(service: Service) -> None:
    ids = [(await service.add("http://127.0.0.1:9/hook")).endpoint.id for _ in range(3)]
    for endpoint_id in ids:
        await service.hooks.DeleteWebhookEndpoint(webhooks_pb2.DeleteWebhookEndpointRequest(id=endpoint_id))
    ids = [(await service.add("http://127.0.0.1:9/hook")).endpoint.id for _ in range(3)]
    listed: list[str] = []
    token = ""
    while True:
        page = await service.hooks.ListWebhookEndpoints(
            webhooks_pb2.ListWebhookEndpointsRequest(page_size=2, page_token=token)
        )
        listed.extend(e.id for e in page.endpoints)
        token = page.next_page_token
        if not token:
            break
    assert [i for i in listed if i in ids] == ids
    await service.hooks.DeleteWebhookEndpoint(webhooks_pb2.DeleteWebhookEndpointRequest(id=ids[0]))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.endpoint(ids[0])
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(refused.value) == "WEBHOOK_ENDPOINT_NOT_FOUND"
    for endpoint_id in ids[1:]:
        await service.hooks.DeleteWebhookEndpoint(webhooks_pb2.DeleteWebhookEndpointRequest(id=endpoint_id))


@pytest.mark.parametrize(
    "url",
    ["", "ftp://127.0.0.1/hook", "http://user:pw@127.0.0.1/hook", "http://", "http://0.0.0.0/hook", "x" * 2_001],
)
async def test_a_url_that_cannot_receive_events_is_refused_naming_the_url(service: Service, url: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.add(url)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused.value) == ["url"]


async def test_unknown_event_types_and_bad_page_tokens_are_refused_naming_the_field(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.add("http://127.0.0.1:9/hook", 99)  # type: ignore[arg-type]
    assert field_violations(refused.value) == ["event_types"]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await service.hooks.ListWebhookEndpoints(webhooks_pb2.ListWebhookEndpointsRequest(page_token="nope"))
    assert field_violations(refused.value) == ["page_token"]


async def test_a_redirect_is_not_followed_but_retried_as_a_failure(service: Service, customer_id: str) -> None:
    async with receiving(Receiver(status=302)) as receiver:
        created = await service.add(receiver.url)
        await service.wallet.CreateLedgerEntry(entry_request(customer_id, 3))
        await receiver.wait_for(lambda r: len(r.received) >= 2)
        page = await service.hooks.ListWebhookDeliveries(
            webhooks_pb2.ListWebhookDeliveriesRequest(endpoint_id=created.endpoint.id, page_size=1)
        )
        (newest,) = page.deliveries
        assert (newest.http_status, newest.error, newest.delivered) == (302, "HTTP 302", False)
        await service.hooks.DeleteWebhookEndpoint(webhooks_pb2.DeleteWebhookEndpointRequest(id=created.endpoint.id))
