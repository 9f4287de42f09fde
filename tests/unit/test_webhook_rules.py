"""The webhook rules without I/O: which URLs and addresses may receive events, signatures, the retry schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from server.delivery.http_sender import AddressNotAllowed, CheckingResolver
from server.domain.webhooks import address_allowed, new_secret, retry_delay_s, sign, url_violations


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "100.64.0.1",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused_unless_allowed(address: str) -> None:
    assert not address_allowed(address, allow_private=False)
    assert address_allowed(address, allow_private=True)


@pytest.mark.parametrize("address", ["0.0.0.0", "224.0.0.1", "::", "240.0.0.1", "not-an-address"])
def test_unspecified_multicast_and_reserved_addresses_are_always_refused(address: str) -> None:
    assert not address_allowed(address, allow_private=True)


def test_public_addresses_are_allowed() -> None:
    assert address_allowed("93.184.216.34", allow_private=False)
    assert address_allowed("2606:2800:220:1:248:1893:25c8:1946", allow_private=False)


def test_https_is_required_unless_private_urls_are_allowed() -> None:
    assert url_violations("https://hooks.example.com/wallet", allow_private=False) == []
    assert [v.field for v in url_violations("http://hooks.example.com/wallet", allow_private=False)] == ["url"]
    assert url_violations("http://hooks.example.com/wallet", allow_private=True) == []


def test_an_ip_literal_in_a_private_range_is_refused_before_any_resolution() -> None:
    assert [v.field for v in url_violations("https://10.0.0.5/hook", allow_private=False)] == ["url"]
    assert [v.field for v in url_violations("https://[::1]:8443/hook", allow_private=False)] == ["url"]


def test_a_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    now = int(datetime.now(UTC).timestamp())
    body = b'{"cursor":"ev_1"}'
    headers = {
        "webhook-id": "ev_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "ev_1", now, body),
    }
    Webhook(secret).verify(body, headers)


def test_retry_delays_start_at_the_first_delay_double_and_stay_within_the_jitter() -> None:
    rng = random.Random(1)
    for attempt, base in [(1, 5.0), (2, 10.0), (3, 20.0), (10, 2560.0), (30, 3600.0)]:
        delay = retry_delay_s(attempt, 5.0, rng)
        assert 0.8 * base <= delay <= 1.2 * base


async def test_the_delivery_resolver_refuses_a_host_that_resolves_to_a_private_address() -> None:
    resolver = CheckingResolver(allow_private=False)
    try:
        with pytest.raises(AddressNotAllowed):
            await resolver.resolve("localhost", 443)
    finally:
        await resolver.close()
    allowing = CheckingResolver(allow_private=True)
    try:
        assert {r["host"] for r in await allowing.resolve("localhost", 443)} <= {"127.0.0.1", "::1"}
    finally:
        await allowing.close()
