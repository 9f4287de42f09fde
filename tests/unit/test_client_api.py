"""The public methods of both clients keep their signatures, kinds and argument checks.

The methods are built from the call descriptions in wallet_client.calls, so
this pins what a caller sees: the signature inspect and help() show, whether
the method is a coroutine or a generator, and when a bad argument raises. No
server runs: every call here fails before anything is sent.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from wallet_client import AsyncWalletClient, WalletClient

ENTRY_PARAMETERS = (
    "customer_id: 'str', amount: 'int', currency: 'str', reason: 'str' = '', "
    "idempotency_key: 'str | None' = None, metadata: 'Mapping[str, str] | None' = None, "
    "*, timeout_s: 'float | None' = None"
)
# Only credits expire: debit has no expire_time.
CREDIT_PARAMETERS = ENTRY_PARAMETERS.replace("*, ", "*, expire_time: 'datetime | None' = None, ")
CREATE_ENTRY_PARAMETERS = CREDIT_PARAMETERS.replace("amount:", "entry_type: 'EntryType | str', amount:")
HOLD_PARAMETERS = (
    "customer_id: 'str', amount: 'int', currency: 'str', *, ttl: 'timedelta | None' = None, reason: 'str' = '', "
    "idempotency_key: 'str | None' = None, metadata: 'Mapping[str, str] | None' = None, "
    "timeout_s: 'float | None' = None"
)
CAPTURE_PARAMETERS = (
    "customer_id: 'str', hold_id: 'str', amount: 'int' = 0, *, reason: 'str' = '', "
    "metadata: 'Mapping[str, str] | None' = None, timeout_s: 'float | None' = None"
)
HOLD_REF_PARAMETERS = "customer_id: 'str', hold_id: 'str', *, timeout_s: 'float | None' = None"
LIST_HOLDS_PARAMETERS = (
    "customer_id: 'str', *, currency: 'str | None' = None, status: 'HoldStatus | str | None' = None, "
    "page_size: 'int' = 100"
)
HISTORY_PARAMETERS = (
    "customer_id: 'str', *, currency: 'str | None' = None, entry_type: 'EntryType | str | None' = None, "
    "created_after: 'datetime | None' = None, created_before: 'datetime | None' = None, "
    "start_after_id: 'str | None' = None, limit: 'int | None' = None, newest_first: 'bool' = False"
)
WATCH_PARAMETERS = (
    "customer_id: 'str' = '', event_types: 'Iterable[EventType | str]' = (), start_after_cursor: 'str' = '', "
    "from_oldest: 'bool' = False, on_live: 'Callable[[], None] | None' = None"
)
SIGNATURES = {
    "caller_info": "(self, *, timeout_s: 'float | None' = None) -> 'CallerInfo'",
    "get_balances": (
        "(self, customer_id: 'str', *, as_of: 'datetime | None' = None, timeout_s: 'float | None' = None) -> 'Balances'"
    ),
    "summarize": (
        "(self, customer_id: 'str', currency: 'str', start_time: 'datetime', end_time: 'datetime', *, "
        "period: 'Period | str | None' = None, time_zone: 'str' = 'UTC', "
        "group_by_metadata_key: 'str | None' = None, timeout_s: 'float | None' = None) -> 'LedgerSummary'"
    ),
    "credit": f"(self, {CREDIT_PARAMETERS}) -> 'EntryResult'",
    "debit": f"(self, {ENTRY_PARAMETERS}) -> 'EntryResult'",
    "create_entry": f"(self, {CREATE_ENTRY_PARAMETERS}) -> 'EntryResult'",
    "hold": f"(self, {HOLD_PARAMETERS}) -> 'HoldResult'",
    "capture": f"(self, {CAPTURE_PARAMETERS}) -> 'CaptureResult'",
    "release": f"(self, {HOLD_REF_PARAMETERS}) -> 'HoldResult'",
    "get_hold": f"(self, {HOLD_REF_PARAMETERS}) -> 'Hold'",
    "set_low_balance_threshold": (
        "(self, customer_id: 'str', currency: 'str', threshold: 'int', *, timeout_s: 'float | None' = None) -> 'Wallet'"
    ),
    "list_holds_page": (
        f"(self, {LIST_HOLDS_PARAMETERS}, page_token: 'str' = '', timeout_s: 'float | None' = None) -> 'HoldPage'"
    ),
}
# An unroutable address: channels connect lazily, and nothing here gets as far as sending.
NOWHERE = "127.0.0.1:9"


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_the_unary_methods_keep_their_signatures(name: str) -> None:
    assert str(inspect.signature(getattr(WalletClient, name))) == SIGNATURES[name]
    assert str(inspect.signature(getattr(AsyncWalletClient, name))) == SIGNATURES[name]
    assert not inspect.iscoroutinefunction(getattr(WalletClient, name))
    assert inspect.iscoroutinefunction(getattr(AsyncWalletClient, name))


def test_iter_entries_is_a_generator_in_both_clients() -> None:
    sync_signature = inspect.signature(WalletClient.iter_entries)
    async_signature = inspect.signature(AsyncWalletClient.iter_entries)
    assert str(sync_signature) == f"(self, {HISTORY_PARAMETERS}) -> 'Iterator[LedgerEntry]'"
    assert str(async_signature) == f"(self, {HISTORY_PARAMETERS}) -> 'AsyncIterator[LedgerEntry]'"
    assert inspect.isgeneratorfunction(WalletClient.iter_entries)
    assert inspect.isasyncgenfunction(AsyncWalletClient.iter_entries)


def test_list_holds_is_a_generator_over_pages_in_both_clients() -> None:
    assert str(inspect.signature(WalletClient.list_holds)) == f"(self, {LIST_HOLDS_PARAMETERS}) -> 'Iterator[Hold]'"
    assert (
        str(inspect.signature(AsyncWalletClient.list_holds))
        == f"(self, {LIST_HOLDS_PARAMETERS}) -> 'AsyncIterator[Hold]'"
    )
    assert inspect.isgeneratorfunction(WalletClient.list_holds)
    assert inspect.isasyncgenfunction(AsyncWalletClient.list_holds)


def test_watch_events_is_a_generator_in_both_clients() -> None:
    assert str(inspect.signature(WalletClient.watch_events)) == f"(self, {WATCH_PARAMETERS}) -> 'Iterator[WalletEvent]'"
    assert (
        str(inspect.signature(AsyncWalletClient.watch_events))
        == f"(self, {WATCH_PARAMETERS}) -> 'AsyncIterator[WalletEvent]'"
    )
    assert inspect.isgeneratorfunction(WalletClient.watch_events)
    assert inspect.isasyncgenfunction(AsyncWalletClient.watch_events)


@pytest.mark.parametrize("name", [*SIGNATURES, "iter_entries", "list_holds", "watch_events"])
def test_both_clients_document_each_method_alike(name: str) -> None:
    sync_method, async_method = getattr(WalletClient, name), getattr(AsyncWalletClient, name)
    assert sync_method.__name__ == async_method.__name__ == name
    assert sync_method.__doc__ and sync_method.__doc__ == async_method.__doc__


def test_bound_methods_drop_only_self() -> None:
    with WalletClient(NOWHERE) as client:
        assert next(iter(inspect.signature(client.credit).parameters)) == "customer_id"


def test_the_constructors_take_the_same_arguments() -> None:
    sync_parameters = inspect.signature(WalletClient).parameters
    assert list(sync_parameters) == [
        "target",
        "credentials",
        "timeout_s",
        "stream_timeout_s",
        "retry",
        "options",
        "metadata",
        "channel",
    ]
    assert [(p.name, p.kind, p.default) for p in sync_parameters.values()] == [
        (p.name, p.kind, p.default) for p in inspect.signature(AsyncWalletClient).parameters.values()
    ]


def test_the_blocking_client_checks_amounts_at_the_call() -> None:
    with WalletClient(NOWHERE) as client, pytest.raises(TypeError, match="int of minor units"):
        client.credit("cus_1", 1.5, "USD")  # type: ignore[arg-type]


async def test_the_asyncio_client_checks_arguments_when_awaited_like_an_async_def() -> None:
    async with AsyncWalletClient(NOWHERE) as client:
        pending = client.debit("cus_1", True, "USD")  # no error yet: nothing has run
        with pytest.raises(TypeError, match="int of minor units"):
            await pending
        with pytest.raises(ValueError, match="'refund' is not a valid EntryType"):
            await client.create_entry("cus_1", "refund", 1, "USD")


async def test_history_filters_are_checked_when_iteration_starts() -> None:
    naive = datetime(2026, 1, 1)
    with WalletClient(NOWHERE) as client:
        entries = client.iter_entries("cus_1", created_after=naive)
        with pytest.raises(ValueError, match="timezone-aware"):
            next(entries)
    async with AsyncWalletClient(NOWHERE) as aclient:
        aentries = aclient.iter_entries("cus_1", limit=-1)
        with pytest.raises(ValueError, match="must not be negative"):
            await anext(aentries)


def test_only_credits_take_an_expire_time_and_it_must_be_aware() -> None:
    with WalletClient(NOWHERE) as client:
        # mypy lets it through (credit and debit share one __call__); the call refuses it like Python would.
        with pytest.raises(TypeError, match="unexpected keyword argument 'expire_time'"):
            client.debit("cus_1", 1, "USD", expire_time=datetime(2030, 1, 1, tzinfo=UTC))
        with pytest.raises(ValueError, match="expire_time must be a timezone-aware datetime"):
            client.credit("cus_1", 1, "USD", expire_time=datetime(2030, 1, 1))
        with pytest.raises(ValueError, match="written by the service"):
            client.create_entry("cus_1", "expiration", 1, "USD")


async def test_hold_arguments_are_checked_before_anything_is_sent() -> None:
    async with AsyncWalletClient(NOWHERE) as client:
        with pytest.raises(TypeError, match="int of minor units"):
            await client.hold("cus_1", Decimal("1.50"), "USD")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="ttl must be positive"):
            await client.hold("cus_1", 100, "USD", ttl=timedelta(0))
        with pytest.raises(TypeError, match="int of minor units"):
            await client.capture("cus_1", "hd_1", 1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="'open' is not a valid HoldStatus"):
            await anext(client.list_holds("cus_1", status="open"))
