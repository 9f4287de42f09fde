"""Load generator processes: grpc.aio clients with a fixed concurrency, bounded in requests and time.

`run_load(spec)` spawns `spec.processes` processes; each opens one channel to
its target, runs `spec.concurrency` callers in a closed loop (or paced to a
fixed total rate when `spec.rate` is set), and reports client-side timings.
All processes start at the same instant; calls of the first `warmup_s`
seconds are not counted. Throughput counts the calls that completed OK
inside the measurement window; latencies are those of the calls started
inside it (each call is timed from its start or, when paced, from its
scheduled start, so a stalled server cannot hide its queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import queue
import random
import signal
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc

from bench.infra import die_with_parent
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

CALL_TIMEOUT_S = 10.0
# Distinct prebuilt requests per process, reused in turn: building them is client work, not server work.
_REQUEST_POOL = 4_096
# Entries per batch of the batch loads, and prebuilt batches per process.
BATCH_ENTRIES = 100
_BATCH_POOL = 256


@dataclass(frozen=True)
class LoadSpec:
    kind: str  # "write_mix" | "hot_debit" | "get_balances" | "batch_credits" | "hot_batch"
    targets: tuple[str, ...]  # process i talks to targets[i % len(targets)]
    processes: int
    concurrency: int  # callers per process
    warmup_s: float
    duration_s: float
    max_requests: int  # per process, warmup included
    customer_prefix: str = ""
    customers: int = 1
    rate: float | None = None  # total calls per second across processes; None = closed loop
    seed: int = 1

    @property
    def total_concurrency(self) -> int:
        return self.processes * self.concurrency


@dataclass
class LoadResult:
    spec: dict[str, Any]
    throughput_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    ok_in_window: int
    ok_total: int
    unsent: int  # paced loads only: calls due before the end that the callers never got to send
    errors: dict[str, int]
    window_s: float
    cpu: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _requests(spec: LoadSpec, rng: random.Random) -> tuple[Callable[..., Any], list[Any]]:
    """The stub method to call and a pool of requests for it."""
    if spec.kind == "write_mix":
        requests = [
            wallet_pb2.CreateLedgerEntryRequest(
                customer_id=f"{spec.customer_prefix}{rng.randint(1, spec.customers)}",
                amount=rng.randint(1, 100),
                currency=rng.choice(("USD", "INR")),
                entry_type=rng.choice((wallet_pb2.ENTRY_TYPE_CREDIT, wallet_pb2.ENTRY_TYPE_DEBIT)),
                reason="bench",
            )
            for _ in range(_REQUEST_POOL)
        ]
        return (lambda stub: stub.CreateLedgerEntry), requests
    if spec.kind == "hot_debit":
        requests = [
            wallet_pb2.CreateLedgerEntryRequest(
                customer_id=f"{spec.customer_prefix}1",
                amount=rng.randint(1, 100),
                currency="USD",
                entry_type=wallet_pb2.ENTRY_TYPE_DEBIT,
                reason="bench",
            )
            for _ in range(_REQUEST_POOL)
        ]
        return (lambda stub: stub.CreateLedgerEntry), requests
    if spec.kind in ("batch_credits", "hot_batch"):
        return (lambda stub: stub.BatchCreateLedgerEntries), _batches(spec, rng)
    if spec.kind == "get_balances":
        requests = [
            wallet_pb2.GetBalancesRequest(customer_id=f"{spec.customer_prefix}{rng.randint(1, spec.customers)}")
            for _ in range(_REQUEST_POOL)
        ]
        return (lambda stub: stub.GetBalances), requests
    raise ValueError(f"unknown load kind {spec.kind!r}")


def _batches(spec: LoadSpec, rng: random.Random) -> list[wallet_pb2.BatchCreateLedgerEntriesRequest]:
    """Non-atomic batches of BATCH_ENTRIES: credits of distinct customers, or debits of one hot wallet."""
    batches = []
    for _ in range(_BATCH_POOL):
        if spec.kind == "batch_credits":
            customers = rng.sample(range(1, spec.customers + 1), BATCH_ENTRIES)
            kind = wallet_pb2.ENTRY_TYPE_CREDIT
        else:
            customers = [1] * BATCH_ENTRIES
            kind = wallet_pb2.ENTRY_TYPE_DEBIT
        requests = [
            wallet_pb2.CreateLedgerEntryRequest(
                customer_id=f"{spec.customer_prefix}{c}",
                amount=rng.randint(1, 100),
                currency="USD",
                entry_type=kind,
                reason="bench",
            )
            for c in customers
        ]
        batches.append(wallet_pb2.BatchCreateLedgerEntriesRequest(requests=requests))
    return batches


async def _drive(spec: LoadSpec, index: int, start_at: float, ready: Any) -> dict[str, Any]:
    rng = random.Random(spec.seed * 1_000 + index)
    method_of, requests = _requests(spec, rng)
    target = spec.targets[index % len(spec.targets)]
    async with grpc.aio.insecure_channel(target) as channel:
        await asyncio.wait_for(channel.channel_ready(), timeout=30)
        method = method_of(wallet_pb2_grpc.WalletServiceStub(channel))
        ready.put(index)
        # Wall-clock start shared by all processes, mapped onto this process's monotonic clock.
        while start_at.value == 0.0:
            await asyncio.sleep(0.005)
        mono_start = time.monotonic() + (start_at.value - time.time())
        warm_end = mono_start + spec.warmup_s
        end = warm_end + spec.duration_s
        await asyncio.sleep(max(0.0, mono_start - time.monotonic()))

        latencies = array("d")
        errors: Counter[str] = Counter()
        counters = {"issued": 0, "ok_in_window": 0, "ok_total": 0, "unsent": 0}
        interval = spec.processes / spec.rate if spec.rate else 0.0
        next_slot = [mono_start + (index / spec.processes) * interval]

        async def caller(slot_offset: int) -> None:
            position = slot_offset
            while True:
                if counters["issued"] >= spec.max_requests:
                    return
                if interval:
                    scheduled = next_slot[0]
                    next_slot[0] += interval
                    if scheduled >= end:
                        return
                    if time.monotonic() >= end:
                        # Behind schedule when time is up: what is left was offered but never sent.
                        counters["unsent"] = int((end - scheduled) / interval) + 1
                        return
                    delay = scheduled - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    started = scheduled
                else:
                    started = time.monotonic()
                    if started >= end:
                        return
                counters["issued"] += 1
                request = requests[position % len(requests)]
                position += spec.concurrency
                try:
                    await method(request, timeout=CALL_TIMEOUT_S)
                    ok = True
                except grpc.aio.AioRpcError as error:
                    ok = False
                    errors[error.code().name] += 1
                finished = time.monotonic()
                if ok:
                    counters["ok_total"] += 1
                    if warm_end <= finished <= end:
                        counters["ok_in_window"] += 1
                if warm_end <= started < end:
                    latencies.append(finished - started)

        await asyncio.gather(*(caller(i) for i in range(spec.concurrency)))
    return {
        "index": index,
        "latencies": latencies.tobytes(),
        "errors": dict(errors),
        **counters,
    }


def _worker(spec: LoadSpec, index: int, start_at: Any, ready: Any, results: Any) -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle: it stops us.
    try:
        results.put(asyncio.run(_drive(spec, index, start_at, ready)))
    except BaseException as error:  # Report, never hang the parent.
        results.put({"index": index, "failure": f"{type(error).__name__}: {error}"})
        raise


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


class Hooks:
    """Called by run_load at the edges of the measurement window (CPU meters, profilers)."""

    def window_started(self, pids: list[int]) -> None:
        """The measurement window begins; `pids` are the load generator processes."""

    def window_ended(self) -> None:
        """The measurement window is over (in-flight calls may still be finishing)."""


def run_load(spec: LoadSpec, hooks: Hooks | None = None) -> LoadResult:
    """Runs the load to completion (bounded by `spec`); raises if a process fails."""
    hooks = hooks or Hooks()
    context = multiprocessing.get_context("spawn")
    start_at = context.Value("d", 0.0)
    ready = context.Queue()
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(spec, i, start_at, ready, results), daemon=True, name=f"load-{i}")
        for i in range(spec.processes)
    ]
    try:
        for process in processes:
            process.start()
        for _ in processes:
            try:
                ready.get(timeout=60)
            except queue.Empty as error:
                raise RuntimeError("load generators did not connect within 60s") from error
        start = time.time() + 0.3
        start_at.value = start
        time.sleep(max(0.0, start + spec.warmup_s - time.time()))
        hooks.window_started([p.pid for p in processes if p.pid is not None])
        time.sleep(max(0.0, start + spec.warmup_s + spec.duration_s - time.time()))
        hooks.window_ended()
        reports = []
        for _ in processes:
            try:
                report = results.get(timeout=CALL_TIMEOUT_S + 30)
            except queue.Empty as error:
                raise RuntimeError("a load generator did not report in time") from error
            if "failure" in report:
                raise RuntimeError(f"load generator {report['index']} failed: {report['failure']}")
            reports.append(report)
        for process in processes:
            process.join(timeout=10)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                with contextlib.suppress(Exception):
                    process.kill()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    for report in reports:
        values = array("d")
        values.frombytes(report["latencies"])
        latencies.extend(values)
        errors.update(report["errors"])
    latencies.sort()
    ok_in_window = sum(r["ok_in_window"] for r in reports)
    return LoadResult(
        spec=asdict(spec),
        throughput_per_s=round(ok_in_window / spec.duration_s, 1),
        p50_ms=round(percentile(latencies, 0.50) * 1000, 2),
        p90_ms=round(percentile(latencies, 0.90) * 1000, 2),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        max_ms=round((latencies[-1] if latencies else 0.0) * 1000, 2),
        ok_in_window=ok_in_window,
        ok_total=sum(r["ok_total"] for r in reports),
        unsent=sum(r["unsent"] for r in reports),
        errors=dict(errors),
        window_s=spec.duration_s,
    )
