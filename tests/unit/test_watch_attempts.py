"""Where a watch resumes, and when it gives up: the WatchAttempts both clients follow, without a server.

Messages are built from the generated classes and failures are fake calls
with a status code; the clock is a counter the test moves.
"""

from __future__ import annotations

import grpc
import pytest

from wallet.v1 import wallet_pb2
from wallet_client import RetryPolicy, WalletUnavailable
from wallet_client.models import EventType
from wallet_client.requests import watch_request
from wallet_client.retry import READ_RETRY_CODES, RetryBudget
from wallet_client.streams import WatchAttempts

POLICY = RetryPolicy(max_attempts=3, initial_backoff_s=0.0, max_backoff_s=0.0, total_timeout_s=60.0)


class Failure(grpc.RpcError):  # type: ignore[misc]  # grpc is untyped
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return str(self._code.name)

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return ()


def message(*positions: int) -> wallet_pb2.WatchEventsResponse:
    return wallet_pb2.WatchEventsResponse(
        events=[
            wallet_pb2.WalletEvent(cursor=f"ev_{p}", event_type=wallet_pb2.EVENT_TYPE_ENTRY_CREATED) for p in positions
        ]
    )


def attempts_of(request: wallet_pb2.WatchEventsRequest, clock: list[float] | None = None) -> WatchAttempts:
    now = clock if clock is not None else [0.0]
    return WatchAttempts(request, RetryBudget(POLICY, READ_RETRY_CODES, clock=lambda: now[0]))


def test_a_watch_reopens_after_the_last_event_taken_with_its_filters_and_without_from_oldest() -> None:
    attempts = attempts_of(watch_request("cus_1", [EventType.BALANCE_LOW], "", from_oldest=True))
    assert attempts.next_request().from_oldest
    taken = attempts.items(message(7, 9))
    assert next(taken).cursor == "ev_7"
    # An event counts as taken once the caller asks for the next one: it is done with it by then.
    assert attempts.cursor == ""
    assert next(taken).cursor == "ev_9"
    assert attempts.cursor == "ev_7"
    assert list(taken) == []
    attempts.delay_after(Failure(grpc.StatusCode.UNAVAILABLE))
    resumed = attempts.next_request()
    assert (resumed.start_after_cursor, resumed.from_oldest, resumed.customer_id) == ("ev_9", False, "cus_1")
    assert list(resumed.event_types) == [wallet_pb2.EVENT_TYPE_BALANCE_LOW]


def test_a_watch_that_never_went_live_gives_up_after_the_policy_attempts() -> None:
    attempts = attempts_of(watch_request("", [], "ev_3", from_oldest=False))
    for _ in range(POLICY.max_attempts - 1):
        assert attempts.next_request().start_after_cursor == "ev_3"
        attempts.delay_after(Failure(grpc.StatusCode.UNAVAILABLE))
    attempts.next_request()
    with pytest.raises(WalletUnavailable):
        attempts.delay_after(Failure(grpc.StatusCode.UNAVAILABLE))


def test_a_stream_that_went_live_starts_a_fresh_run_of_attempts_however_long_it_sat_idle() -> None:
    clock = [0.0]
    attempts = attempts_of(watch_request("", [], "", from_oldest=False), clock)
    for _ in range(10):
        attempts.next_request()
        list(attempts.items(message()))  # the live message, without events
        clock[0] += 3_600.0  # an idle hour, far beyond the policy's total time
        attempts.delay_after(Failure(grpc.StatusCode.UNAVAILABLE))
    attempts.next_request()
    list(attempts.items(message()))
    assert attempts.delay_after_end() == 0.0  # the server ended the watch: it is reopened, never finished


def test_a_watch_does_not_retry_an_error_that_is_not_transient() -> None:
    attempts = attempts_of(watch_request("", [], "ev_1", from_oldest=False))
    attempts.next_request()
    with pytest.raises(Exception) as raised:
        attempts.delay_after(Failure(grpc.StatusCode.FAILED_PRECONDITION))
    assert not isinstance(raised.value, WalletUnavailable)
