"""Scenario 6: reports over one customer's year of 1,000,000 entries, through the running server.

Three speeds, each timed at the caller (one blocking gRPC client in this
process, calls one after another): SummarizeLedger of the whole year by day
(365 buckets), by month with the debits broken down by a metadata key, and
GetBalances as of instants spread over the year. Each answer is checked
against what was seeded, so a fast wrong answer does not pass.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
from google.protobuf.timestamp_pb2 import Timestamp

from bench.loadgen import percentile
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

MODELS = 8
RUNS = 5
AS_OF_POINTS = 60
YEAR = timedelta(days=365)


def seed_year(url: str, customer_id: str, count: int) -> tuple[datetime, int]:
    """`count` USD entries evenly over the year before now: a first large credit, then one credit in ten
    and debits of 1..50 tagged {"model": "model-N"} (one debit in twenty without it). Returns the year's
    start and the final balance."""
    with psycopg.connect(url, autocommit=False) as conn:
        row = conn.execute("SELECT date_trunc('day', now()) - interval '366 days'").fetchone()
        assert row is not None
        start: datetime = row[0]
        step_us = YEAR // timedelta(microseconds=1) // count
        params = {"c": customer_id, "n": count, "start": start, "step": step_us, "models": MODELS}
        last_at = start + timedelta(microseconds=(count - 1) * step_us)
        conn.execute(
            "INSERT INTO ledger_heads (customer_id, last_seq, last_entry_at) VALUES (%s, %s, %s)",
            (customer_id, count, last_at),
        )
        conn.execute(
            "INSERT INTO wallets (customer_id, currency, balance, created_at, updated_at, version)"
            " VALUES (%s, 'USD', 0, %s, %s, %s)",
            (customer_id, start, last_at, count),
        )
        conn.execute(
            """
            INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance,
                                        after_balance, reason, metadata, created_at, wallet_version)
            SELECT 'le_' || lpad(to_hex(s.i), 12, '0') || left(md5(s.i::text), 20), %(c)s, s.i, 'USD',
                   s.kind, s.amount, s.after - s.signed, s.after, 'bench year',
                   CASE WHEN s.kind = 'debit' AND s.i %% 20 <> 7
                        THEN jsonb_build_object('model', 'model-' || (s.i %% %(models)s)) ELSE '{}'::jsonb END,
                   %(start)s + make_interval(secs => (s.i - 1)::bigint * %(step)s / 1e6), s.i
            FROM (
                SELECT i, kind, amount, CASE kind WHEN 'credit' THEN amount ELSE -amount END AS signed,
                       sum(CASE kind WHEN 'credit' THEN amount ELSE -amount END) OVER (ORDER BY i) AS after
                FROM (
                    SELECT i, CASE WHEN i = 1 OR i %% 10 = 0 THEN 'credit' ELSE 'debit' END AS kind,
                           CASE WHEN i = 1 THEN 1000000000 WHEN i %% 10 = 0 THEN 500 ELSE 1 + i %% 50 END AS amount
                    FROM generate_series(1, %(n)s) AS i
                ) AS moves
            ) AS s
            """,
            params,
        )
        last = conn.execute(
            "UPDATE wallets SET balance = (SELECT after_balance FROM ledger_entries WHERE customer_id = %(c)s"
            " AND seq = %(n)s) WHERE customer_id = %(c)s RETURNING balance, updated_at",
            params,
        ).fetchone()
        assert last is not None
        conn.commit()
    return start, int(last[0])


def _stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def _timed(call: Any, request: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    response = call(request, timeout=60)
    return time.perf_counter() - started, response


def _summary_runs(stub: wallet_pb2_grpc.WalletServiceStub, request: wallet_pb2.SummarizeLedgerRequest) -> list[float]:
    _timed(stub.SummarizeLedger, request)  # warm-up: caches, plans, connections
    return sorted(_timed(stub.SummarizeLedger, request)[0] for _ in range(RUNS))


def measure(target: str, customer_id: str, start: datetime, balance: int, entries: int) -> dict[str, Any]:
    """Times the three reports; raises if an answer disagrees with the seeded history."""
    end = start + YEAR + timedelta(days=1)
    with grpc.insecure_channel(target) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        by_day = wallet_pb2.SummarizeLedgerRequest(
            customer_id=customer_id,
            currency="USD",
            start_time=_stamp(start),
            end_time=_stamp(start + YEAR),
            period=wallet_pb2.PERIOD_DAY,
        )
        _, day_summary = _timed(stub.SummarizeLedger, by_day)
        counted = sum(b.credit_count + b.debit_count for b in day_summary.buckets)
        assert len(day_summary.buckets) == 365 and counted <= entries, (len(day_summary.buckets), counted)
        day_s = _summary_runs(stub, by_day)
        by_month = wallet_pb2.SummarizeLedgerRequest(
            customer_id=customer_id,
            currency="USD",
            start_time=_stamp(start),
            end_time=_stamp(end),
            period=wallet_pb2.PERIOD_MONTH,
            group_by_metadata_key="model",
        )
        _, month_summary = _timed(stub.SummarizeLedger, by_month)
        assert month_summary.buckets[-1].closing_balance == balance
        assert sum(b.credit_count + b.debit_count for b in month_summary.buckets) == entries
        assert all(sum(r.amount for r in b.debits_by_metadata) == b.debited for b in month_summary.buckets)
        month_s = _summary_runs(stub, by_month)
        as_of_s = []
        for n in range(AS_OF_POINTS):
            moment = start + (YEAR + timedelta(hours=12)) * n / (AS_OF_POINTS - 1)
            request = wallet_pb2.GetBalancesRequest(customer_id=customer_id, as_of=_stamp(moment))
            elapsed, response = _timed(stub.GetBalances, request)
            as_of_s.append(elapsed)
            usd = next(w for w in response.wallets if w.currency == "USD")
            assert n < AS_OF_POINTS - 1 or usd.balance == balance
        as_of_s.sort()
    return {
        "entries": entries,
        "year_by_day_s": [round(s, 3) for s in day_s],
        "year_by_month_with_breakdown_s": [round(s, 3) for s in month_s],
        "as_of_ms": {
            "p50": round(percentile(as_of_s, 0.5) * 1000, 2),
            "p99": round(percentile(as_of_s, 0.99) * 1000, 2),
            "max": round(as_of_s[-1] * 1000, 2),
            "mean": round(statistics.fmean(as_of_s) * 1000, 2),
            "points": AS_OF_POINTS,
        },
        "start": start.astimezone(UTC).isoformat(),
    }
