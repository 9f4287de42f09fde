"""Scenarios 11 and 12: events delivered to a webhook endpoint and to NATS JetStream, under the write mix.

Each times every event from its change (`occurred_at`, the change's database
clock, taken before the commit: an upper bound of the delay from commit) to
its arrival: at an HTTP receiver that answers at once (scenario 11), or at an
ordered JetStream consumer, so after the stream stored it (scenario 12). The
write mix runs against the main server meanwhile; its throughput shows what
the sink costs the writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web

from bench.infra import REPO, start_wallet_server, stop_process
from tests.nats_server import nats_server
from wallet.v1 import webhooks_pb2, webhooks_pb2_grpc

# Loopback receivers are "private" addresses: the bench's servers allow them.
SINK_ENV = {"WALLET_WEBHOOK_ALLOW_PRIVATE_URLS": "true"}


@dataclass(frozen=True)
class _Pid:
    """A process whose CPU the measurement counts with the server's."""

    pid: int


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Arrivals:
    """(when the change occurred, how long its event took to arrive) of every event, in seconds."""

    def __init__(self) -> None:
        self.items: list[tuple[float, float]] = []
        self.since = 0.0

    def add(self, body: bytes) -> None:
        now = time.time()
        occurred = datetime.fromisoformat(json.loads(body)["occurredAt"]).timestamp()
        self.items.append((occurred, now - occurred))

    def summary(self, ended: float) -> dict[str, Any]:
        delays = [d for occurred, d in self.items if self.since <= occurred <= ended]
        if not delays:
            return {"events": 0}
        return {
            "events": len(delays),
            "events_per_s": round(len(delays) / max(ended - self.since, 1e-9), 1),
            "delivery_p50_ms": round(_percentile(delays, 0.5) * 1000, 1),
            "delivery_p99_ms": round(_percentile(delays, 0.99) * 1000, 1),
            "delivery_max_ms": round(max(delays) * 1000, 1),
        }


@contextlib.contextmanager
def _loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bench-sink", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@contextlib.contextmanager
def http_receiver(arrivals: Arrivals) -> Iterator[str]:
    """An aiohttp receiver answering 204 at once, in a thread of its own; yields its URL."""

    async def handle(request: web.Request) -> web.Response:
        arrivals.add(await request.read())
        return web.Response(status=204)

    async def start() -> tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_post("/hook", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return runner, int(port)

    with _loop_thread() as loop:
        runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
        try:
            yield f"http://127.0.0.1:{port}/hook"
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)


@contextlib.contextmanager
def jetstream_consumer(url: str, stream: str, arrivals: Arrivals) -> Iterator[None]:
    """An ordered JetStream consumer of every new message of the stream, in a thread of its own."""
    import nats

    async def start() -> Any:
        nc = await nats.connect(url)
        js = nc.jetstream()
        deadline = time.monotonic() + 30
        while True:  # the relay creates the stream
            try:
                await js.stream_info(stream)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

        async def on_message(message: Any) -> None:
            arrivals.add(message.data)

        await js.subscribe("wallet.events.>", stream=stream, ordered_consumer=True, deliver_policy="new", cb=on_message)
        return nc

    with _loop_thread() as loop:
        nc = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
        try:
            yield
        finally:
            asyncio.run_coroutine_threadsafe(nc.close(), loop).result(timeout=30)


def _scenario(ctx: Any, title: str, arrivals: Arrivals, load: Callable[[], Any], note: str) -> dict[str, Any]:
    arrivals.since = time.time()
    result = load()
    ended = time.time()
    time.sleep(1.0)  # the last changes' events arrive
    delivery = arrivals.summary(ended)
    met = delivery["events"] > 0 and delivery["delivery_p50_ms"] <= 100 and delivery["delivery_p99_ms"] <= 500
    return {
        "title": title,
        "throughput_per_s": result.throughput_per_s,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "baseline_per_s": None,
        "ratio": None,
        "target": "delivery p50<=100ms, p99<=500ms",
        "target_met": met,
        "events": delivery,
        "load": result.as_dict(),
        "notes": [
            f"{delivery['events']} events, {delivery.get('events_per_s')}/s {note}; delivery p50"
            f" {delivery.get('delivery_p50_ms')} ms, p99 {delivery.get('delivery_p99_ms')} ms,"
            f" max {delivery.get('delivery_max_ms')} ms (from the change's clock to arrival)"
        ],
    }


@contextlib.contextmanager
def sinks_process(database_url: str, log_dir: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m server sinks`, once it leads the webhook dispatcher (the API servers run with WALLET_SINKS=off)."""
    log_path = log_dir / "wallet-sinks.log"
    full_env = {**os.environ, **env, "DATABASE_URL": database_url, "WALLET_METRICS_ADDR": "", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "sinks"], cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "webhook dispatcher: leading" not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sinks process did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.1)
        yield proc
    finally:
        stop_process(proc)


def scenario_11(ctx: Any, write_mix: Callable[[list[str]], Any], env: dict[str, str]) -> dict[str, Any]:
    """A webhook endpoint answering at once, while the write mix runs against the main server.

    With WALLET_SINKS=off in the environment, a `python -m server sinks` process delivers instead of the server.
    """
    assert ctx.server is not None
    separate = env.get("WALLET_SINKS", "on").lower() in ("0", "off", "false", "no")
    where = "a separate sinks process" if separate else "the server"
    print(f"  service: write mix with a webhook endpoint answering at once, delivered by {where} ...", flush=True)
    arrivals = Arrivals()
    with contextlib.ExitStack() as stack:
        sinks = stack.enter_context(sinks_process(ctx.db.url, ctx.log_dir, env)) if separate else None
        result = _scenario_11(ctx, write_mix, arrivals, sinks)
        result["notes"].append(f"delivered by {where}")
        return result


def _scenario_11(
    ctx: Any, write_mix: Callable[[list[str]], Any], arrivals: Arrivals, sinks: subprocess.Popen[bytes] | None
) -> dict[str, Any]:
    servers = [ctx.server] if sinks is None else [ctx.server, _Pid(sinks.pid)]
    with http_receiver(arrivals) as url, grpc.insecure_channel(ctx.server.address) as channel:
        hooks = webhooks_pb2_grpc.WebhookServiceStub(channel)
        created = hooks.CreateWebhookEndpoint(webhooks_pb2.CreateWebhookEndpointRequest(url=url), timeout=10)
        try:
            return _scenario(
                ctx,
                "events POSTed to a webhook endpoint, under the write mix",
                arrivals,
                lambda: ctx.load(write_mix([ctx.server.address]), servers),
                "signed and POSTed",
            )
        finally:
            hooks.DeleteWebhookEndpoint(webhooks_pb2.DeleteWebhookEndpointRequest(id=created.endpoint.id), timeout=10)


def _wait_caught_up(database_url: str, timeout_s: float = 600.0) -> float:
    """Waits until the relay's first run has published every event already in the stream (it starts at the oldest)."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT (SELECT position FROM sink_positions WHERE sink = 'nats'), last_position FROM event_stream"
            ).fetchone()
            if row is not None and row[0] is not None and row[0] >= row[1]:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise TimeoutError("the relay did not catch up with the event stream")
            time.sleep(0.2)


def scenario_12(ctx: Any, write_mix: Callable[[list[str]], Any], env: dict[str, str]) -> dict[str, Any]:
    """The JetStream relay (on a second server process, which leads it) while the write mix runs on the main one."""
    assert ctx.server is not None
    print("  service: write mix with the NATS JetStream relay ...", flush=True)
    arrivals = Arrivals()
    stream = "WALLET_EVENTS_BENCH"
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(nats_server())
        relay_env = {**env, "WALLET_NATS_URL": url, "WALLET_NATS_STREAM": stream, "WALLET_METRICS_ADDR": ""}
        relay = start_wallet_server(stack, ctx.db.url, ctx.log_dir, "wallet-server-relay", relay_env)
        caught_up_s = _wait_caught_up(ctx.db.url)
        print(f"  the relay published the earlier scenarios' events in {caught_up_s:.1f} s", flush=True)
        stack.enter_context(jetstream_consumer(url, stream, arrivals))
        return _scenario(
            ctx,
            "events relayed to NATS JetStream, under the write mix",
            arrivals,
            lambda: ctx.load(write_mix([ctx.server.address]), [ctx.server, relay]),
            "stored in JetStream",
        )
