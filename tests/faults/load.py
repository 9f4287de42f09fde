"""A load of credits and debits with idempotency keys that retries until each request has an answer.

Each worker thread owns a fixed list of operations (customer, currency, type,
amount, key) and sends them one after another on its own channel. A request
that fails with a retryable code (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, or
what the test says) is
sent again with the same key until it gets an answer or the load gives up;
every failed attempt's code is counted, so a test can show which codes the
callers saw while the fault lasted. `verify_against_ledger` then checks the
exactly-once contract against the database.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
import weakref
from collections import Counter
from dataclasses import dataclass, field

import grpc
import psycopg

from tests.faults.servers import FAST_RECONNECT
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

# Every load not yet stopped, so that a failed test cannot leave its workers retrying into the next one.
_RUNNING: weakref.WeakSet[LedgerLoad] = weakref.WeakSet()

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED})
CURRENCIES = ("USD", "INR")


@dataclass(frozen=True)
class Operation:
    customer_id: str
    currency: str
    entry_type: int
    amount: int
    key: str

    def request(self) -> wallet_pb2.CreateLedgerEntryRequest:
        return wallet_pb2.CreateLedgerEntryRequest(
            customer_id=self.customer_id,
            currency=self.currency,
            entry_type=self.entry_type,  # type: ignore[arg-type]
            amount=self.amount,
            reason="fault load",
            idempotency_key=self.key,
            metadata={"load": "faults"},
        )


@dataclass
class Result:
    """How one operation ended: `code` is OK, a refusal, or None when the load gave up on it."""

    operation: Operation
    code: grpc.StatusCode | None = None
    details: str = ""
    entry_id: str = ""
    replayed: bool = False
    attempts: int = 0
    failures: list[grpc.StatusCode] = field(default_factory=list)


def make_operations(customers: list[str], workers: int, per_worker: int, seed: int) -> list[list[Operation]]:
    """Each worker's operations: mostly credits, debits small enough that most of them succeed."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    plans: list[list[Operation]] = []
    for worker in range(workers):
        plan = []
        for number in range(per_worker):
            credit = rng.random() < 0.6
            plan.append(
                Operation(
                    customer_id=rng.choice(customers),
                    currency=rng.choice(CURRENCIES),
                    entry_type=wallet_pb2.ENTRY_TYPE_CREDIT if credit else wallet_pb2.ENTRY_TYPE_DEBIT,
                    amount=rng.randint(50, 500) if credit else rng.randint(1, 200),
                    key=f"load-{run}-w{worker}-{number}",
                )
            )
        plans.append(plan)
    return plans


class LedgerLoad:
    """Worker threads applying their operations to the server at `address`, retrying with the same keys."""

    def __init__(
        self,
        address: str,
        customers: list[str],
        *,
        workers: int = 8,
        per_worker: int = 50,
        seed: int = 0,
        call_timeout_s: float = 10.0,
        give_up_after_s: float = 90.0,
        pause_s: float = 0.0,
        retryable: frozenset[grpc.StatusCode] = RETRYABLE,
    ) -> None:
        self.address = address
        self.customers = customers
        self.plans = make_operations(customers, workers, per_worker, seed)
        self.call_timeout_s = call_timeout_s
        self.give_up_after_s = give_up_after_s
        self.pause_s = pause_s
        self.retryable = retryable
        self.results: list[Result] = []
        self.failed_attempts: Counter[grpc.StatusCode] = Counter()
        self._acknowledged = 0
        self._condition = threading.Condition()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, args=(plan,), name=f"load-{i}", daemon=True)
            for i, plan in enumerate(self.plans)
        ]

    @property
    def operations(self) -> list[Operation]:
        return [operation for plan in self.plans for operation in plan]

    @property
    def acknowledged(self) -> int:
        with self._condition:
            return self._acknowledged

    def start(self) -> LedgerLoad:
        _RUNNING.add(self)
        for thread in self._threads:
            thread.start()
        return self

    def wait_acknowledged(self, count: int, timeout_s: float) -> None:
        """Blocks until at least `count` requests got OK (fails after `timeout_s`)."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._acknowledged >= count, timeout=timeout_s):
                raise TimeoutError(f"only {self._acknowledged} of {count} requests acknowledged in {timeout_s}s")

    def stop(self) -> None:
        """Makes the workers give up: no new operations, no more retries."""
        self._stopping.set()

    def join(self, timeout_s: float) -> None:
        """Waits for every worker to finish its plan (fails if one is still running after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"load workers still running after {timeout_s}s: {alive}"
        _RUNNING.discard(self)

    def _work(self, plan: list[Operation]) -> None:
        with grpc.insecure_channel(self.address, options=FAST_RECONNECT) as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            for operation in plan:
                if self._stopping.is_set():
                    return
                result = self._apply(stub, operation)
                with self._condition:
                    self.results.append(result)
                    if result.code == grpc.StatusCode.OK:
                        self._acknowledged += 1
                        self._condition.notify_all()
                if self.pause_s:
                    time.sleep(self.pause_s)  # real time: the load's pace against a server that may die

    def _apply(self, stub: wallet_pb2_grpc.WalletServiceStub, operation: Operation) -> Result:
        result = Result(operation)
        give_up_at = time.monotonic() + self.give_up_after_s
        backoff = 0.05
        while True:
            result.attempts += 1
            try:
                response = stub.CreateLedgerEntry(operation.request(), timeout=self.call_timeout_s)
            except grpc.RpcError as error:
                code = error.code()
                result.failures.append(code)
                with self._condition:
                    self.failed_attempts[code] += 1
                if code in self.retryable:
                    if time.monotonic() + backoff > give_up_at or self._stopping.is_set():
                        result.details = f"gave up after {result.attempts} attempts"
                        return result
                    time.sleep(backoff * random.uniform(0.5, 1.5))  # real time: backoff while the fault lasts
                    backoff = min(backoff * 2, 0.5)
                    continue
                result.code = code
                result.details = error.details() or ""
                return result
            result.code = grpc.StatusCode.OK
            result.entry_id = response.entry.id
            result.replayed = response.idempotent_replay
            return result

    def verify_against_ledger(self, database_url: str) -> Counter[str]:
        """Checks the exactly-once contract; returns how the operations ended (for reports).

        - every operation got a final answer: OK, or FAILED_PRECONDITION (insufficient funds);
        - every acknowledged request is in the ledger exactly once, as the entry the caller was told;
        - a refused request left nothing; no entry of the load's customers is unaccounted for.
        """
        by_key = {result.operation.key: result for result in self.results}
        assert len(by_key) == len(self.operations), "some operations have no result"
        unresolved = [
            (r.operation.key, r.code, r.details, r.failures)
            for r in self.results
            if r.code not in (grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION)
        ]
        assert not unresolved, f"requests without a clean final answer: {unresolved[:10]}"
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT customer_id, idempotency_key, id, currency, entry_type, amount FROM ledger_entries"
                " WHERE customer_id = ANY(%s) ORDER BY customer_id, seq",
                (self.customers,),
            ).fetchall()
        applied: dict[str, list[tuple[str, str, str, str, int]]] = {}
        for customer, key, entry_id, currency, entry_type, amount in rows:
            applied.setdefault(key, []).append((customer, entry_id, currency, entry_type, amount))
        strangers = sorted(set(applied) - set(by_key), key=str)
        assert not strangers, f"entries nobody asked for: {strangers[:10]}"
        twice = {key: entries for key, entries in applied.items() if len(entries) > 1}
        assert not twice, f"keys applied more than once: {list(twice.items())[:5]}"
        for key, result in by_key.items():
            operation = result.operation
            if result.code == grpc.StatusCode.OK:
                assert key in applied, f"acknowledged request {key} ({result.entry_id}) is not in the ledger"
                customer, entry_id, currency, entry_type, amount = applied[key][0]
                expected_type = "credit" if operation.entry_type == wallet_pb2.ENTRY_TYPE_CREDIT else "debit"
                assert (customer, entry_id, currency, entry_type, amount) == (
                    operation.customer_id,
                    result.entry_id,
                    operation.currency,
                    expected_type,
                    operation.amount,
                ), f"the ledger's entry for {key} is not the one acknowledged"
            else:
                assert key not in applied, f"refused request {key} left entry {applied[key]}"
        outcomes: Counter[str] = Counter()
        for result in self.results:
            outcomes[result.code.name if result.code else "NONE"] += 1
            outcomes["replayed"] += result.replayed
            outcomes["retried"] += result.attempts > 1
        return outcomes


def stop_all_loads(timeout_s: float = 30.0) -> None:
    """Stops every load still running (after a test that failed mid-load) and waits for its workers."""
    for load in list(_RUNNING):
        load.stop()
        load.join(timeout_s)
