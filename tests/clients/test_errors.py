"""Each refusal of the real server arrives as a named exception carrying the details of its status."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from tests.clients.conftest import FAST_RETRY
from tests.seeding import seed_credits
from wallet_client import (
    AsyncWalletClient,
    BalanceOverflow,
    CaptureExceedsHold,
    HoldNotActive,
    HoldNotFound,
    HoldStatus,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidRequest,
    RetryPolicy,
    WalletClient,
    WalletError,
    WalletUnavailable,
)


async def test_a_debit_beyond_the_balance_raises_insufficient_balance_with_the_numbers(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    await aclient.credit(customer_id, 1_200, "USD")
    with pytest.raises(InsufficientBalance) as raised:
        await aclient.debit(customer_id, 5_000, "USD", reason="API usage", idempotency_key="usage-1")
    error = raised.value
    assert (error.balance, error.amount, error.currency) == (1_200, 5_000, "USD")
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "INSUFFICIENT_WALLET_FUNDS"
    assert error.idempotency_key == "usage-1"
    assert error.attempts == 1  # a refusal is never retried
    assert error.status is not None and error.status.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert "Insufficient balance" in error.details
    assert isinstance(error, WalletError)
    assert (await aclient.get_balances(customer_id))["USD"].balance == 1_200


async def test_reusing_a_key_for_another_request_raises_idempotency_key_reused_with_the_entry(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    first = await aclient.credit(customer_id, 100, "USD", idempotency_key="pay_7")
    with pytest.raises(IdempotencyKeyReused) as raised:
        await aclient.credit(customer_id, 999, "USD", idempotency_key="pay_7")
    assert raised.value.entry_id == first.entry.id
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS


async def test_a_malformed_request_raises_invalid_request_naming_every_bad_field(
    aclient: AsyncWalletClient,
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await aclient.credit("has space", 0, "usd")
    fields = {v.field for v in raised.value.violations}
    assert fields == {"customer_id", "amount", "currency"}
    assert all(v.description for v in raised.value.violations)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_unsupported_currency_is_an_invalid_request(aclient: AsyncWalletClient, customer_id: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await aclient.credit(customer_id, 100, "EUR")
    assert [v.field for v in raised.value.violations] == ["currency"]
    assert "not supported" in raised.value.violations[0].description


async def test_resuming_after_an_unknown_id_is_an_invalid_request(aclient: AsyncWalletClient, customer_id: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        [e async for e in aclient.iter_entries(customer_id, start_after_id="le_nope")]
    assert [v.field for v in raised.value.violations] == ["start_after_id"]


async def test_a_credit_beyond_int64_raises_balance_overflow(
    aclient: AsyncWalletClient, customer_id: str, database_url: str
) -> None:
    # The largest credit is 10^15; 9223 of them fit below 2^63-1, the 9224th does not.
    limit = 10**15
    fitting = (2**63 - 1) // limit
    # All but the last fitting one are seeded straight into the ledger: fast, and the same history.
    await asyncio.to_thread(seed_credits, database_url, customer_id, fitting - 1, "INR", limit)
    await aclient.credit(customer_id, limit, "INR")
    balance = (await aclient.get_balances(customer_id))["INR"].balance
    assert balance == fitting * limit
    with pytest.raises(BalanceOverflow) as raised:
        await aclient.credit(customer_id, limit, "INR")
    assert (raised.value.balance, raised.value.amount, raised.value.currency) == (balance, limit, "INR")


async def test_a_hold_beyond_the_available_balance_raises_insufficient_balance_with_what_is_held(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    await aclient.credit(customer_id, 1_000, "USD")
    await aclient.hold(customer_id, 400, "USD")
    for refused in (aclient.hold(customer_id, 700, "USD"), aclient.debit(customer_id, 700, "USD")):
        with pytest.raises(InsufficientBalance) as raised:
            await refused
        error = raised.value
        assert (error.balance, error.held_balance, error.available_balance, error.amount) == (1_000, 400, 600, 700)
    assert (await aclient.get_balances(customer_id))["USD"].available_balance == 600


async def test_an_unknown_hold_raises_hold_not_found(aclient: AsyncWalletClient, customer_id: str) -> None:
    await aclient.credit(customer_id, 100, "USD")
    others = (await aclient.hold(customer_id, 100, "USD")).hold.id
    for call in (
        aclient.get_hold(customer_id, "hd_nope"),
        aclient.capture(customer_id, "hd_nope"),
        aclient.release(customer_id, "hd_nope"),
        # Another customer's hold is not found either.
        aclient.get_hold(f"{customer_id}_other", others),
    ):
        with pytest.raises(HoldNotFound) as raised:
            await call
        assert raised.value.code == grpc.StatusCode.NOT_FOUND and raised.value.attempts == 1
    assert raised.value.hold_id == others


async def test_a_closed_hold_raises_hold_not_active_naming_its_status(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    await aclient.credit(customer_id, 1_000, "USD")
    captured = (await aclient.hold(customer_id, 400, "USD")).hold.id
    released = (await aclient.hold(customer_id, 400, "USD")).hold.id
    await aclient.capture(customer_id, captured, 100)
    await aclient.release(customer_id, released)
    for call, status in (
        (aclient.capture(customer_id, captured, 200), HoldStatus.CAPTURED),  # not the capture that closed it
        (aclient.release(customer_id, captured), HoldStatus.CAPTURED),
        (aclient.capture(customer_id, released), HoldStatus.RELEASED),
    ):
        with pytest.raises(HoldNotActive) as raised:
            await call
        assert (raised.value.hold_status, raised.value.code) == (status, grpc.StatusCode.FAILED_PRECONDITION)
        assert raised.value.attempts == 1
    assert (await aclient.get_balances(customer_id))["USD"].balance == 900


async def test_capturing_more_than_the_hold_raises_capture_exceeds_hold(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    await aclient.credit(customer_id, 1_000, "USD")
    hold = (await aclient.hold(customer_id, 400, "USD")).hold
    with pytest.raises(CaptureExceedsHold) as raised:
        await aclient.capture(customer_id, hold.id, 401)
    assert (raised.value.hold_id, raised.value.amount, raised.value.hold_amount) == (hold.id, 401, 400)
    # Nothing happened: the hold can still be captured.
    assert (await aclient.capture(customer_id, hold.id, 400)).wallet.balance == 600


async def test_a_key_shared_by_holds_and_entries_raises_idempotency_key_reused_naming_the_original(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    entry = (await aclient.credit(customer_id, 1_000, "USD", idempotency_key="k-entry")).entry
    hold = (await aclient.hold(customer_id, 100, "USD", idempotency_key="k-hold")).hold
    with pytest.raises(IdempotencyKeyReused) as raised:
        await aclient.hold(customer_id, 100, "USD", idempotency_key="k-entry")
    assert (raised.value.entry_id, raised.value.hold_id) == (entry.id, "")
    with pytest.raises(IdempotencyKeyReused) as raised:
        await aclient.hold(customer_id, 200, "USD", idempotency_key="k-hold")
    assert (raised.value.entry_id, raised.value.hold_id) == ("", hold.id)
    with pytest.raises(IdempotencyKeyReused) as raised:
        await aclient.debit(customer_id, 100, "USD", idempotency_key="k-hold")
    assert raised.value.hold_id == hold.id


async def test_bad_hold_arguments_raise_invalid_request_naming_the_fields(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await aclient.hold(customer_id, 0, "EUR", ttl=timedelta(days=8))
    assert {v.field for v in raised.value.violations} == {"amount", "currency", "ttl"}
    with pytest.raises(InvalidRequest) as raised:
        await aclient.capture(customer_id, "", -1)
    assert {v.field for v in raised.value.violations} == {"hold_id", "amount"}
    with pytest.raises(InvalidRequest) as raised:
        [h async for h in aclient.list_holds(customer_id, page_size=1_001)]
    assert [v.field for v in raised.value.violations] == ["page_size"]
    with pytest.raises(InvalidRequest) as raised:
        await aclient.credit(customer_id, 100, "USD", expire_time=datetime(2020, 1, 1, tzinfo=UTC))
    assert [v.field for v in raised.value.violations] == ["expire_time"]


async def test_an_unreachable_server_raises_wallet_unavailable_after_bounded_retries(
    customer_id: str,
) -> None:
    retry = RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02, total_timeout_s=5)
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused.
    async with AsyncWalletClient("127.0.0.1:9", retry=retry, timeout_s=1.0) as client:
        with pytest.raises(WalletUnavailable) as raised:
            await client.credit(customer_id, 100, "USD", idempotency_key="k-1")
    assert raised.value.code == grpc.StatusCode.UNAVAILABLE
    assert raised.value.attempts == 3
    # The key to retry later with, knowing it cannot apply twice.
    assert raised.value.idempotency_key == "k-1"


async def test_the_blocking_client_raises_the_same_exceptions(target: str, customer_id: str) -> None:
    def scenario() -> None:
        with WalletClient(target, retry=FAST_RETRY) as client:
            client.credit(customer_id, 1_200, "USD")
            with pytest.raises(InsufficientBalance) as raised:
                client.debit(customer_id, 5_000, "USD")
            assert (raised.value.balance, raised.value.amount) == (1_200, 5_000)
            with pytest.raises(InvalidRequest):
                client.get_balances("")
            with pytest.raises(InvalidRequest):
                list(client.iter_entries(customer_id, start_after_id="le_nope"))

    await asyncio.to_thread(scenario)
