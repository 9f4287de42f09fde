"""Builds the gRPC server: WalletService, health, reflection and interceptors, on one pool.

`create_server(settings, database_url)` returns `(server, port)` so that tests
can bind port 0 and learn the port; `server.start()` and `server.stop(grace)`
own the lifecycle of everything it built, the metrics endpoint and the tracer
provider included (`server.telemetry`, docs/observability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.sdk.trace import TracerProvider
from psycopg_pool import AsyncConnectionPool

from server.api.access_log import AccessLog
from server.api.auth import Authenticator, load_callers
from server.api.interceptors import CallScopeInterceptor
from server.api.servicer import WalletServicer
from server.api.webhook_servicer import WebhookServicer
from server.config import Settings
from server.delivery.clock import Clock as SinkClock
from server.delivery.sinks import Sinks
from server.ledger import Ledger
from server.ledger.clock import Clock
from server.observability.telemetry import Telemetry
from server.store.db import create_pool
from server.store.failover import WalletPool
from wallet.v1 import wallet_pb2, wallet_pb2_grpc, webhooks_pb2, webhooks_pb2_grpc

logger = logging.getLogger(__name__)

SERVICE_NAME = wallet_pb2.DESCRIPTOR.services_by_name["WalletService"].full_name
WEBHOOK_SERVICE_NAME = webhooks_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name
HEALTH_CHECK_INTERVAL_S = 1.0
HEALTH_PROBE_TIMEOUT_S = 2
SEND_MESSAGE_BYTES_MIN = 8 << 20


class AddressInUse(RuntimeError):
    """The listen address is taken (or cannot be bound)."""


class WalletServer:
    """The running service: the gRPC server, its connection pool and its health monitor."""

    def __init__(
        self,
        grpc_server: grpc.aio.Server,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        ledger: Ledger,
        health_servicer: health.aio.HealthServicer,
        database_url: str,
        access_log: AccessLog,
        telemetry: Telemetry,
        sinks: Sinks,
    ) -> None:
        self.sinks = sinks
        self._database_url = database_url
        self.telemetry = telemetry
        self.access_log = access_log
        self._access_log_task: asyncio.Task[None] | None = None
        self.grpc_server = grpc_server
        self.pool = pool
        self.ledger = ledger
        self.health = health_servicer
        self._monitor: asyncio.Task[None] | None = None
        # Set by stop(). The monitor loop checks it as well as being cancelled: on Python
        # 3.11, asyncio.wait_for can swallow a cancellation that lands as its inner call
        # completes, and a monitor that missed its cancel kept a test session's teardown
        # waiting forever.
        self._stopping = False

    async def start(self) -> None:
        await self.pool.open(wait=False)
        self.telemetry.start()
        await self.grpc_server.start()
        self.ledger.start()
        self.sinks.start()
        self._monitor = asyncio.create_task(self._watch_database())
        self._access_log_task = asyncio.create_task(self.access_log.run())

    async def stop(self, grace_s: float | None) -> None:
        """Stops taking calls, lets in-flight calls finish within the grace period, then closes the pool."""
        await self.health.enter_graceful_shutdown()
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            # Bounded: one probe and one interval at most, even if the cancel was swallowed.
            await asyncio.wait({self._monitor}, timeout=HEALTH_PROBE_TIMEOUT_S + HEALTH_CHECK_INTERVAL_S + 1)
        await self.grpc_server.stop(grace_s)
        await self.sinks.stop()
        await self.ledger.close()
        if self._access_log_task is not None:
            self._access_log_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._access_log_task
        await self.pool.close()
        # In a thread: the tracer provider's shutdown blocks while it sends the last spans.
        await asyncio.to_thread(self.telemetry.stop)

    async def wait_for_termination(self) -> None:
        await self.grpc_server.wait_for_termination()

    async def _set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)
        if self.telemetry.serving is not None:
            self.telemetry.serving.set(1 if serving else 0)

    async def _watch_database(self) -> None:
        """SERVING while a primary database answers, NOT_SERVING while none does (down, failing over).

        The probe has a connection of its own, outside the pool: a pool busy with
        calls means a loaded server, not an unreachable database.
        """
        serving: bool | None = None
        probe: psycopg.AsyncConnection[Any] | None = None
        try:
            while not self._stopping:
                try:
                    if probe is None or probe.closed:
                        probe = await psycopg.AsyncConnection.connect(
                            self._database_url, autocommit=True, connect_timeout=HEALTH_PROBE_TIMEOUT_S
                        )
                    cursor = await asyncio.wait_for(probe.execute("SELECT pg_is_in_recovery()"), HEALTH_PROBE_TIMEOUT_S)
                    row = await cursor.fetchone()
                    if row is None or row[0]:
                        # A standby (a demoted primary, say) takes no writes: look for the primary again.
                        raise psycopg.OperationalError("the database server is a standby")
                    now_serving = True
                except Exception as error:
                    now_serving = False
                    if serving is not False:
                        logger.warning("database unreachable: %s", type(error).__name__)
                    if probe is not None:
                        await probe.close()
                        probe = None
                    # Drop dead idle connections now rather than failing one call per connection.
                    await self.pool.check()
                if isinstance(self.pool, WalletPool) and not now_serving:
                    # Reachable again only once the pool itself has a connection.
                    self.pool.reachable = False
                if now_serving != serving:
                    serving = now_serving
                    await self._set_serving(serving)
                    logger.info("health: %s", "SERVING" if serving else "NOT_SERVING")
                await asyncio.sleep(HEALTH_CHECK_INTERVAL_S)
        finally:
            if probe is not None:
                await probe.close()


def _server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials when a certificate is configured; mutual TLS when a client CA is too."""
    if not settings.tls_cert_file or not settings.tls_key_file:
        return None
    chain = Path(settings.tls_cert_file).read_bytes()
    key = Path(settings.tls_key_file).read_bytes()
    client_ca = Path(settings.tls_client_ca_file).read_bytes() if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


async def create_server(
    settings: Settings,
    database_url: str,
    *,
    tracer_provider: TracerProvider | None = None,
    sink_clock: SinkClock | None = None,
    clock: Clock | None = None,
) -> tuple[WalletServer, int]:
    """Builds the server bound to `settings.listen_addr`; returns it with the bound port.

    `tracer_provider` replaces the one OTEL_* would configure (tests pass one with an in-memory exporter);
    `clock` is the service's time (`server.ledger.clock`; tests move it, `WalletServer.ledger.clock`).
    `sink_clock` the clock webhook retries are scheduled by (tests move it instead of waiting).
    """
    authenticator = Authenticator(load_callers(settings.auth_file)) if settings.auth_file else None
    credentials = _server_credentials(settings)
    access_log = AccessLog()
    pool = create_pool(settings, database_url)
    try:
        telemetry = Telemetry.from_settings(settings, tracer_provider)
    except OSError as error:
        raise AddressInUse(str(error)) from error
    ledger = Ledger(pool, settings, metrics=telemetry.ledger_metrics, tracer=telemetry.tracer, clock=clock)
    interceptor = CallScopeInterceptor(
        access_log, authenticator, metrics=telemetry.rpc_metrics, tracer=telemetry.tracer
    )
    grpc_server = grpc.aio.server(
        interceptors=[interceptor],
        options=[
            # Without this a second server on the same port silently shares its traffic.
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            # Stream messages are sized by the server (about 1 MiB at most), not by the
            # request limit, so the send limit must not shrink with it.
            ("grpc.max_send_message_length", max(4 * settings.max_message_bytes, SEND_MESSAGE_BYTES_MIN)),
            ("grpc.keepalive_time_ms", 60_000),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ],
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
    )
    wallet_pb2_grpc.add_WalletServiceServicer_to_server(WalletServicer(ledger, settings), grpc_server)
    sinks = Sinks(pool, ledger.events, settings, telemetry.sink_metrics, clock=sink_clock)
    webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(WebhookServicer(sinks.webhooks), grpc_server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    if settings.reflection:
        reflection.enable_server_reflection(
            (SERVICE_NAME, WEBHOOK_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), grpc_server
        )
    try:
        if credentials is None:
            port = grpc_server.add_insecure_port(settings.listen_addr)
        else:
            port = grpc_server.add_secure_port(settings.listen_addr, credentials)
    except RuntimeError as error:
        telemetry.stop()
        raise AddressInUse(_listen_error(settings)) from error
    if port == 0:
        telemetry.stop()
        raise AddressInUse(_listen_error(settings))
    return WalletServer(grpc_server, pool, ledger, health_servicer, database_url, access_log, telemetry, sinks), port


def _listen_error(settings: Settings) -> str:
    return (
        f"cannot listen on {settings.listen_addr}: address in use or invalid; set WALLET_LISTEN_ADDR to another address"
    )
