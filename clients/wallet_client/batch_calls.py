"""BatchCreateLedgerEntries, described once for both clients (see `wallet_client.calls`).

A batch applies up to 1,000 credits and debits in one call, in order. Every
entry carries an idempotency key (yours, or a fresh uuid4 filled in here,
once), so the whole call is retried safely: entries already applied replay.
Not atomic, each entry gets its own `BatchEntryResult`; atomic, all apply
or the call raises `AtomicBatchRefused` naming the entry that stopped it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from wallet.v1 import wallet_pb2
from wallet_client.calls import UnaryCall
from wallet_client.errors import WalletError
from wallet_client.models import EntryResult, EntryType
from wallet_client.requests import entry_request, new_idempotency_key
from wallet_client.retry import WRITE_RETRY_CODES
from wallet_client.rpc_errors import from_batch_entry_error

# The most entries the service takes in one call.
BATCH_ENTRIES_MAX = 1_000


@dataclass(frozen=True)
class BatchEntry:
    """One credit or debit of a batch, with the arguments of `create_entry`."""

    customer_id: str
    entry_type: EntryType | str
    amount: int
    currency: str
    reason: str = ""
    idempotency_key: str | None = None
    metadata: Mapping[str, str] | None = None
    expire_time: datetime | None = None

    def to_proto(self) -> wallet_pb2.CreateLedgerEntryRequest:
        key = self.idempotency_key or new_idempotency_key()
        entry_type = EntryType(self.entry_type)
        return entry_request(
            self.customer_id, entry_type, self.amount, self.currency, self.reason, key, self.metadata, self.expire_time
        )


@dataclass(frozen=True)
class BatchEntryResult:
    """The outcome of one entry of a batch: its `result`, or the `error` its own call would have raised.

    `idempotency_key` is the key the entry was sent with: sending it again replays it.
    """

    idempotency_key: str
    result: EntryResult | None = None
    error: WalletError | None = None

    @property
    def applied(self) -> bool:
        """True for an entry written by this call (not a replay, not refused)."""
        return self.result is not None and not self.result.idempotent_replay


def _keyed(entry: BatchEntry | wallet_pb2.CreateLedgerEntryRequest) -> wallet_pb2.CreateLedgerEntryRequest:
    if isinstance(entry, BatchEntry):
        return entry.to_proto()
    if entry.idempotency_key:
        return entry
    keyed = wallet_pb2.CreateLedgerEntryRequest()
    keyed.CopyFrom(entry)
    keyed.idempotency_key = new_idempotency_key()
    return keyed


def batch(
    entries: Sequence[BatchEntry | wallet_pb2.CreateLedgerEntryRequest],
    *,
    atomic: bool = False,
    timeout_s: float | None = None,
) -> UnaryCall[list[BatchEntryResult]]:
    """Applies 1 to 1,000 entries in order, each as `create_entry` would; one result per entry.

    Entries are `BatchEntry`s (or CreateLedgerEntryRequest messages); one
    without an idempotency key gets a fresh one, reused by every retry. With
    `atomic`, all entries apply or none does: a refusal raises
    `AtomicBatchRefused` with the entry's `index` and its own error (`cause`).
    """
    if not 1 <= len(entries) <= BATCH_ENTRIES_MAX:
        raise ValueError(f"a batch holds 1 to {BATCH_ENTRIES_MAX} entries, not {len(entries)}")
    request = wallet_pb2.BatchCreateLedgerEntriesRequest(requests=[_keyed(e) for e in entries], atomic=atomic)
    keys = [r.idempotency_key for r in request.requests]

    def to_results(response: wallet_pb2.BatchCreateLedgerEntriesResponse) -> list[BatchEntryResult]:
        results = []
        for key, outcome in zip(keys, response.results, strict=True):
            if outcome.HasField("error"):
                results.append(BatchEntryResult(key, error=from_batch_entry_error(outcome.error, key)))
            else:
                results.append(BatchEntryResult(key, result=EntryResult.from_proto(outcome.response)))
        return results

    return UnaryCall("BatchCreateLedgerEntries", request, WRITE_RETRY_CODES, to_results, timeout_s)
