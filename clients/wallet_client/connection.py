"""Where and how the client connects: target, deadlines, keepalive, TLS, and the state both clients hold."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc

from wallet.v1 import wallet_pb2_grpc
from wallet_client.retry import RetryPolicy
from wallet_client.tracing import call_metadata

DEFAULT_TARGET = "127.0.0.1:50051"
TARGET_ENV = "WALLET_ADDR"

# Pings only while calls are open, every 30 s: a dead connection (a NAT
# that forgot us, a crashed host) fails the call instead of hanging it. The
# server accepts pings down to every 10 s.
KEEPALIVE_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 0),
    # After a dropped connection, reconnect soon: our own retries already back off.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5_000),
)


def default_target() -> str:
    """`WALLET_ADDR` from the environment, else 127.0.0.1:50051."""
    return os.environ.get(TARGET_ENV) or DEFAULT_TARGET


@dataclass(frozen=True)
class ClientSettings:
    """Everything a client needs besides the channel; every field has a default.

    `timeout_s` is the deadline of each unary attempt; `stream_timeout_s` that
    of each history stream (None: no deadline, since an export may take long;
    keepalive still notices a dead peer). `metadata` is sent with every call,
    for example `(("authorization", "Bearer …"),)`.
    """

    target: str = field(default_factory=default_target)
    credentials: grpc.ChannelCredentials | None = None
    timeout_s: float = 10.0
    stream_timeout_s: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    options: Sequence[tuple[str, Any]] = ()
    metadata: Sequence[tuple[str, str]] = ()

    def channel_options(self) -> list[tuple[str, Any]]:
        chosen = {name for name, _ in self.options}
        return [*self.options, *((name, value) for name, value in KEEPALIVE_OPTIONS if name not in chosen)]


def open_channel(settings: ClientSettings) -> grpc.Channel:
    """A blocking channel: TLS when credentials are given, plaintext otherwise."""
    if settings.credentials is not None:
        return grpc.secure_channel(settings.target, settings.credentials, options=settings.channel_options())
    return grpc.insecure_channel(settings.target, options=settings.channel_options())


def open_aio_channel(settings: ClientSettings) -> grpc.aio.Channel:
    """An asyncio channel: TLS when credentials are given, plaintext otherwise."""
    if settings.credentials is not None:
        return grpc.aio.secure_channel(settings.target, settings.credentials, options=settings.channel_options())
    return grpc.aio.insecure_channel(settings.target, options=settings.channel_options())


ChannelT = TypeVar("ChannelT", grpc.Channel, grpc.aio.Channel)


class ClientBase(Generic[ChannelT]):
    """What both clients hold: their settings, the channel (their own, or one the caller owns) and the stub."""

    def __init__(
        self,
        target: str | None = None,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        timeout_s: float = 10.0,
        stream_timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
        options: Sequence[tuple[str, Any]] = (),
        metadata: Sequence[tuple[str, str]] = (),
        channel: ChannelT | None = None,
    ) -> None:
        self.settings = ClientSettings(
            target=target or default_target(),
            credentials=credentials,
            timeout_s=timeout_s,
            stream_timeout_s=stream_timeout_s,
            retry=retry or RetryPolicy(),
            options=options,
            metadata=metadata,
        )
        self._owns_channel = channel is None
        self._channel: ChannelT = channel if channel is not None else self._open_channel(self.settings)
        self._stub: wallet_pb2_grpc.WalletServiceStub = wallet_pb2_grpc.WalletServiceStub(self._channel)

    def _open_channel(self, settings: ClientSettings) -> ChannelT:
        raise NotImplementedError

    def _send(self, method: str, request: Any, timeout_s: float | None) -> Any:
        """Starts one attempt of stub method `method`: its response, awaitable or stream."""
        # The trace context is read per attempt: a retry belongs to the caller's span of that moment.
        metadata = call_metadata(self.settings.metadata)
        return getattr(self._stub, method)(request, timeout=timeout_s, metadata=metadata)
