"""The hold RPCs of wallet.v1.WalletService, described once for both clients (see `wallet_client.calls`).

A hold reserves part of a wallet's available balance; a capture spends part
or all of it (one debit) and a release gives it back. Holds are writes keyed
like entries (the same key space); captures and releases are retried freely,
since the server replays the call that closed a hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, Protocol, TypeVar

from wallet_client.calls import UnaryCall
from wallet_client.models import CaptureResult, Hold, HoldPage, HoldResult, HoldStatus
from wallet_client.requests import (
    capture_request,
    get_hold_request,
    hold_request,
    list_holds_request,
    new_idempotency_key,
    release_request,
)
from wallet_client.retry import READ_RETRY_CODES, WRITE_RETRY_CODES

Item = TypeVar("Item", covariant=True)

# Holds per page unless the caller says otherwise (the server's default too; at most 1,000).
PAGE_SIZE_DEFAULT = 100


class Page(Protocol[Item]):
    """A page of a listing: its items, and the token of the next page ("" after the last)."""

    @property
    def items(self) -> Sequence[Item]: ...
    @property
    def next_page_token(self) -> str: ...


@dataclass(frozen=True)
class PagedCall(Generic[Item]):
    """A listing served in pages, one unary call each; the next is sent only when the caller reaches it."""

    page: Callable[[str], UnaryCall[Page[Item]]]

    def first(self) -> UnaryCall[Page[Item]]:
        return self.page("")

    def after(self, page: Page[Item]) -> UnaryCall[Page[Item]] | None:
        return self.page(page.next_page_token) if page.next_page_token else None


def hold(
    customer_id: str,
    amount: int,
    currency: str,
    *,
    ttl: timedelta | None = None,
    reason: str = "",
    idempotency_key: str | None = None,
    metadata: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> UnaryCall[HoldResult]:
    """Reserves `amount` minor units of the available balance for `ttl` (None: the service's 15 minutes).

    InsufficientBalance (nothing written) if it exceeds the available
    balance. Safe to call again with the same `idempotency_key`: the hold is
    made once and the repeat returns it as it is now.
    """
    key = idempotency_key or new_idempotency_key()
    request = hold_request(customer_id, amount, currency, ttl, reason, key, metadata)
    return UnaryCall("CreateHold", request, WRITE_RETRY_CODES, HoldResult.from_proto, timeout_s, key)


def capture(
    customer_id: str,
    hold_id: str,
    amount: int = 0,
    *,
    reason: str = "",
    metadata: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> UnaryCall[CaptureResult]:
    """Spends `amount` minor units of an active hold (0: all of it) as one debit; the rest returns.

    The debit's reason defaults to the hold's, and `metadata` is added to the
    hold's. Repeating the capture that closed the hold replays it
    (`idempotent_replay`); any other call on a closed hold raises HoldNotActive.
    """
    request = capture_request(customer_id, hold_id, amount, reason, metadata)
    return UnaryCall("CaptureHold", request, WRITE_RETRY_CODES, CaptureResult.from_proto, timeout_s)


def release(customer_id: str, hold_id: str, *, timeout_s: float | None = None) -> UnaryCall[HoldResult]:
    """Closes an active hold without spending it: its whole amount returns to the available balance.

    Repeating a release replays it; releasing a captured or expired hold raises HoldNotActive.
    """
    request = release_request(customer_id, hold_id)
    return UnaryCall("ReleaseHold", request, WRITE_RETRY_CODES, HoldResult.from_proto, timeout_s)


def get_hold(customer_id: str, hold_id: str, *, timeout_s: float | None = None) -> UnaryCall[Hold]:
    """One of the customer's holds as it is now; HoldNotFound if the customer has no such hold."""
    request = get_hold_request(customer_id, hold_id)
    return UnaryCall("GetHold", request, READ_RETRY_CODES, lambda message: Hold.from_proto(message.hold), timeout_s)


def list_holds_page(
    customer_id: str,
    *,
    currency: str | None = None,
    status: HoldStatus | str | None = None,
    page_size: int = PAGE_SIZE_DEFAULT,
    page_token: str = "",
    timeout_s: float | None = None,
) -> UnaryCall[HoldPage]:
    """One page of the customer's holds, newest first; pass its `next_page_token` to get the next."""
    chosen = HoldStatus(status) if status is not None else None
    request = list_holds_request(customer_id, currency, chosen, page_size, page_token)
    return UnaryCall("ListHolds", request, READ_RETRY_CODES, HoldPage.from_proto, timeout_s)


def list_holds(
    customer_id: str,
    *,
    currency: str | None = None,
    status: HoldStatus | str | None = None,
    page_size: int = PAGE_SIZE_DEFAULT,
) -> PagedCall[Hold]:
    """Every hold of the customer (or of `currency`, in `status`), newest first, one at a time.

    Pages of `page_size` are fetched as the iteration reaches them, so
    memory stays bounded and stopping early reads no further page. Each
    page is retried on UNAVAILABLE. Holds made after the first page was read
    are not included.
    """
    if status is not None:
        HoldStatus(status)  # a bad status raises here, when iteration starts

    def page(token: str) -> UnaryCall[Page[Hold]]:
        return list_holds_page(customer_id, currency=currency, status=status, page_size=page_size, page_token=token)

    return PagedCall(page)
