"""Webhook endpoints and their deliveries: values and rules, no I/O.

The rules a demanding receiver expects: which URLs may receive events (an
address check run when an endpoint is created and again, after name
resolution, when it is called), the Standard Webhooks secret and signature,
and the retry schedule (exponential backoff with jitter).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from server.domain.errors import FieldViolation
from server.domain.events import EventType
from server.domain.limits import WEBHOOK_URL_LENGTH_MAX

SECRET_PREFIX = "whsec_"
# A 2xx within this many seconds delivers an event (the contract; tests may shorten it).
DELIVERY_TIMEOUT_S = 10.0
# After a rotation, deliveries are signed with the previous secret too for this long.
PREVIOUS_SECRET_VALID_S = 24 * 3600
# The longest wait between two attempts, however many failed before.
RETRY_DELAY_MAX_S = 3600.0

ACTIVE = "active"
DISABLED = "disabled"

_id_random = random.Random(secrets.randbits(128))


def new_endpoint_id() -> str:
    """`we_` + 12 hex digits of milliseconds + 14 random ones: unique and in creation order."""
    return f"we_{time.time_ns() // 1_000_000:012x}{_id_random.getrandbits(56):014x}"


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64 HMAC-SHA256>` signature of `id.timestamp.body` (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class NewEndpoint:
    url: str
    event_types: frozenset[EventType]
    description: str


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    event_types: frozenset[EventType]
    description: str
    status: str
    created_at: datetime
    disabled_reason: str
    # Events after start_position are the endpoint's; every one up to last_delivered_position is done.
    start_position: int
    last_delivered_position: int


@dataclass(frozen=True)
class Signing:
    """The secrets deliveries are signed with: the current one, and the previous one while it is still valid."""

    current: str
    previous: str | None = None


@dataclass(frozen=True)
class DeliveryAttempt:
    endpoint_id: str
    event_position: int
    attempt: int
    http_status: int
    error: str
    attempted_at: datetime
    duration_ms: int
    next_attempt_at: datetime | None
    delivered: bool


def address_allowed(address: str, allow_private: bool) -> bool:
    """Whether an IP address may be called: public ones always, private/loopback/link-local only when allowed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified:
        return False
    if ip.is_loopback or ip.is_link_local:
        return allow_private
    if ip.is_reserved:
        return False
    if ip.is_private or not ip.is_global:
        return allow_private
    return True


def url_violations(url: str, allow_private: bool) -> list[FieldViolation]:
    """What is wrong with an endpoint URL, before name resolution (an IP literal is checked here)."""
    if not url:
        return [FieldViolation("url", "is required")]
    if len(url) > WEBHOOK_URL_LENGTH_MAX:
        return [FieldViolation("url", f"must be at most {WEBHOOK_URL_LENGTH_MAX} characters")]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return [FieldViolation("url", "is not a valid URL")]
    scheme_ok = parts.scheme == "https" or (parts.scheme == "http" and allow_private)
    if not scheme_ok:
        allowed = "https:// (or http:// where WALLET_WEBHOOK_ALLOW_PRIVATE_URLS is on)"
        return [FieldViolation("url", f"must start with {allowed}")]
    if not parts.hostname or any(c.isspace() or ord(c) < 32 for c in url):
        return [FieldViolation("url", "must name a host and hold no spaces or control characters")]
    if parts.username is not None or parts.password is not None:
        return [FieldViolation("url", "must not carry credentials")]
    if parts.fragment:
        return [FieldViolation("url", "must not have a fragment")]
    if port == 0:
        return [FieldViolation("url", "must not name port 0")]
    host = parts.hostname
    if _is_ip(host) and not address_allowed(host, allow_private):
        return [FieldViolation("url", "names an address in a private, loopback or link-local range")]
    return []


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def retry_delay_s(failed_attempts: int, first_s: float, rng: random.Random) -> float:
    """The wait after the n-th failed attempt: first_s, doubling, capped, each within ±20 % (jitter)."""
    base = min(first_s * 2 ** min(failed_attempts - 1, 40), max(RETRY_DELAY_MAX_S, first_s))
    return float(base * rng.uniform(0.8, 1.2))
