"""One batch of `wallet import`: send its lines, count what happened, and (with --retry-refused) walk the retry keys.

A keyed line refused for a reason of its own stays refused under its key:
the server replays the refusal (`replayed`) however often the file runs, so
a re-run never applies a line that the first run refused after the money
has changed. `--retry-refused` asks for the opposite, for lines whose key
the importer derived: such a line is sent again under its next *retry key*,
`KEY-r1`, then `KEY-r2`, ... The walk starts at the line's own key every
time and moves on only past keys whose refusal is replayed, so it stops at
the first key that applied before (replayed, applied once), or at the first
key never sent (a fresh attempt); each run adds at most one retry key per
line, and a line applies under at most one key of its walk. A line that
gave its own `idempotency_key` keeps it: to retry it, give it a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wallet.v1 import wallet_pb2
from wallet_client.batch_calls import BatchEntryResult
from wallet_client.cli.import_file import Line
from wallet_client.errors import AtomicBatchRefused, WalletError

# Retry keys a line may walk through (one per run of --retry-refused that found it still refused).
RETRY_KEYS_MAX = 100

Send = Callable[[Sequence[wallet_pb2.CreateLedgerEntryRequest], bool], list[BatchEntryResult]]


@dataclass
class Tally:
    """What became of the lines: `refused` counts every refused line, `refused_earlier` those replayed as such."""

    applied: int = 0
    replayed: int = 0
    refused: int = 0
    refused_earlier: int = 0
    retried: int = 0  # lines sent under a retry key (--retry-refused)
    refusals: list[tuple[Line, str]] = field(default_factory=list)

    def refuse(self, line: Line, why: str, *, earlier: bool = False) -> None:
        self.refused += 1
        self.refused_earlier += earlier
        self.refusals.append((line, why))


def retry_key(key: str, retry: int) -> str:
    """The key of a line's `retry`-th retry (0: the line's own key)."""
    return f"{key}-r{retry}" if retry else key


def apply_batch(send: Send, lines: list[Line], *, atomic: bool, retry_refused: bool, tally: Tally) -> str | None:
    """Sends the readable lines of one batch; returns why the import must stop, if it must."""
    readable = [line for line in lines if line.request is not None]
    for line in lines:
        if line.request is None:
            tally.refuse(line, f"unreadable: {line.problem}")
    if not readable:
        return None
    retries = [0] * len(readable)
    if atomic:
        return _apply_atomic(send, readable, retries, retry_refused, tally)
    pending = list(range(len(readable)))
    while pending:
        results = send([_keyed(readable[i], retries[i]) for i in pending], False)
        again = []
        for i, outcome in zip(pending, results, strict=True):
            error = outcome.error
            if error is not None and _retry(readable[i], error, retries[i], retry_refused):
                retries[i] += 1
                again.append(i)
                continue
            tally.retried += retries[i] > 0
            if error is not None:
                tally.refuse(readable[i], _refusal(error, outcome.idempotency_key), earlier=error.replayed)
            elif outcome.applied:
                tally.applied += 1
            else:
                tally.replayed += 1
        pending = again
    return None


def _apply_atomic(
    send: Send, readable: list[Line], retries: list[int], retry_refused: bool, tally: Tally
) -> str | None:
    while True:
        try:
            results = send([_keyed(line, retry) for line, retry in zip(readable, retries, strict=True)], True)
        except AtomicBatchRefused as error:
            if _retry(readable[error.index], error, retries[error.index], retry_refused):
                retries[error.index] += 1
                continue
            first = readable[error.index]
            key = retry_key(_key(first), retries[error.index])
            for line in readable:
                if line is first:
                    tally.refuse(line, _refusal(error, key), earlier=error.replayed)
                else:
                    tally.refuse(line, f"not applied: line {first.number} refused its batch")
            return f"line {first.number} was refused ({error.reason}: {error.message}); its batch was not applied"
        tally.retried += sum(1 for retry in retries if retry)
        tally.applied += sum(1 for outcome in results if outcome.applied)
        tally.replayed += sum(1 for outcome in results if not outcome.applied)
        return None


def _retry(line: Line, error: WalletError, retry: int, retry_refused: bool) -> bool:
    """Whether to send the line again under its next retry key: its refusal was replayed and it may walk on."""
    return retry_refused and error.replayed and line.derived and retry < RETRY_KEYS_MAX


def _refusal(error: WalletError, key: str) -> str:
    if error.replayed:
        return f"refused earlier with this key ({key}): {error.reason}: {error.message}"
    return f"{error.reason}: {error.message}"


def _key(line: Line) -> str:
    assert line.request is not None
    return line.request.idempotency_key


def _keyed(line: Line, retry: int) -> wallet_pb2.CreateLedgerEntryRequest:
    assert line.request is not None
    if not retry:
        return line.request
    request = wallet_pb2.CreateLedgerEntryRequest()
    request.CopyFrom(line.request)
    request.idempotency_key = retry_key(line.request.idempotency_key, retry)
    return request
