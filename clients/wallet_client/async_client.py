"""`AsyncWalletClient`: the asyncio client of wallet.v1.WalletService (grpc.aio).

Same methods, arguments, results and errors as `WalletClient`, awaited. Its
methods are the calls described in `wallet_client.calls`; this module does
only their asyncio I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

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
from wallet_client.connection import ClientBase, ClientSettings, open_aio_channel

P = ParamSpec("P")
Result = TypeVar("Result")
Item = TypeVar("Item")


def _unary(
    describe: Callable[P, calls.UnaryCall[Result]],
) -> Callable[Concatenate[AsyncWalletClient, P], Coroutine[Any, Any, Result]]:
    """A coroutine method that sends the call `describe` returns, and again while its retry policy allows."""

    async def method(self: AsyncWalletClient, /, *args: P.args, **kwargs: P.kwargs) -> Result:
        # Built when awaited, as an `async def` method would: a bad argument raises there.
        return await self._call(describe(*args, **kwargs))

    return calls.client_method(method, describe, "{}")


def _paged(
    describe: Callable[P, hold_calls.PagedCall[Item]],
) -> Callable[Concatenate[AsyncWalletClient, P], AsyncIterator[Item]]:
    """An async generator method over the listing `describe` returns, each page fetched when the caller reaches it."""

    async def method(self: AsyncWalletClient, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[Item]:
        listing = describe(*args, **kwargs)
        call: calls.UnaryCall[hold_calls.Page[Item]] | None = listing.first()
        while call is not None:
            page = await self._call(call)
            for item in page.items:
                yield item
            call = listing.after(page)

    return calls.client_method(method, describe, "AsyncIterator[{}]")


def _stream(
    describe: Callable[P, streams.StreamCall[Item]],
) -> Callable[Concatenate[AsyncWalletClient, P], AsyncIterator[Item]]:
    """An async generator method over the stream `describe` returns, reopened where it drops."""

    async def method(self: AsyncWalletClient, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[Item]:
        call = describe(*args, **kwargs)
        attempts = call.attempts(self.settings)
        while (request := attempts.next_request()) is not None:
            stream = self._send(call.method, request, attempts.timeout_s)
            try:
                async for message in stream:
                    for item in attempts.items(message):
                        yield item
                delay = attempts.delay_after_end()
            except grpc.aio.AioRpcError as error:
                delay = attempts.delay_after(error)
            finally:
                # Also runs when the caller stops iterating early: the server stops streaming.
                stream.cancel()
            await asyncio.sleep(delay)

    return calls.client_method(method, describe, "AsyncIterator[{}]")


class AsyncWalletClient(ClientBase[grpc.aio.Channel]):
    """Asyncio client; use it as an async context manager (or await `close()`).

    >>> async with AsyncWalletClient() as wallet:           # target from WALLET_ADDR
    ...     await wallet.credit("cus_1", 10_000, "USD", reason="Welcome bonus")
    ...     (await wallet.get_balances("cus_1"))["USD"].balance

    Every method raises a `WalletError` subclass on failure. Writes carry an
    idempotency key (yours, or a fresh uuid4 per call) that every retry reuses.
    Pass `channel` (a grpc.aio channel) to use one you own; `close()` leaves it open.
    """

    # Each RPC of the call modules (calls, batch_calls, hold_calls, report_calls, event_calls) as a coroutine
    # method; iter_entries, list_holds and watch_events are async generators.
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

    async def __aenter__(self) -> AsyncWalletClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close()

    def _open_channel(self, settings: ClientSettings) -> grpc.aio.Channel:
        return open_aio_channel(settings)

    async def _call(self, call: calls.UnaryCall[Result]) -> Result:
        """Sends `call`, and again while its retry policy allows; its result, or its WalletError raised."""
        attempts = call.attempts(self.settings)
        while True:
            try:
                response = await self._send(call.method, call.request, attempts.deadline_s())
            except grpc.aio.AioRpcError as error:
                await asyncio.sleep(attempts.delay_after(error))
            else:
                return call.to_result(response)
