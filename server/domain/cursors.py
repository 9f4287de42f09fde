"""The event stream's cursor codec: the opaque text a caller holds for a stream position, both ways."""

from __future__ import annotations

import re

# A position of at most 18 digits (positions are bigint); ev_0 is before the first event.
_CURSOR = re.compile(r"ev_(0|[1-9][0-9]{0,17})")


def cursor_of(position: int) -> str:
    """The opaque cursor of a stream position, as callers see it."""
    return f"ev_{position}"


def position_of(cursor: str) -> int | None:
    """The stream position of a cursor this service issued; None for any other text."""
    found = _CURSOR.fullmatch(cursor)
    return None if found is None else int(found.group(1))
