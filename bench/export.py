"""Scenario 4: one customer's whole history through ListLedgerEntries, and its raw-SQL baseline.

The consumer is a separate process (a grpc.aio client that reads every entry
and sums the amounts, so the check that nothing was lost costs it one field
access per entry). While it runs, a thread polls the server's RSS every 10 ms.
The baseline reads the same rows, same columns, same order, through a psycopg
server-side cursor in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import signal
import threading
import time
from typing import Any

import grpc
import psutil
import psycopg

from bench.infra import die_with_parent
from bench.loadgen import percentile
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

EXPORT_TIMEOUT_S = 900.0
_COLUMNS = (
    "id, customer_id, seq, currency, entry_type, amount, before_balance, after_balance, reason,"
    " idempotency_key, metadata, created_at, created_by"
)


async def _consume(target: str, customer_id: str) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(target) as channel:
        await asyncio.wait_for(channel.channel_ready(), timeout=30)
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        count = 0
        amount_sum = 0
        last_after = None
        messages = 0
        started = time.perf_counter()
        cpu_started = time.process_time()
        first_message_s = None
        gaps: list[float] = []
        previous = started
        call = stub.ListLedgerEntries(
            wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id), timeout=EXPORT_TIMEOUT_S
        )
        async for response in call:
            now = time.perf_counter()
            if first_message_s is None:
                first_message_s = now - started
            gaps.append(now - previous)
            previous = now
            messages += 1
            for entry in response.entries:
                amount_sum += entry.amount
            count += len(response.entries)
            if response.entries:
                last_after = response.entries[-1].after_balance
        elapsed = time.perf_counter() - started
        consumer_cpu_s = time.process_time() - cpu_started
    gaps.sort()
    return {
        "message_gap_p50_ms": round(percentile(gaps, 0.50) * 1000, 2),
        "message_gap_p99_ms": round(percentile(gaps, 0.99) * 1000, 2),
        "entries": count,
        "messages": messages,
        "amount_sum": amount_sum,
        "last_after_balance": last_after,
        "elapsed_s": elapsed,
        "consumer_cores": round(consumer_cpu_s / elapsed, 3),
        "first_message_s": first_message_s,
    }


def _consumer(target: str, customer_id: str, results: Any) -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle: it stops us.
    try:
        results.put(asyncio.run(_consume(target, customer_id)))
    except BaseException as error:
        results.put({"failure": f"{type(error).__name__}: {error}"})
        raise


class RssPoller:
    """Polls one process's RSS in a thread; `peak` and `start` are in bytes."""

    def __init__(self, pid: int, interval_s: float = 0.01) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval_s
        self._stop = threading.Event()
        self.start_rss = self._process.memory_info().rss
        self.peak = self.start_rss
        self.samples = 0
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                rss = self._process.memory_info().rss
                self.peak = max(self.peak, rss)
                self.samples += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> RssPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def export_through_service(target: str, server_pid: int, customer_id: str) -> dict[str, Any]:
    """Streams the customer's history into a consumer process; returns rate, checks and RSS growth."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_consumer, args=(target, customer_id, results), daemon=True)
    try:
        with RssPoller(server_pid) as rss:
            process.start()
            try:
                report = results.get(timeout=EXPORT_TIMEOUT_S + 60)
            except queue.Empty as error:
                raise RuntimeError("the export consumer did not report in time") from error
        process.join(timeout=10)
    finally:
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)
    if "failure" in report:
        raise RuntimeError(f"export consumer failed: {report['failure']}")
    report["server_rss_start_mb"] = round(rss.start_rss / 2**20, 1)
    report["server_rss_peak_mb"] = round(rss.peak / 2**20, 1)
    report["export_peak_rss_growth_mb"] = round((rss.peak - rss.start_rss) / 2**20, 1)
    report["rss_samples"] = rss.samples
    report["entries_per_s"] = round(report["entries"] / report["elapsed_s"], 1)
    return report


def export_through_cursor(url: str, customer_id: str, itersize: int = 10_000) -> dict[str, Any]:
    """The raw read rate: the same rows through a psycopg server-side (named) cursor."""
    started = time.perf_counter()
    count = 0
    amount_sum = 0
    with psycopg.connect(url) as conn, conn.cursor(name="bench_export") as cursor:
        cursor.itersize = itersize
        cursor.execute(f"SELECT {_COLUMNS} FROM ledger_entries WHERE customer_id = %s ORDER BY seq", (customer_id,))
        while rows := cursor.fetchmany(itersize):
            for row in rows:
                amount_sum += row[5]
            count += len(rows)
    elapsed = time.perf_counter() - started
    return {
        "entries": count,
        "amount_sum": amount_sum,
        "elapsed_s": elapsed,
        "entries_per_s": round(count / elapsed, 1),
        "itersize": itersize,
    }
