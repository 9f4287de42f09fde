"""Entry ids: unique and time-ordered."""

from __future__ import annotations

import random
import secrets
import time

# Entry ids need uniqueness, not secrecy: a generator seeded once from the OS
# spares every id a getrandom system call. 80 random bits per millisecond make a
# collision negligible, and the (customer_id, id) unique key would refuse one.
_id_random = random.Random(secrets.randbits(128))


def new_entry_id() -> str:
    """`le_` + 12 hex digits of milliseconds + 20 random ones."""
    return f"le_{time.time_ns() // 1_000_000:012x}{_id_random.getrandbits(80):020x}"
