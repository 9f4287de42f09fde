"""Each RPC of wallet.v1.WalletService, described once for both clients.

A description says which stub method a call uses, how its request is built
from the arguments of the public method, which failures send it again, and
what the caller gets back. `WalletClient` and `AsyncWalletClient` turn every
description into a method with one line each, and do only the I/O: call the
stub, sleep between attempts, iterate the stream. A new RPC is one more
description here (or in `wallet_client.hold_calls` or `.event_calls`; the streams
are in `wallet_client.streams`) and one line in each client.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf.message import Message

from wallet_client.connection import ClientSettings
from wallet_client.models import Balances, EntryResult, EntryType, LedgerEntry
from wallet_client.requests import HistoryFilter, balances_request, entry_request, new_idempotency_key
from wallet_client.retry import READ_RETRY_CODES, WRITE_RETRY_CODES, RetryBudget
from wallet_client.streams import HistoryCall, StreamCall

Result = TypeVar("Result", covariant=True)
Method = TypeVar("Method", bound=Callable[..., Any])


@dataclass(frozen=True)
class UnaryCall(Generic[Result]):
    """One unary call. Every attempt sends the very same request, so a write keeps its idempotency key."""

    method: str
    request: Message
    retry_codes: frozenset[grpc.StatusCode]
    to_result: Callable[[Any], Result]
    timeout_s: float | None = None
    # The key a write carries; a failure names it, so that the caller can send the write again later.
    idempotency_key: str | None = None

    def attempts(self, settings: ClientSettings) -> UnaryAttempts:
        return UnaryAttempts(self, settings)


class UnaryAttempts:
    """The attempts of one unary call: the deadline of each, and after a failure the wait or the error."""

    def __init__(self, call: UnaryCall[Any], settings: ClientSettings) -> None:
        self._budget = RetryBudget(settings.retry, call.retry_codes)
        self._timeout_s = call.timeout_s or settings.timeout_s
        self._idempotency_key = call.idempotency_key

    def deadline_s(self) -> float:
        """Starts an attempt and returns its deadline."""
        return self._budget.attempt_timeout(self._timeout_s)

    def delay_after(self, error: grpc.RpcError) -> float:
        """Seconds to wait before the next attempt; raises the WalletError of `error` when there is none."""
        return self._budget.delay_or_raise(error, self._idempotency_key)


def client_method(method: Method, describe: Callable[..., Any], returns: str) -> Method:
    """`method` named, documented and signed like the description it runs, for help() and inspect.

    `returns` spells the method's return annotation around the description's
    result type, e.g. "Iterator[{}]".
    """
    function = describe if inspect.isfunction(describe) else type(describe).__call__
    (result,) = typing.get_args(typing.get_type_hints(function)["return"])
    signature = inspect.signature(describe)
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    named: Any = method
    named.__name__ = named.__qualname__ = describe.__name__
    named.__doc__ = describe.__doc__
    named.__signature__ = signature.replace(
        parameters=[this, *signature.parameters.values()], return_annotation=returns.format(_type_name(result))
    )
    return method


def _type_name(kind: Any) -> str:
    """`EntryResult`, or `list[BatchEntryResult]` for a generic."""
    args = typing.get_args(kind)
    return f"{kind.__name__}[{', '.join(_type_name(a) for a in args)}]" if args else str(kind.__name__)


def get_balances(
    customer_id: str, *, as_of: datetime | None = None, timeout_s: float | None = None
) -> UnaryCall[Balances]:
    """Every wallet of the customer (balance 0 in each supported currency for a new one).

    With `as_of` (aware, not in the future): each wallet as it stood then,
    counting the entries before that instant and the holds active at it.
    """
    request = balances_request(customer_id, as_of)
    return UnaryCall("GetBalances", request, READ_RETRY_CODES, Balances.from_proto, timeout_s)


def create_entry(
    customer_id: str,
    entry_type: EntryType | str,
    amount: int,
    currency: str,
    reason: str = "",
    idempotency_key: str | None = None,
    metadata: Mapping[str, str] | None = None,
    *,
    expire_time: datetime | None = None,
    timeout_s: float | None = None,
) -> UnaryCall[EntryResult]:
    """Applies one credit or debit; safe to call again with the same `idempotency_key`.

    `expire_time` (credits only, timezone-aware): when the credit's unspent
    remainder leaves the balance; None means never.
    """
    key = idempotency_key or new_idempotency_key()
    request = entry_request(customer_id, EntryType(entry_type), amount, currency, reason, key, metadata, expire_time)
    return UnaryCall("CreateLedgerEntry", request, WRITE_RETRY_CODES, EntryResult.from_proto, timeout_s, key)


class _EntryOfType:
    """`create_entry` with the entry type fixed: `credit` and `debit`, one signature (only credits expire)."""

    def __init__(self, entry_type: EntryType, doc: str) -> None:
        self.entry_type = entry_type
        self.__name__ = entry_type.value
        self.__doc__ = doc
        if entry_type is not EntryType.CREDIT:
            signature = inspect.signature(self.__call__)
            kept = [p for p in signature.parameters.values() if p.name != "expire_time"]
            self.__signature__ = signature.replace(parameters=kept)

    def __call__(
        self,
        customer_id: str,
        amount: int,
        currency: str,
        reason: str = "",
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
        *,
        expire_time: datetime | None = None,
        timeout_s: float | None = None,
    ) -> UnaryCall[EntryResult]:
        if expire_time is not None and self.entry_type is not EntryType.CREDIT:
            raise TypeError(f"{self.__name__}() got an unexpected keyword argument 'expire_time'")
        entry = (customer_id, self.entry_type, amount, currency, reason, idempotency_key, metadata)
        return create_entry(*entry, expire_time=expire_time, timeout_s=timeout_s)


credit = _EntryOfType(
    EntryType.CREDIT,
    "Adds `amount` minor units in `currency`; with `expire_time` (aware) the unspent rest lapses then.",
)
debit = _EntryOfType(
    EntryType.DEBIT,
    "Removes `amount` minor units; InsufficientBalance (nothing written) if over the available balance.",
)


def iter_entries(
    customer_id: str,
    *,
    currency: str | None = None,
    entry_type: EntryType | str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    start_after_id: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> StreamCall[LedgerEntry]:
    """The customer's ledger entries, one at a time, oldest first unless `newest_first`.

    Memory stays constant however long the history. If the stream drops
    (UNAVAILABLE), it is reopened after the last entry already yielded,
    so no entry is skipped or repeated; attempts without progress are
    bounded by the retry policy. `created_after` is inclusive,
    `created_before` exclusive; both must be timezone-aware.
    """
    query = HistoryFilter(
        customer_id=customer_id,
        currency=currency,
        entry_type=EntryType(entry_type) if entry_type is not None else None,
        created_after=created_after,
        created_before=created_before,
        start_after_id=start_after_id,
        limit=limit,
        newest_first=newest_first,
    )
    return HistoryCall(query)
