"""Process-wide interpreter settings for serving: the garbage collector's pace.

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

import gc

# Allocations between young-generation collections (CPython's default is 700),
# and how many young and middle collections run before an older one.
YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 20)


def tune_garbage_collector() -> None:
    """Freezes what exists now out of the collector's sight and slows its pace; call once, after startup."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
