"""The service clock in SQL: the database's time plus the clock's offset (`server.ledger.clock`).

Every statement that asks what time it is uses one of these two, with the
offset bound as `%(clock_offset)s`:

- `AT_STATEMENT` (`clock_timestamp()`): the instant the statement evaluates
  it. A write batch decides at the moment it holds its locks, which may be
  long after its transaction began, and reads answer at the moment they run.
- `AT_SCAN` (`now()`: the transaction's start, stable within it): the scans
  of the background pass (the expirer's, the pruners'). A stable time lets a
  scan use an index on the time column, which a volatile one would not; what
  comes due a moment later is found on the next pass.
"""

from __future__ import annotations

AT_STATEMENT = "clock_timestamp() + %(clock_offset)s"
AT_SCAN = "now() + %(clock_offset)s"
