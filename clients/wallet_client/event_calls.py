"""The event RPCs of wallet.v1.WalletService, described once for both clients (see `wallet_client.calls`).

`watch_events` follows changes as they commit and resumes by itself where a
dropped stream left off; `set_low_balance_threshold` says when a wallet
counts as low, which the watch reports as BALANCE_LOW and BALANCE_RECOVERED.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from wallet.v1 import wallet_pb2
from wallet_client.calls import UnaryCall
from wallet_client.models import EventType, Wallet, WalletEvent
from wallet_client.requests import threshold_request, watch_request
from wallet_client.retry import WRITE_RETRY_CODES
from wallet_client.streams import StreamCall, WatchCall


def watch_events(
    customer_id: str = "",
    event_types: Iterable[EventType | str] = (),
    start_after_cursor: str = "",
    from_oldest: bool = False,
    on_live: Callable[[], None] | None = None,
) -> StreamCall[WalletEvent]:
    """Every event of `customer_id` ("" for every customer) of `event_types` (empty: all), as it commits.

    Starts right after `start_after_cursor`, else at the oldest retained event
    if `from_oldest`, else at the moment the watch is live. Never ends by
    itself: stop iterating to stop watching. If the stream drops (UNAVAILABLE,
    a server restart) it is reopened after the last event yielded, so none is
    skipped or repeated. CursorExpired if the cursor is older than the
    events the service retains. A customer's events come in the order their
    changes were applied; there is no order across customers. `on_live` is
    called once, when the service says the watch is live: from then on no
    change is missed.
    """
    types = [EventType(t) for t in event_types]
    return WatchCall(watch_request(customer_id, types, start_after_cursor, from_oldest), on_live)


def set_low_balance_threshold(
    customer_id: str, currency: str, threshold: int, *, timeout_s: float | None = None
) -> UnaryCall[Wallet]:
    """Sets the wallet's low-balance threshold in minor units (0: no alerts); returns the wallet.

    Works for a wallet never written (its version stays 0). If the change
    makes the wallet low, or no longer low, a BALANCE_LOW or
    BALANCE_RECOVERED event follows. Safe to send again: a second call
    changes nothing.
    """
    request = threshold_request(customer_id, currency, threshold)
    return UnaryCall("SetLowBalanceThreshold", request, WRITE_RETRY_CODES, _wallet_of, timeout_s)


def _wallet_of(message: wallet_pb2.SetLowBalanceThresholdResponse) -> Wallet:
    return Wallet.from_proto(message.wallet)
