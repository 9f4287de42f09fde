"""A storm of hold traffic on one wallet: 64 callers creating, capturing and releasing holds while
debits and expiring credits arrive. Every call is retried with the same request until it gets an
answer, as a real caller would; then the ledger is checked against every answer the callers got."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
from google.protobuf.duration_pb2 import Duration

from tests.waiting import eventually
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

RETRYABLE = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED, grpc.StatusCode.CANCELLED}
)


@dataclass
class StormLog:
    """What the callers were told."""

    holds: dict[str, str] = field(default_factory=dict)  # idempotency key -> hold id
    captures: dict[str, tuple[int, str]] = field(default_factory=dict)  # hold id -> (amount, entry id)
    releases: set[str] = field(default_factory=set)
    # Expiring credits first sent before their expire_time but answered only after it (the server was down):
    # refused as no longer in the future, and so never applied.
    late_credits: set[str] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)
    failed_attempts: Counter[str] = field(default_factory=Counter)
    acknowledged: int = 0

    def refusals(self) -> set[str]:
        """The kinds of refusal the callers met, as "kind: CODE"."""
        return {outcome for outcome in self.outcomes if not outcome.endswith(": OK")}


class HoldStorm:
    def __init__(
        self,
        address: str,
        customer_id: str,
        *,
        workers: int = 64,
        rounds: int = 4,
        seed: int = 7,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`now` is the server's time (its clock, for a server in this process)."""
        self.address = address
        self.now = now
        self.customer_id = customer_id
        self.workers = workers
        self.rounds = rounds
        self.seed = seed
        self.log = StormLog()
        self._progress = asyncio.Condition()

    async def run(self, timeout_s: float = 180.0) -> StormLog:
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            await self._call(stub.CreateLedgerEntry, self._credit(5_000, "seed", None), "credit")
            workers = [self._worker(stub, w) for w in range(self.workers)]
            await asyncio.wait_for(asyncio.gather(*workers), timeout_s)
        return self.log

    async def wait_acknowledged(self, count: int, timeout_s: float = 120.0) -> None:
        async with self._progress:
            await asyncio.wait_for(self._progress.wait_for(lambda: self.log.acknowledged >= count), timeout_s)

    def _credit(self, amount: int, key: str, expires_in_s: float | None) -> wallet_pb2.CreateLedgerEntryRequest:
        request = wallet_pb2.CreateLedgerEntryRequest(
            customer_id=self.customer_id,
            currency="USD",
            amount=amount,
            entry_type=wallet_pb2.ENTRY_TYPE_CREDIT,
            idempotency_key=key,
        )
        if expires_in_s is not None:
            request.expire_time.FromDatetime(self.now() + timedelta(seconds=expires_in_s))
        return request

    async def _call(self, method: Any, request: Any, kind: str) -> Any:
        """The answer to `request`, resent unchanged after every retryable failure; None if refused."""
        answers: list[Any] = []

        async def answered() -> bool:
            try:
                answers.append(await method(request, timeout=10))
            except grpc.aio.AioRpcError as error:
                if error.code() in RETRYABLE:
                    self.log.failed_attempts[error.code().name] += 1
                    return False
                self.log.outcomes[f"{kind}: {error.code().name}"] += 1
                if kind == "expiring credit" and error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    assert request.expire_time.ToDatetime(tzinfo=UTC) <= self.now(), error.details()
                    self.log.late_credits.add(request.idempotency_key)
                answers.append(None)
                return True
            self.log.outcomes[f"{kind}: OK"] += 1
            return True

        # The pause between attempts is the caller's backoff.
        await eventually(answered, 120, f"an answer to a {kind}", poll_s=0.05)
        await self._acknowledge()
        return answers[0]

    async def _acknowledge(self) -> None:
        async with self._progress:
            self.log.acknowledged += 1
            self._progress.notify_all()

    async def _worker(self, stub: wallet_pb2_grpc.WalletServiceStub, worker: int) -> None:
        chance = random.Random(self.seed * 1_000 + worker)
        for round_ in range(self.rounds):
            key = f"w{worker}-r{round_}"
            kind = chance.choice(["hold", "hold", "debit", "expiring credit"])
            if kind == "debit":
                request = wallet_pb2.CreateLedgerEntryRequest(
                    customer_id=self.customer_id,
                    currency="USD",
                    amount=chance.randint(1, 20),
                    entry_type=wallet_pb2.ENTRY_TYPE_DEBIT,
                    idempotency_key=key,
                )
                await self._call(stub.CreateLedgerEntry, request, kind)
            elif kind == "expiring credit":
                credit = self._credit(chance.randint(1, 30), key, 1 + chance.random())
                await self._call(stub.CreateLedgerEntry, credit, kind)
            else:
                await self._hold_then_close(stub, chance, key)

    async def _hold_then_close(self, stub: wallet_pb2_grpc.WalletServiceStub, chance: random.Random, key: str) -> None:
        amount = chance.randint(1, 50)
        created = await self._call(
            stub.CreateHold,
            wallet_pb2.CreateHoldRequest(
                customer_id=self.customer_id,
                currency="USD",
                amount=amount,
                idempotency_key=key,
                ttl=Duration(seconds=600),
            ),
            "hold",
        )
        if created is None:
            return
        hold_id = created.hold.id
        self.log.holds[key] = hold_id
        if chance.random() < 0.5:
            capture = chance.randint(0, amount)
            response = await self._call(
                stub.CaptureHold,
                wallet_pb2.CaptureHoldRequest(customer_id=self.customer_id, hold_id=hold_id, amount=capture),
                "capture",
            )
            if response is not None:
                self.log.captures[hold_id] = (response.hold.captured_amount, response.entry.id)
        else:
            response = await self._call(
                stub.ReleaseHold,
                wallet_pb2.ReleaseHoldRequest(customer_id=self.customer_id, hold_id=hold_id),
                "release",
            )
            if response is not None:
                self.log.releases.add(hold_id)


def check_against_ledger(database_url: str, customer_id: str, log: StormLog) -> None:
    """Every answer a caller got is what the ledger holds: one hold per key, one capture per hold."""
    with psycopg.connect(database_url) as conn:
        holds = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT id, idempotency_key, status, captured_amount, capture_entry_id FROM holds"
                " WHERE customer_id = %s",
                (customer_id,),
            )
        }
        late_applied = conn.execute(
            "SELECT idempotency_key FROM ledger_entries WHERE customer_id = %s AND idempotency_key = ANY(%s)",
            (customer_id, sorted(log.late_credits)),
        ).fetchall()
        capture_counts: dict[str, int] = dict(
            conn.execute(
                "SELECT hold_id, count(*) FROM ledger_entries WHERE customer_id = %s AND hold_id IS NOT NULL"
                " GROUP BY hold_id",
                (customer_id,),
            ).fetchall()
        )
    assert sorted(key for key, *_ in holds.values()) == sorted(log.holds), "one hold per acknowledged key"
    for key, hold_id in log.holds.items():
        assert holds[hold_id][0] == key
    for hold_id, (amount, entry_id) in log.captures.items():
        assert holds[hold_id][1:] == ("captured", amount, entry_id)
    for hold_id in log.releases:
        assert holds[hold_id][1] == "released"
    assert all(count == 1 for count in capture_counts.values()), capture_counts
    assert not late_applied, late_applied
    assert set(capture_counts) == {h for h, row in holds.items() if row[1] == "captured"}
