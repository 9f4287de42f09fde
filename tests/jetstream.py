"""Reading a JetStream stream back in the tests: every stored message, in stream order."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

import nats
from nats.js.errors import NotFoundError

from tests.waiting import eventually


@dataclass(frozen=True)
class Stored:
    subject: str
    headers: dict[str, str]
    event: dict[str, Any]


async def stored_messages(url: str, stream: str) -> list[Stored]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(stream, seq)
            found.append(Stored(message.subject or "", dict(message.headers or {}), json.loads(message.data or b"{}")))
        return found
    finally:
        await nc.close()


async def message_count(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        try:
            info = await nc.jetstream().stream_info(stream)
        except NotFoundError:
            return 0
        return int(info.state.messages)
    finally:
        await nc.close()


async def wait_for_messages(url: str, stream: str, count: int, timeout_s: float = 60.0) -> None:
    async def enough() -> bool:
        return await message_count(url, stream) >= count

    await eventually(enough, timeout_s, f"{count} messages in stream {stream}", poll_s=0.05)


async def delete_stream(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()
