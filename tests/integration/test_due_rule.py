"""Due is said once in SQL (server.store.due) and once in the domain (server.domain.settle): the two agree.

Generated holds and lots with expiry times around the service clock's now are
judged by PostgreSQL through the SQL fragments and by the domain's functions.
At the scan's time (`now()`, fixed within a transaction) the verdicts must be
equal; at the statement's time (`clock_timestamp()`, which moves) they must be
equal wherever the domain's verdict is the same just before and just after.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import AsyncConnectionPool

from server.domain.holds import Hold, HoldStatus
from server.domain.model import Lot
from server.domain.settle import hold_is_due, lot_is_due
from server.store.due import hold_due, lot_due
from server.store.service_time import AT_SCAN, AT_STATEMENT

# Expiry times as offsets from now: right at it, a microsecond either side, and milliseconds to seconds away.
offsets = st.one_of(
    st.integers(-2, 2).map(lambda us: timedelta(microseconds=us)),
    st.integers(-3_000, 3_000).map(lambda ms: timedelta(milliseconds=ms)),
)
holds = st.lists(st.tuples(st.sampled_from(list(HoldStatus)), offsets), min_size=1, max_size=20)
# (remaining, held as a share of it, expiry offset): 0 <= held <= remaining, as the table's check demands.
lots = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 5), offsets).map(lambda t: (t[0], min(t[1], t[0]), t[2])),
    min_size=1,
    max_size=20,
)
# The service clock runs at real time in production and ahead of it in tests.
clock_offsets = st.sampled_from([timedelta(0), timedelta(minutes=5), timedelta(days=400)])


def a_hold(status: HoldStatus, expire_time: datetime) -> Hold:
    created_at = expire_time - timedelta(minutes=1)
    closed_at = None if status is HoldStatus.ACTIVE else created_at
    return Hold(
        "hd_x", "cus_due", "USD", 1, status, 0, "", "", "", {}, created_at, expire_time, closed_at, "", timedelta(1), ()
    )


def a_lot(remaining: int, held: int, expire_time: datetime) -> Lot:
    return Lot("cus_due", "USD", 1, "le_x", expire_time, max(remaining, 1), remaining, held)


async def verdicts(
    conn: psycopg.AsyncConnection[Any],
    now_sql: str,
    offset: timedelta,
    hold_rows: list[tuple[HoldStatus, datetime]],
    lot_rows: list[tuple[int, int, datetime]],
) -> tuple[list[bool], list[bool]]:
    """PostgreSQL's verdict on each hold and each lot, through the shared fragments at `now_sql`."""
    params = {
        "clock_offset": offset,
        "statuses": [status.value for status, _ in hold_rows],
        "hold_times": [at for _, at in hold_rows],
        "remaining": [remaining for remaining, _, _ in lot_rows],
        "held": [held for _, held, _ in lot_rows],
        "lot_times": [at for _, _, at in lot_rows],
    }
    on_holds = await conn.execute(
        f"SELECT {hold_due('h', now_sql)} FROM unnest(%(statuses)s::text[], %(hold_times)s::timestamptz[])"
        " WITH ORDINALITY AS h(status, expire_time, n) ORDER BY n",
        params,
    )
    hold_verdicts = [bool(row[0]) for row in await on_holds.fetchall()]
    on_lots = await conn.execute(
        f"SELECT {lot_due('l', now_sql)} FROM unnest(%(remaining)s::bigint[], %(held)s::bigint[],"
        " %(lot_times)s::timestamptz[]) WITH ORDINALITY AS l(remaining, held, expire_time, n) ORDER BY n",
        params,
    )
    return hold_verdicts, [bool(row[0]) for row in await on_lots.fetchall()]


async def service_now(conn: psycopg.AsyncConnection[Any], now_sql: str, offset: timedelta) -> datetime:
    row = await (await conn.execute(f"SELECT {now_sql}", {"clock_offset": offset})).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hold_offsets=holds, lot_offsets=lots, offset=clock_offsets)
async def test_the_sql_and_the_domain_agree_on_what_is_due(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    hold_offsets: list[tuple[HoldStatus, timedelta]],
    lot_offsets: list[tuple[int, int, timedelta]],
    offset: timedelta,
) -> None:
    async with pool.connection() as conn, conn.transaction():
        # The scan's now is fixed for the transaction: the verdicts are equal, case by case.
        now = await service_now(conn, AT_SCAN, offset)
        hold_rows = [(status, now + at) for status, at in hold_offsets]
        lot_rows = [(remaining, held, now + at) for remaining, held, at in lot_offsets]
        sql_holds, sql_lots = await verdicts(conn, AT_SCAN, offset, hold_rows, lot_rows)
        assert sql_holds == [hold_is_due(a_hold(*row), now) for row in hold_rows]
        assert sql_lots == [lot_is_due(a_lot(*row), now) for row in lot_rows]

        # The statement's now moves on: compare wherever the domain says the same just before and after.
        before = await service_now(conn, AT_STATEMENT, offset)
        hold_rows = [(status, before + at) for status, at in hold_offsets]
        lot_rows = [(remaining, held, before + at) for remaining, held, at in lot_offsets]
        sql_holds, sql_lots = await verdicts(conn, AT_STATEMENT, offset, hold_rows, lot_rows)
        after = await service_now(conn, AT_STATEMENT, offset)
        assert before <= after
        assert before - now < timedelta(minutes=1)  # both are the service clock: the database's time plus offset
        for verdict, (status, at) in zip(sql_holds, hold_rows, strict=True):
            early, late = hold_is_due(a_hold(status, at), before), hold_is_due(a_hold(status, at), after)
            assert verdict in {early, late}
        for verdict, (remaining, held, at) in zip(sql_lots, lot_rows, strict=True):
            early, late = lot_is_due(a_lot(remaining, held, at), before), lot_is_due(a_lot(remaining, held, at), after)
            assert verdict in {early, late}
