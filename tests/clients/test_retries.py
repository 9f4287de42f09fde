"""Retries are safe: a write whose answer was lost is sent again with its key and applies once;
a history stream that drops resumes after the last entry it delivered."""

from __future__ import annotations

import asyncio
import random

import grpc
import pytest

from tests.clients.conftest import FAST_RETRY, LONG_HISTORY_ENTRIES
from tests.clients.faults import Faults, TcpCutter
from wallet.v1 import wallet_pb2, wallet_pb2_grpc
from wallet_client import NO_RETRY, AsyncWalletClient, RetryPolicy, WalletClient, WalletUnavailable
from wallet_client.retry import READ_RETRY_CODES, WRITE_RETRY_CODES, RetryBudget


async def test_a_credit_whose_response_was_lost_after_commit_applies_once(
    proxy: tuple[str, Faults], aclient: AsyncWalletClient, customer_id: str
) -> None:
    address, faults = proxy
    faults.lose_write_responses = 1
    async with AsyncWalletClient(address, retry=FAST_RETRY) as client:
        result = await client.credit(customer_id, 10_000, "USD", reason="Buy credits")
    # The first attempt was committed; the retry, same key, was answered from the ledger.
    assert faults.calls == ["CreateLedgerEntry", "CreateLedgerEntry"]
    assert result.idempotent_replay
    assert result.wallet.balance == 10_000
    entries = [e async for e in aclient.iter_entries(customer_id)]
    assert [(e.amount, e.idempotency_key) for e in entries] == [(10_000, result.entry.idempotency_key)]
    assert (await aclient.get_balances(customer_id))["USD"].balance == 10_000


@pytest.mark.parametrize("reason", ["COMMIT_OUTCOME_UNKNOWN", "DATABASE_UNAVAILABLE"])
async def test_a_credit_answered_with_a_failover_reason_is_retried_with_its_key_and_applies_once(
    proxy: tuple[str, Faults], aclient: AsyncWalletClient, customer_id: str, reason: str
) -> None:
    address, faults = proxy
    faults.lose_write_responses, faults.lost_write_reason = 2, reason
    # Without retries the caller sees the reason, and the key to retry with.
    async with AsyncWalletClient(address, retry=NO_RETRY) as client:
        with pytest.raises(WalletUnavailable) as raised:
            await client.credit(customer_id, 2_500, "USD", reason="Buy credits")
    assert raised.value.reason == reason
    async with AsyncWalletClient(address, retry=FAST_RETRY) as client:
        result = await client.credit(
            customer_id, 2_500, "USD", reason="Buy credits", idempotency_key=raised.value.idempotency_key
        )
    assert faults.calls == ["CreateLedgerEntry"] * 3
    assert result.idempotent_replay and result.wallet.balance == 2_500
    entries = [e async for e in aclient.iter_entries(customer_id)]
    assert [(e.amount, e.idempotency_key) for e in entries] == [(2_500, result.entry.idempotency_key)]


async def test_the_blocking_client_retries_a_lost_debit_once_too(
    proxy: tuple[str, Faults], aclient: AsyncWalletClient, customer_id: str
) -> None:
    address, faults = proxy
    await aclient.credit(customer_id, 5_000, "USD")
    faults.lose_write_responses = 1

    def debit() -> None:
        with WalletClient(address, retry=FAST_RETRY) as client:
            result = client.debit(customer_id, 3_000, "USD", reason="usage")
            assert result.idempotent_replay and result.wallet.balance == 2_000

    await asyncio.to_thread(debit)
    assert (await aclient.get_balances(customer_id))["USD"].balance == 2_000


async def test_without_retries_the_caller_gets_the_key_to_retry_with_later(
    proxy: tuple[str, Faults], aclient: AsyncWalletClient, customer_id: str
) -> None:
    address, faults = proxy
    faults.lose_write_responses = 1
    async with AsyncWalletClient(address, retry=NO_RETRY) as client:
        with pytest.raises(WalletUnavailable) as raised:
            await client.credit(customer_id, 700, "INR")
        key = raised.value.idempotency_key
        assert key
        again = await client.credit(customer_id, 700, "INR", idempotency_key=key)
    assert again.idempotent_replay
    assert (await aclient.get_balances(customer_id))["INR"].balance == 700


async def test_a_capture_whose_response_was_lost_is_retried_and_replays(
    proxy: tuple[str, Faults], aclient: AsyncWalletClient, customer_id: str
) -> None:
    address, faults = proxy
    await aclient.credit(customer_id, 1_000, "USD")
    hold = (await aclient.hold(customer_id, 600, "USD")).hold
    faults.lose_write_responses = 1
    async with AsyncWalletClient(address, retry=FAST_RETRY) as client:
        captured = await client.capture(customer_id, hold.id, 250)
    # The first attempt captured; the second, the same call, was answered with that capture.
    assert faults.calls == ["CaptureHold", "CaptureHold"]
    assert captured.idempotent_replay and captured.hold.captured_amount == 250
    assert [e.id async for e in aclient.iter_entries(customer_id, entry_type="debit")] == [captured.entry.id]
    usd = (await aclient.get_balances(customer_id))["USD"]
    assert (usd.balance, usd.held_balance, usd.available_balance) == (750, 0, 750)


async def test_lost_holds_and_releases_are_retried_and_apply_once(
    proxy: tuple[str, Faults], aclient: AsyncWalletClient, customer_id: str
) -> None:
    address, faults = proxy
    await aclient.credit(customer_id, 1_000, "INR")

    def scenario() -> None:
        with WalletClient(address, retry=FAST_RETRY) as client:
            faults.lose_write_responses = 1
            held = client.hold(customer_id, 400, "INR")
            assert held.idempotent_replay and held.wallet.held_balance == 400
            faults.lose_write_responses = 1
            released = client.release(customer_id, held.hold.id)
            assert released.idempotent_replay and released.wallet.available_balance == 1_000

    await asyncio.to_thread(scenario)
    assert faults.calls == ["CreateHold"] * 2 + ["ReleaseHold"] * 2
    assert [h.status.value async for h in aclient.list_holds(customer_id)] == ["released"]


async def test_a_read_refused_once_is_retried(proxy: tuple[str, Faults], customer_id: str) -> None:
    address, faults = proxy
    faults.refuse_reads = 2
    async with AsyncWalletClient(address, retry=FAST_RETRY) as client:
        balances = await client.get_balances(customer_id)
    assert balances.customer_id == customer_id
    assert faults.calls == ["GetBalances"] * 3


async def test_retries_stop_after_max_attempts(proxy: tuple[str, Faults], customer_id: str) -> None:
    address, faults = proxy
    faults.refuse_reads = 10
    retry = RetryPolicy(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.001)
    async with AsyncWalletClient(address, retry=retry) as client:
        with pytest.raises(WalletUnavailable) as raised:
            await client.get_balances(customer_id)
    assert raised.value.attempts == 3
    assert faults.calls == ["GetBalances"] * 3


async def test_iter_entries_resumes_after_a_stream_cut_without_gaps_or_repeats(
    proxy: tuple[str, Faults], aclient: AsyncWalletClient, long_history: str
) -> None:
    address, faults = proxy
    expected = [e.id async for e in aclient.iter_entries(long_history)]
    assert len(expected) == LONG_HISTORY_ENTRIES
    faults.cut_streams_after = [1, 1]  # two cuts, each after one message of up to 1,000 entries
    async with AsyncWalletClient(address, retry=FAST_RETRY) as client:
        received = [e.id async for e in client.iter_entries(long_history)]
    assert received == expected
    assert faults.calls.count("ListLedgerEntries") == 3


async def test_a_resumed_stream_keeps_the_limit_and_the_order(
    proxy: tuple[str, Faults], aclient: AsyncWalletClient, long_history: str
) -> None:
    address, faults = proxy
    expected = [e.id async for e in aclient.iter_entries(long_history, newest_first=True, limit=1_500)]
    faults.cut_streams_after = [1]
    async with AsyncWalletClient(address, retry=FAST_RETRY) as client:
        received = [e.id async for e in client.iter_entries(long_history, newest_first=True, limit=1_500)]
    assert received == expected and len(received) == 1_500


async def test_iter_entries_resumes_after_the_tcp_connection_drops(
    tcp_cutter: TcpCutter, aclient: AsyncWalletClient, long_history: str
) -> None:
    expected = [e.id async for e in aclient.iter_entries(long_history)]
    async with grpc.aio.insecure_channel(tcp_cutter.address) as channel:
        messages = wallet_pb2_grpc.WalletServiceStub(channel).ListLedgerEntries(
            wallet_pb2.ListLedgerEntriesRequest(customer_id=long_history)
        )
        sizes = [m.ByteSize() async for m in messages]
    first_message_bytes = sizes[0]
    # Inside the second message: the client has yielded 1,000 entries when the connection drops.
    tcp_cutter.cut_after(first_message_bytes + 50_000)

    def read_all() -> list[str]:
        with WalletClient(tcp_cutter.address, retry=FAST_RETRY) as client:
            return [e.id for e in client.iter_entries(long_history)]

    received = await asyncio.to_thread(read_all)
    assert tcp_cutter.cuts == 1
    assert received == expected


def test_reads_retry_only_unavailable_and_writes_also_deadline_and_aborted() -> None:
    assert grpc.StatusCode.UNAVAILABLE in READ_RETRY_CODES
    assert grpc.StatusCode.DEADLINE_EXCEEDED not in READ_RETRY_CODES
    assert {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED} <= WRITE_RETRY_CODES
    for code in (
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.INTERNAL,
    ):
        budget = RetryBudget(RetryPolicy(), WRITE_RETRY_CODES)
        budget.attempt_timeout(1.0)
        assert budget.delay_before_retry(code) is None


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(initial_backoff_s=0.1, multiplier=2, max_backoff_s=1.0)
    rng = random.Random(7)
    samples = {n: [policy.backoff_s(n, rng) for _ in range(200)] for n in (1, 2, 3, 8)}
    assert all(0 <= s <= 0.1 for s in samples[1])
    assert all(0 <= s <= 0.4 for s in samples[3]) and max(samples[3]) > 0.2
    assert all(0 <= s <= 1.0 for s in samples[8]) and max(samples[8]) > 0.8
    assert len(set(samples[2])) > 100  # jittered, not one fixed delay


def test_no_attempt_starts_after_the_total_time_budget() -> None:
    now = [0.0]
    budget = RetryBudget(RetryPolicy(max_attempts=100, total_timeout_s=5.0), READ_RETRY_CODES, clock=lambda: now[0])
    assert budget.attempt_timeout(10.0) == 5.0  # the per-call deadline is cut to the budget
    now[0] = 1.0
    assert budget.delay_before_retry(grpc.StatusCode.UNAVAILABLE) is not None
    assert budget.attempt_timeout(10.0) == 4.0
    now[0] = 5.0
    assert budget.delay_before_retry(grpc.StatusCode.UNAVAILABLE) is None
