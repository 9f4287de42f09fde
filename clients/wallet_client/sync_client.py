"""`WalletClient`: the blocking client of wallet.v1.WalletService.

Its methods are the calls described in `wallet_client.calls`; this module
does only their blocking I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

import grpc

from wallet_client import (
    batch_calls,
    caller_calls,
    calls,
    event_calls,
    hold_calls,
    report_calls,
    reversal_calls,
    streams,
)
from wallet_client.connection import ClientBase, ClientSettings, open_channel

P = ParamSpec("P")
Result = TypeVar("Result")
Item = TypeVar("Item")


def _unary(describe: Callable[P, calls.UnaryCall[Result]]) -> Callable[Concatenate[WalletClient, P], Result]:
    """A method that sends the call `describe` returns, and again while its retry policy allows."""

    def method(self: WalletClient, /, *args: P.args, **kwargs: P.kwargs) -> Result:
        return self._call(describe(*args, **kwargs))

    return calls.client_method(method, describe, "{}")


def _paged(describe: Callable[P, hold_calls.PagedCall[Item]]) -> Callable[Concatenate[WalletClient, P], Iterator[Item]]:
    """A generator method over the listing `describe` returns, each page fetched when the caller reaches it."""

    def method(self: WalletClient, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[Item]:
        listing = describe(*args, **kwargs)
        call: calls.UnaryCall[hold_calls.Page[Item]] | None = listing.first()
        while call is not None:
            page = self._call(call)
            yield from page.items
            call = listing.after(page)

    return calls.client_method(method, describe, "Iterator[{}]")


def _stream(describe: Callable[P, streams.StreamCall[Item]]) -> Callable[Concatenate[WalletClient, P], Iterator[Item]]:
    """A generator method over the stream `describe` returns, reopened where it drops."""

    def method(self: WalletClient, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[Item]:
        call = describe(*args, **kwargs)
        attempts = call.attempts(self.settings)
        while (request := attempts.next_request()) is not None:
            stream = self._send(call.method, request, attempts.timeout_s)
            try:
                for message in stream:
                    yield from attempts.items(message)
                delay = attempts.delay_after_end()
            except grpc.RpcError as error:
                delay = attempts.delay_after(error)
            finally:
                # Also runs when the caller stops iterating early: the server stops streaming.
                stream.cancel()
            time.sleep(delay)

    return calls.client_method(method, describe, "Iterator[{}]")


class WalletClient(ClientBase[grpc.Channel]):
    """Blocking client; use it as a context manager (or call `close()`).

    >>> with WalletClient() as wallet:                      # target from WALLET_ADDR
    ...     wallet.credit("cus_1", 10_000, "USD", reason="Welcome bonus")
    ...     wallet.get_balances("cus_1")["USD"].balance

    Every method raises a `WalletError` subclass on failure. Writes carry an
    idempotency key (yours, or a fresh uuid4 per call) that every retry reuses.
    Pass `channel` to use a channel you own; it is then not closed by `close()`.
    """

    # Each RPC of the call modules (calls, batch_calls, hold_calls, report_calls, event_calls) as a blocking
    # method; iter_entries, list_holds and watch_events are generators.
    get_balances = _unary(calls.get_balances)
    credit = _unary(calls.credit)
    debit = _unary(calls.debit)
    create_entry = _unary(calls.create_entry)
    batch = _unary(batch_calls.batch)
    iter_entries = _stream(calls.iter_entries)
    hold = _unary(hold_calls.hold)
    capture = _unary(hold_calls.capture)
    release = _unary(hold_calls.release)
    get_hold = _unary(hold_calls.get_hold)
    list_holds_page = _unary(hold_calls.list_holds_page)
    list_holds = _paged(hold_calls.list_holds)
    summarize = _unary(report_calls.summarize)
    reverse = _unary(reversal_calls.reverse)
    caller_info = _unary(caller_calls.caller_info)
    watch_events = _stream(event_calls.watch_events)
    set_low_balance_threshold = _unary(event_calls.set_low_balance_threshold)

    def __enter__(self) -> WalletClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def _open_channel(self, settings: ClientSettings) -> grpc.Channel:
        return open_channel(settings)

    def _call(self, call: calls.UnaryCall[Result]) -> Result:
        """Sends `call`, and again while its retry policy allows; its result, or its WalletError raised."""
        attempts = call.attempts(self.settings)
        while True:
            try:
                response = self._send(call.method, call.request, attempts.deadline_s())
            except grpc.RpcError as error:
                time.sleep(attempts.delay_after(error))
            else:
                return call.to_result(response)
