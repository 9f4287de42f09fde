"""The drill's writers: keyed credits, debits, holds and captures, each retried with its key until it is answered.

Every logical write keeps one request (so one idempotency key) across its
attempts; an attempt that fails UNAVAILABLE, DEADLINE_EXCEEDED or ABORTED is
sent again, anything else is the write's answer. Each writer remembers its
own acknowledged holds and captures some of them later. The outcomes are
what the writers were told, for the drill to check against the ledger; the
failed attempts, with their time and reason, measure the failovers.

A new kind of write (reversals, once they exist) is one more `Kind`, one more
branch in `DrillWriters._next_op` and `_send`, and one more check in
`tests.failover.ledger_check`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration

from tests.e2e.helpers import error_reason
from tests.faults.servers import FAST_RECONNECT
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED})
CURRENCY = "USD"


class Kind(Enum):
    CREDIT = "credit"
    DEBIT = "debit"
    HOLD = "hold"
    CAPTURE = "capture"
    # A refund of part of a debit the same writer was told it made (a ReverseLedgerEntry, keyed like any write).
    REFUND = "refund"


@dataclass(frozen=True)
class Op:
    kind: Kind
    customer_id: str
    amount: int
    # The idempotency key of entries, holds and refunds; a capture is keyed by its hold.
    key: str = ""
    hold_id: str = ""
    ttl_s: int = 0
    # A refund's debit.
    entry_id: str = ""


@dataclass
class Outcome:
    """What the caller of one write was told: `code` OK or a refusal, None if it never got an answer."""

    op: Op
    code: grpc.StatusCode | None = None
    reason: str = ""
    entry_id: str = ""
    hold_id: str = ""
    replayed: bool = False
    attempts: int = 0
    last_attempt_started: float = 0.0
    answered_at: float = 0.0
    failures: list[str] = field(default_factory=list)


class DrillWriters:
    """`workers` threads writing to `customers` through the service at `address` until stopped."""

    def __init__(self, address: str, customers: list[str], *, workers: int = 16, seed: int = 19) -> None:
        self.address = address
        self.customers = customers
        self.workers = workers
        self.seed = seed
        self.outcomes: list[Outcome] = []
        # (monotonic time, "CODE/REASON") of every failed attempt.
        self.failed_attempts: list[tuple[float, str]] = []
        self._acknowledged = 0
        self._condition = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def acknowledged(self) -> int:
        with self._condition:
            return self._acknowledged

    def start(self) -> DrillWriters:
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, args=(index,), name=f"drill-writer-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def wait_acknowledged(self, count: int, timeout_s: float) -> None:
        with self._condition:
            if not self._condition.wait_for(lambda: self._acknowledged >= count, timeout_s):
                raise TimeoutError(f"{self._acknowledged} of {count} writes acknowledged after {timeout_s}s")

    def stop(self, timeout_s: float = 180.0) -> None:
        """Stops starting new writes; waits for the writes in flight to get their answer."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout_s)
        assert not any(thread.is_alive() for thread in self._threads), "a writer never finished its last write"

    def first_acknowledged_after(self, instant: float) -> float | None:
        """When the first write whose last attempt began after `instant` was acknowledged."""
        with self._condition:
            times = [
                o.answered_at
                for o in self.outcomes
                if o.code == grpc.StatusCode.OK and o.last_attempt_started >= instant
            ]
        return min(times) if times else None

    def failures_between(self, start: float, end: float) -> Counter[str]:
        with self._condition:
            return Counter(what for at, what in self.failed_attempts if start <= at <= end)

    def _work(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        open_holds: list[tuple[str, str, int]] = []
        debits: list[tuple[str, str, int]] = []
        with grpc.insecure_channel(self.address, options=FAST_RECONNECT) as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            number = 0
            while not self._stopping.is_set():
                number += 1
                op = self._next_op(rng, index, number, open_holds, debits)
                outcome = self._apply(stub, op)
                if outcome.code == grpc.StatusCode.OK and op.kind is Kind.HOLD and op.ttl_s > 60:
                    open_holds.append((op.customer_id, outcome.hold_id, op.amount))
                if outcome.code == grpc.StatusCode.OK and op.kind is Kind.DEBIT:
                    debits.append((op.customer_id, outcome.entry_id, op.amount))
                with self._condition:
                    self.outcomes.append(outcome)
                    if outcome.code == grpc.StatusCode.OK:
                        self._acknowledged += 1
                        self._condition.notify_all()

    def _next_op(
        self,
        rng: random.Random,
        index: int,
        number: int,
        open_holds: list[tuple[str, str, int]],
        debits: list[tuple[str, str, int]],
    ) -> Op:
        key = f"drill-{index}-{number}"
        if open_holds and rng.random() < 0.3:
            customer, hold_id, amount = open_holds.pop(rng.randrange(len(open_holds)))
            return Op(Kind.CAPTURE, customer, rng.randint(1, amount), hold_id=hold_id)
        if debits and rng.random() < 0.1:
            # Each debit is refunded once at most, never more than it took: every refund applies.
            customer, entry_id, amount = debits.pop(rng.randrange(len(debits)))
            return Op(Kind.REFUND, customer, rng.randint(1, amount), key, entry_id=entry_id)
        customer = rng.choice(self.customers)
        roll = rng.random()
        if roll < 0.45:
            return Op(Kind.CREDIT, customer, rng.randint(100, 5_000), key)
        if roll < 0.75:
            return Op(Kind.DEBIT, customer, rng.randint(50, 2_000), key)
        # Most holds are captured later; a few lapse within seconds, for the expirer to release.
        return Op(Kind.HOLD, customer, rng.randint(20, 500), key, ttl_s=2 if rng.random() < 0.2 else 600)

    def _send(self, stub: wallet_pb2_grpc.WalletServiceStub, op: Op) -> Any:
        metadata = {"drill": "failover"}
        if op.kind in (Kind.CREDIT, Kind.DEBIT):
            entry_type = wallet_pb2.ENTRY_TYPE_CREDIT if op.kind is Kind.CREDIT else wallet_pb2.ENTRY_TYPE_DEBIT
            return stub.CreateLedgerEntry(
                wallet_pb2.CreateLedgerEntryRequest(
                    customer_id=op.customer_id,
                    amount=op.amount,
                    currency=CURRENCY,
                    entry_type=entry_type,
                    reason="drill",
                    idempotency_key=op.key,
                    metadata=metadata,
                ),
                timeout=10,
            )
        if op.kind is Kind.REFUND:
            return stub.ReverseLedgerEntry(
                wallet_pb2.ReverseLedgerEntryRequest(
                    customer_id=op.customer_id,
                    entry_id=op.entry_id,
                    amount=op.amount,
                    reason="drill refund",
                    idempotency_key=op.key,
                    metadata=metadata,
                ),
                timeout=10,
            )
        if op.kind is Kind.HOLD:
            return stub.CreateHold(
                wallet_pb2.CreateHoldRequest(
                    customer_id=op.customer_id,
                    currency=CURRENCY,
                    amount=op.amount,
                    reason="drill",
                    idempotency_key=op.key,
                    metadata=metadata,
                    ttl=Duration(seconds=op.ttl_s),
                ),
                timeout=10,
            )
        return stub.CaptureHold(
            wallet_pb2.CaptureHoldRequest(
                customer_id=op.customer_id, hold_id=op.hold_id, amount=op.amount, reason="drill", metadata=metadata
            ),
            timeout=10,
        )

    def _apply(self, stub: wallet_pb2_grpc.WalletServiceStub, op: Op) -> Outcome:
        outcome = Outcome(op)
        give_up_at = time.monotonic() + 120
        backoff = 0.02
        while True:
            outcome.attempts += 1
            outcome.last_attempt_started = time.monotonic()
            try:
                response = self._send(stub, op)
            except grpc.RpcError as error:
                code = error.code()
                what = f"{code.name}/{error_reason(error)}"
                outcome.failures.append(what)
                if code in RETRYABLE:
                    with self._condition:
                        self.failed_attempts.append((time.monotonic(), what))
                    if time.monotonic() > give_up_at:
                        return outcome
                    self._stopping.wait(backoff * random.uniform(0.5, 1.5))  # the retry's backoff
                    backoff = min(backoff * 2, 0.25)
                    continue
                outcome.code, outcome.reason = code, error_reason(error)
                outcome.answered_at = time.monotonic()
                return outcome
            outcome.code = grpc.StatusCode.OK
            outcome.answered_at = time.monotonic()
            outcome.replayed = response.idempotent_replay
            if op.kind is Kind.HOLD:
                outcome.hold_id = response.hold.id
            else:
                outcome.entry_id = response.entry.id
            return outcome
