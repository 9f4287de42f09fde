"""Process-wide interpreter settings for serving: the event loop, and the garbage collector's pace.

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

import asyncio
import gc
import logging
from collections.abc import Callable

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
