"""The WebhookService use cases: endpoints created, read, listed, deleted, their secrets rotated, deliveries read.

A URL is checked twice at creation: its form and any IP literal
(`server.domain.webhooks.url_violations`), then every address its host name
resolves to; the dispatcher checks the addresses again at each connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.domain.errors import FieldViolation, InvalidArgument, WebhookEndpointNotFound
from server.domain.webhooks import (
    PREVIOUS_SECRET_VALID_S,
    DeliveryAttempt,
    NewEndpoint,
    WebhookEndpoint,
    address_allowed,
    new_endpoint_id,
    new_secret,
    url_violations,
)
from server.store import webhooks as store
from server.store.db import database_errors
from server.store.secret_box import SecretBox

RESOLVE_TIMEOUT_S = 5.0


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (empty when it does not resolve)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError):
        return []
    return sorted({str(info[4][0]) for info in infos})


async def check_url(url: str, allow_private: bool) -> None:
    """Raises InvalidArgument (field `url`) unless the URL may receive events now."""
    violations = url_violations(url, allow_private)
    if violations:
        raise InvalidArgument(violations)
    parts = urlsplit(url)
    assert parts.hostname is not None
    addresses = await resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    if not addresses:
        raise InvalidArgument([FieldViolation("url", f"host {parts.hostname} does not resolve")])
    if not all(address_allowed(a, allow_private) for a in addresses):
        raise InvalidArgument(
            [FieldViolation("url", f"host {parts.hostname} resolves to a private, loopback or link-local address")]
        )


class WebhookAdmin:
    """Endpoints and their delivery log over one pool; secrets sealed with `box` before they are stored."""

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        box: SecretBox,
        *,
        allow_private: bool,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._box = box
        self._allow_private = allow_private
        # Tells this process's dispatcher that endpoints changed (other processes' see it within a second).
        self._on_change = on_change

    async def create(self, request: NewEndpoint) -> tuple[WebhookEndpoint, str]:
        await check_url(request.url, self._allow_private)
        secret = new_secret()
        with database_errors():
            async with self._pool.connection() as conn, conn.transaction():
                endpoint = await store.insert_endpoint(
                    conn,
                    new_endpoint_id(),
                    request.url,
                    sorted(request.event_types, key=lambda t: t.value),
                    request.description,
                    self._box.seal(secret),
                )
        self._on_change()
        return endpoint, secret

    async def get(self, endpoint_id: str) -> WebhookEndpoint:
        with database_errors():
            async with self._pool.connection() as conn:
                endpoint = await store.get_endpoint(conn, endpoint_id)
        if endpoint is None:
            raise WebhookEndpointNotFound(endpoint_id=endpoint_id)
        return endpoint

    async def list_page(self, after_id: str, limit: int) -> tuple[list[WebhookEndpoint], bool]:
        """A page of endpoints after `after_id`, and whether more follow."""
        with database_errors():
            async with self._pool.connection() as conn:
                found = await store.list_endpoints(conn, after_id, limit + 1)
        return found[:limit], len(found) > limit

    async def delete(self, endpoint_id: str) -> None:
        with database_errors():
            async with self._pool.connection() as conn:
                deleted = await store.delete_endpoint(conn, endpoint_id)
        if not deleted:
            raise WebhookEndpointNotFound(endpoint_id=endpoint_id)
        self._on_change()

    async def rotate(self, endpoint_id: str) -> tuple[str, datetime]:
        """A new secret; the previous one signs too until the returned instant."""
        secret = new_secret()
        until = datetime.now(UTC) + timedelta(seconds=PREVIOUS_SECRET_VALID_S)
        with database_errors():
            async with self._pool.connection() as conn:
                rotated = await store.rotate_secret(conn, endpoint_id, self._box.seal(secret), until)
        if not rotated:
            raise WebhookEndpointNotFound(endpoint_id=endpoint_id)
        self._on_change()
        return secret, until

    async def deliveries(
        self, endpoint_id: str, before: tuple[int, int] | None, limit: int
    ) -> tuple[list[DeliveryAttempt], bool]:
        """A page of the endpoint's attempts, newest first, and whether more follow."""
        with database_errors():
            async with self._pool.connection() as conn:
                if await store.get_endpoint(conn, endpoint_id) is None:
                    raise WebhookEndpointNotFound(endpoint_id=endpoint_id)
                found = await store.list_deliveries(conn, endpoint_id, before, limit + 1)
        return found[:limit], len(found) > limit
