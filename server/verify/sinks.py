"""Where each event sink stands: its position in the event stream and how far behind the stream it is.

Reported by `wallet-admin verify` (`make verify`): every webhook endpoint and
the NATS relay (once it has run), with the events of their types still to
deliver and the age of the oldest of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from server.domain.cursors import cursor_of

_SINKS = """
WITH sinks AS (
    SELECT 'webhook ' || id || ' (' || status || ')' AS name, last_position AS position, event_types AS types
    FROM webhook_endpoints
    UNION ALL
    SELECT sink, position, '[]'::jsonb FROM sink_positions
)
SELECT s.name, s.position,
       (SELECT count(*) FROM wallet_events v WHERE v.position > s.position
            AND (s.types = '[]'::jsonb OR s.types ? v.event_type)),
       (SELECT min(v.occurred_at) FROM wallet_events v WHERE v.position > s.position
            AND (s.types = '[]'::jsonb OR s.types ? v.event_type)),
       (SELECT last_position FROM event_stream WHERE id = 1)
FROM sinks s ORDER BY s.name
"""


@dataclass(frozen=True)
class SinkStanding:
    name: str
    position: int
    stream_position: int
    # Events of the sink's types after its position, and when the oldest of them occurred.
    behind: int
    oldest_undelivered: datetime | None

    def describe(self, now: datetime) -> str:
        if not self.behind:
            return (
                f"{self.name}: at {cursor_of(self.position)}, up to date (stream at {cursor_of(self.stream_position)})"
            )
        assert self.oldest_undelivered is not None
        age = (now - self.oldest_undelivered).total_seconds()
        return (
            f"{self.name}: at {cursor_of(self.position)}, {self.behind} event(s) behind the stream's"
            f" {cursor_of(self.stream_position)},"
            f" the oldest {age:.1f} s old"
        )


def sink_standings(database_url: str) -> list[SinkStanding]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(_SINKS).fetchall()
    return [SinkStanding(r[0], int(r[1]), int(r[4]), int(r[2]), r[3]) for r in rows]
