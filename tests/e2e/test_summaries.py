"""SummarizeLedger end to end: local periods, clipping, empty periods, the metadata breakdown, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from tests.e2e.helpers import field_violations
from tests.seeding import SeededEntry, seed_history
from wallet.v1 import wallet_pb2, wallet_pb2_grpc


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def request(customer_id: str, start: datetime, end: datetime, **fields: Any) -> wallet_pb2.SummarizeLedgerRequest:
    return wallet_pb2.SummarizeLedgerRequest(
        customer_id=customer_id, currency="USD", start_time=stamp(start), end_time=stamp(end), **fields
    )


def rows(response: wallet_pb2.SummarizeLedgerResponse) -> list[tuple[datetime, int, int, int, int, int, int]]:
    return [
        (
            b.start_time.ToDatetime(tzinfo=UTC),
            b.opening_balance,
            b.credited,
            b.debited,
            b.expired,
            b.closing_balance,
            b.credit_count + b.debit_count + b.expiration_count,
        )
        for b in response.buckets
    ]


async def test_days_in_berlin_around_the_autumn_change_clip_to_the_range_and_keep_empty_days(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    history: list[SeededEntry] = [
        (utc(2025, 10, 20), "credit", 1_000, {}),  # before the range: the opening balance
        (utc(2025, 10, 25, 21, 59), "debit", 100, {}),  # 23:59 CEST on the 25th
        (utc(2025, 10, 25, 22), "debit", 50, {}),  # 00:00 CEST on the 26th, a day of 25 hours
        (utc(2025, 10, 26, 22, 59), "credit", 7, {}),  # 23:59 CET, still the 26th
        (utc(2025, 10, 26, 23), "expiration", 7, {}),  # 00:00 CET on the 27th
        (utc(2025, 10, 29, 12), "debit", 1, {}),  # after the range
    ]
    seed_history(database_url, customer_id, history)
    response = await stub.SummarizeLedger(
        request(
            customer_id,
            utc(2025, 10, 25, 12),
            utc(2025, 10, 28, 12),
            period=wallet_pb2.PERIOD_DAY,
            time_zone="Europe/Berlin",
        )
    )
    assert (response.customer_id, response.currency, response.time_zone) == (customer_id, "USD", "Europe/Berlin")
    assert response.minor_unit_exponent == 2
    assert rows(response) == [
        (utc(2025, 10, 25, 12), 1_000, 0, 100, 0, 900, 1),  # clipped: from noon UTC
        (utc(2025, 10, 25, 22), 900, 7, 50, 0, 857, 2),
        (utc(2025, 10, 26, 23), 857, 0, 0, 7, 850, 1),
        (utc(2025, 10, 27, 23), 850, 0, 0, 0, 850, 0),  # an empty day, clipped at the end
    ]
    assert response.buckets[-1].end_time.ToDatetime(tzinfo=UTC) == utc(2025, 10, 28, 12)
    assert (response.buckets[1].end_time.seconds - response.buckets[1].start_time.seconds) == 25 * 3600


async def test_a_range_without_a_period_is_one_bucket_and_a_future_end_is_allowed(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    seed_history(database_url, customer_id, [(utc(2025, 1, 1), "credit", 500, {}), (utc(2025, 2, 1), "debit", 5, {})])
    response = await stub.SummarizeLedger(request(customer_id, utc(2024, 1, 1), datetime.now(UTC) + timedelta(days=9)))
    assert [r[1:] for r in rows(response)] == [(0, 500, 5, 0, 495, 2)]


async def test_hours_in_kolkata_begin_at_half_past_in_utc(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    seed_history(
        database_url,
        customer_id,
        [(utc(2025, 1, 1, 0, 29), "credit", 1, {}), (utc(2025, 1, 1, 0, 30), "credit", 2, {})],
    )
    response = await stub.SummarizeLedger(
        request(
            customer_id, utc(2025, 1, 1), utc(2025, 1, 1, 2), period=wallet_pb2.PERIOD_HOUR, time_zone="Asia/Kolkata"
        )
    )
    assert rows(response) == [
        (utc(2025, 1, 1), 0, 1, 0, 0, 1, 1),
        (utc(2025, 1, 1, 0, 30), 1, 2, 0, 0, 3, 1),
        (utc(2025, 1, 1, 1, 30), 3, 0, 0, 0, 3, 0),
    ]


async def test_the_breakdown_names_the_top_twenty_values_then_the_others_then_debits_without_one(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    start = utc(2025, 3, 1)
    history: list[SeededEntry] = [(start, "credit", 1_000_000, {})]
    # model-00 is the cheapest ... model-23 the dearest; model-01 and model-02 tie with one debit of 20 each.
    for n in range(24):
        amount = 20 if n in (1, 2) else 10 * (n + 1)
        history.append((start + timedelta(minutes=n + 1), "debit", amount, {"model": f"model-{n:02d}"}))
    history.append((start + timedelta(hours=1), "debit", 1_000, {"other_key": "x"}))
    history.append((start + timedelta(hours=2), "debit", 2_000, {"model": ""}))
    history.append((start + timedelta(hours=3), "debit", 3, {"model": "model-23"}))
    seed_history(database_url, customer_id, history)
    response = await stub.SummarizeLedger(
        request(customer_id, start, utc(2025, 3, 3), period=wallet_pb2.PERIOD_DAY, group_by_metadata_key="model")
    )
    first, empty = response.buckets
    breakdown = [(r.value, r.amount, r.count) for r in first.debits_by_metadata]
    assert breakdown[0] == ("model-23", 243, 2)
    assert [value for value, _, _ in breakdown[:20]] == [f"model-{n:02d}" for n in range(23, 3, -1)]
    # model-03 (40) is the 21st largest; model-00 (10), model-01 (20) and model-02 (20) are left too.
    assert breakdown[20:] == [("(other)", 90, 4), ("(none)", 3_000, 2)]
    assert sum(r[1] for r in breakdown) == first.debited and sum(r[2] for r in breakdown) == first.debit_count
    assert list(empty.debits_by_metadata) == []


async def test_twenty_values_and_a_tie_at_the_cut_are_decided_by_value(
    stub: wallet_pb2_grpc.WalletServiceStub, customer_id: str, database_url: str
) -> None:
    start = utc(2025, 3, 1)
    history: list[SeededEntry] = [(start, "credit", 1_000, {})]
    history += [(start + timedelta(seconds=n + 1), "debit", 5, {"k": f"v{n:02d}"}) for n in range(21)]
    seed_history(database_url, customer_id, history)
    response = await stub.SummarizeLedger(request(customer_id, start, utc(2025, 3, 2), group_by_metadata_key="k"))
    values = [r.value for r in response.buckets[0].debits_by_metadata]
    assert values == [f"v{n:02d}" for n in range(20)] + ["(other)"]


BAD_REQUESTS = [
    ("no customer", {"customer_id": ""}, "customer_id"),
    ("no currency", {"currency": ""}, "currency"),
    ("unsupported currency", {"currency": "EUR"}, "currency"),
    ("no start", {"start_time": None}, "start_time"),
    ("no end", {"end_time": None}, "end_time"),
    ("end before start", {"end_time": stamp(utc(2024, 12, 31))}, "end_time"),
    ("end at start", {"end_time": stamp(utc(2025, 1, 1))}, "end_time"),
    ("unknown period", {"period": 9}, "period"),
    ("unknown zone", {"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ("machine's zone", {"time_zone": "localtime"}, "time_zone"),
    ("key too long", {"group_by_metadata_key": "k" * 41}, "group_by_metadata_key"),
    ("too many hours", {"period": wallet_pb2.PERIOD_HOUR, "end_time": stamp(utc(2025, 3, 1))}, "period"),
]


@pytest.mark.parametrize(("fields", "field"), [case[1:] for case in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS])
async def test_every_bad_field_is_refused_by_name_in_a_bad_request(
    stub: wallet_pb2_grpc.WalletServiceStub, fields: dict[str, Any], field: str
) -> None:
    message = request("cus_bad", utc(2025, 1, 1), utc(2025, 2, 1))
    for name, value in fields.items():
        if value is None:
            message.ClearField(name)  # type: ignore[arg-type]
        elif isinstance(value, Timestamp):
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SummarizeLedger(message)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused.value) == [field]
