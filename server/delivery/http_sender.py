"""POSTs one signed event to one endpoint: Standard Webhooks headers, no redirects, addresses checked.

Each endpoint has its own aiohttp session (kept-alive connections, at most
`WEBHOOK_LANES_MAX` at once), so one slow endpoint holds no other's connections. Every new
connection resolves the host again and refuses to connect when any address it
resolves to is not allowed (`server.domain.webhooks.address_allowed`); an IP
literal is checked before each request.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from server.domain.limits import WEBHOOK_LANES_MAX
from server.domain.webhooks import Signing, address_allowed, sign

USER_AGENT = "wallet-webhooks/1"


class AddressNotAllowed(OSError):
    """The endpoint's host resolves to an address outside the allowed ranges."""


class CheckingResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses hosts with a disallowed address."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not found or not all(address_allowed(r["host"], self._allow_private) for r in found):
            raise AddressNotAllowed(f"{host} resolves to an address that is not allowed")
        return found

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class Answer:
    http_status: int  # 0: no answer
    error: str  # "": delivered
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return not self.error


class Sender:
    def __init__(self, url: str, *, allow_private: bool, timeout_s: float) -> None:
        self._url = url
        self._allow_private = allow_private
        host = urlsplit(url).hostname or ""
        self._literal = _is_literal(host)
        self._host = host
        connector = aiohttp.TCPConnector(
            limit=WEBHOOK_LANES_MAX, resolver=CheckingResolver(allow_private), use_dns_cache=False, force_close=False
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            headers={"User-Agent": USER_AGENT},
            auto_decompress=False,
        )

    async def post(self, message_id: str, body: bytes, signing: Signing, now_s: float) -> Answer:
        timestamp = int(now_s)
        signatures = [sign(signing.current, message_id, timestamp, body)]
        if signing.previous is not None:
            signatures.append(sign(signing.previous, message_id, timestamp, body))
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(signatures),
        }
        started = time.monotonic()
        try:
            if self._literal and not address_allowed(self._host, self._allow_private):
                raise AddressNotAllowed(f"{self._host} is not an allowed address")
            async with self._session.post(self._url, data=body, headers=headers, allow_redirects=False) as response:
                await response.content.read(64 << 10)  # the answer's body is not used; a little is read to reuse
                status = response.status
        except AddressNotAllowed as error:
            return Answer(0, str(error), _ms(started))
        except TimeoutError:
            return Answer(0, "no answer within the timeout", _ms(started))
        except (aiohttp.ClientError, OSError) as error:
            return Answer(0, f"{type(error).__name__}: {error}"[:300], _ms(started))
        if 200 <= status < 300:
            return Answer(status, "", _ms(started))
        return Answer(status, f"HTTP {status}", _ms(started))

    async def close(self) -> None:
        await self._session.close()


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
