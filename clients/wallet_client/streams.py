"""The server-streaming calls, described once for both clients: what opens each stream and where it resumes.

A client shell opens the stream `next_request()` asks for, hands each message
to `items()` and yields what comes out. When the stream fails it waits
`delay_after(error)` (which raises when the call must not go on) and when it
ends it waits `delay_after_end()`; then it asks `next_request()` again, until
that says None. The history export ends when its stream does; a watch never
ends by itself, so it is reopened after its last event whichever way its
stream stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import grpc
from google.protobuf.message import Message

from wallet.v1 import wallet_pb2
from wallet_client.connection import ClientSettings
from wallet_client.errors import WalletUnavailable
from wallet_client.models import LedgerEntry, WalletEvent
from wallet_client.requests import HistoryFilter
from wallet_client.retry import READ_RETRY_CODES, RetryBudget

Item = TypeVar("Item", covariant=True)


class StreamAttempts(Protocol[Item]):
    """The streams of one server-streaming call: what opens the next one, and what a message holds."""

    # The deadline of each stream (None: none).
    timeout_s: float | None

    def next_request(self) -> Message | None: ...
    def items(self, message: Any) -> Iterator[Item]: ...
    def delay_after(self, error: grpc.RpcError) -> float: ...
    def delay_after_end(self) -> float: ...


class StreamCall(Generic[Item]):
    """One server-streaming call whose messages hold `Item`s."""

    method: ClassVar[str]

    def attempts(self, settings: ClientSettings) -> StreamAttempts[Item]:
        raise NotImplementedError


@dataclass(frozen=True)
class HistoryCall(StreamCall[LedgerEntry]):
    """One `iter_entries` call: a stream of entries, reopened where it dropped."""

    method: ClassVar[str] = "ListLedgerEntries"
    query: HistoryFilter

    def attempts(self, settings: ClientSettings) -> HistoryAttempts:
        return HistoryAttempts(self.query, RetryBudget(settings.retry, READ_RETRY_CODES), settings.stream_timeout_s)


class HistoryAttempts:
    """The streams of one `iter_entries` call, and where each resumes.

    A stream that fails with a retryable code is reopened after the last
    entry already delivered, so no entry is skipped or repeated. Attempts
    without progress are bounded by the retry policy; a stream that delivered
    entries starts a fresh run of them.
    """

    def __init__(self, query: HistoryFilter, budget: RetryBudget, timeout_s: float | None) -> None:
        self._query: HistoryFilter | None = query
        self._budget = budget
        self._received = 0
        self._last_id: str | None = None
        self.timeout_s = timeout_s

    def next_request(self) -> wallet_pb2.ListLedgerEntriesRequest | None:
        """Starts an attempt: the request that opens its stream, or None when no entry is left to read."""
        if self._query is None:
            return None
        self._budget.start_attempt()
        self._received, self._last_id = 0, None
        return self._query.to_proto()

    def items(self, message: wallet_pb2.ListLedgerEntriesResponse) -> Iterator[LedgerEntry]:
        for proto in message.entries:
            entry = LedgerEntry.from_proto(proto)
            yield entry
            # Counted once the caller has taken it: a resumed stream starts after it.
            self._received, self._last_id = self._received + 1, entry.id
        if message.entries:
            self._budget.progressed()

    def delay_after(self, error: grpc.RpcError) -> float:
        """Seconds to wait before reopening the stream; raises the WalletError of `error` when it must not be."""
        delay = self._budget.delay_or_raise(error)
        if self._query is not None and self._last_id is not None:
            self._query = self._query.after(self._last_id, self._received)
        return delay

    def delay_after_end(self) -> float:
        """The stream ended: every entry was read, and nothing is left to open."""
        self._query = None
        return 0.0


@dataclass(frozen=True)
class WatchCall(StreamCall[WalletEvent]):
    """One `watch_events` call: a stream of events without end, reopened after the last event taken."""

    method: ClassVar[str] = "WatchEvents"
    request: wallet_pb2.WatchEventsRequest
    # Called once the watch is live (the service's first message), before any event is yielded.
    on_live: Callable[[], None] | None = None

    def attempts(self, settings: ClientSettings) -> WatchAttempts:
        return WatchAttempts(self.request, RetryBudget(settings.retry, READ_RETRY_CODES), self.on_live)


class WatchAttempts:
    """The streams of one `watch_events` call, and where each resumes.

    The cursor moves once the caller has taken an event, so a reopened stream
    starts right after the last event the caller saw: none skipped, none
    repeated. A stream that went live and then failed starts a fresh run of
    attempts (a watch may sit idle for hours before its connection drops); a
    server that stays away longer than the retry policy allows raises
    WalletUnavailable, and the caller may watch again from its last cursor.
    """

    # A watch is open for as long as the caller reads it: no deadline.
    timeout_s: float | None = None

    def __init__(
        self, request: wallet_pb2.WatchEventsRequest, budget: RetryBudget, on_live: Callable[[], None] | None = None
    ) -> None:
        self._request = request
        self._budget = budget
        self._on_live = on_live
        self._cursor = request.start_after_cursor
        self._live = False

    @property
    def cursor(self) -> str:
        """Where the watch resumes: past the last event taken and what the filters left out ("" before it is live)."""
        return self._cursor

    def next_request(self) -> wallet_pb2.WatchEventsRequest:
        """Starts an attempt: the first request, or the one that resumes after the last event taken."""
        self._budget.start_attempt()
        self._live = False
        if not self._cursor:
            # Never live yet: the first request as it was.
            return self._request
        resumed = wallet_pb2.WatchEventsRequest()
        resumed.CopyFrom(self._request)
        resumed.start_after_cursor, resumed.from_oldest = self._cursor, False
        return resumed

    def items(self, message: wallet_pb2.WatchEventsResponse) -> Iterator[WalletEvent]:
        # The first message says the watch is live, events or not.
        if self._on_live is not None:
            on_live, self._on_live = self._on_live, None
            on_live()
        self._live = True
        for proto in message.events:
            event = WalletEvent.from_proto(proto)
            yield event
            self._cursor = event.cursor
        # Once every event of the message is taken: where the message brings the watch, past what the
        # filters left out (and, on the first message, where a watch "from now" started).
        if message.cursor:
            self._cursor = message.cursor

    def delay_after(self, error: grpc.RpcError) -> float:
        """Seconds to wait before reopening the watch; raises the WalletError of `error` when it must not be."""
        if self._live:
            self._budget.progressed()
        return self._budget.delay_or_raise(error)

    def delay_after_end(self) -> float:
        """The server ended the watch (it does only while shutting down): reopened like after UNAVAILABLE."""
        if self._live:
            self._budget.progressed()
        delay = self._budget.delay_before_retry(grpc.StatusCode.UNAVAILABLE)
        if delay is None:
            raise WalletUnavailable(
                "the server kept ending the watch", code=grpc.StatusCode.UNAVAILABLE, attempts=self._budget.attempts
            )
        return delay
