"""Holds and expiring credits through both clients, against the real server and PostgreSQL.

The blocking client runs in a worker thread (asyncio.to_thread): the server
runs on this test's event loop, which must keep turning while it waits.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from server.ledger.clock import Clock
from tests.clients.conftest import FAST_RETRY
from tests.waiting import move_past
from wallet_client import (
    AsyncWalletClient,
    CaptureResult,
    EntryType,
    Hold,
    HoldPage,
    HoldResult,
    HoldStatus,
    WalletClient,
)


async def test_a_hold_reserves_and_a_partial_capture_spends_only_what_it_says(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    await aclient.credit(customer_id, 1_000, "USD")
    held = await aclient.hold(
        customer_id, 400, "USD", ttl=timedelta(minutes=10), reason="render job", metadata={"job": "j1"}
    )
    assert isinstance(held, HoldResult) and isinstance(held.hold, Hold)
    hold = held.hold
    assert (hold.status, hold.amount, hold.currency, hold.reason, dict(hold.metadata)) == (
        HoldStatus.ACTIVE,
        400,
        "USD",
        "render job",
        {"job": "j1"},
    )
    assert hold.id.startswith("hd_") and len(hold.idempotency_key) == 36 and not held.idempotent_replay
    assert hold.expire_time - hold.created_at == timedelta(minutes=10) and hold.closed_at is None
    assert (held.wallet.balance, held.wallet.held_balance, held.wallet.available_balance) == (1_000, 400, 600)
    assert held.wallet.version == 2

    captured = await aclient.capture(customer_id, hold.id, 150, metadata={"minutes": "3"})
    assert isinstance(captured, CaptureResult) and not captured.idempotent_replay
    assert (captured.hold.status, captured.hold.captured_amount) == (HoldStatus.CAPTURED, 150)
    assert captured.hold.capture_entry_id == captured.entry.id and captured.hold.closed_at is not None
    entry = captured.entry
    assert (entry.entry_type, entry.amount, entry.hold_id, entry.reason) == (
        EntryType.DEBIT,
        150,
        hold.id,
        "render job",
    )
    assert dict(entry.metadata) == {"job": "j1", "minutes": "3"}
    # The other 250 came back: nothing is held any more.
    usd = (await aclient.get_balances(customer_id))["USD"]
    assert (usd.balance, usd.held_balance, usd.available_balance, usd.version) == (850, 0, 850, 3)
    assert (await aclient.get_hold(customer_id, hold.id)) == captured.hold


async def test_a_capture_of_zero_takes_the_whole_hold_and_repeating_it_replays(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    await aclient.credit(customer_id, 500, "INR")
    hold = (await aclient.hold(customer_id, 300, "INR")).hold
    # No ttl given: the service's default of 15 minutes.
    assert hold.expire_time - hold.created_at == timedelta(minutes=15)
    first = await aclient.capture(customer_id, hold.id)
    again = await aclient.capture(customer_id, hold.id)
    assert first.hold.captured_amount == 300 and first.wallet.available_balance == 200
    assert again.idempotent_replay and again.entry == first.entry and again.hold == first.hold
    assert [e.amount async for e in aclient.iter_entries(customer_id, entry_type="debit")] == [300]


async def test_a_release_returns_the_whole_hold_and_repeating_it_replays(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    await aclient.credit(customer_id, 500, "USD")
    hold = (await aclient.hold(customer_id, 500, "USD")).hold
    released = await aclient.release(customer_id, hold.id)
    assert released.hold.status is HoldStatus.RELEASED and not released.idempotent_replay
    assert (released.wallet.held_balance, released.wallet.available_balance) == (0, 500)
    again = await aclient.release(customer_id, hold.id)
    assert again.idempotent_replay and again.hold == released.hold
    assert [e async for e in aclient.iter_entries(customer_id, entry_type="debit")] == []


async def test_a_hold_sent_again_with_its_key_is_made_once(aclient: AsyncWalletClient, customer_id: str) -> None:
    await aclient.credit(customer_id, 1_000, "USD")
    first = await aclient.hold(customer_id, 600, "USD", ttl=timedelta(minutes=5), idempotency_key="job-1")
    again = await aclient.hold(customer_id, 600, "USD", ttl=timedelta(minutes=5), idempotency_key="job-1")
    assert again.idempotent_replay and again.hold == first.hold
    assert (await aclient.get_balances(customer_id))["USD"].held_balance == 600


async def test_an_expired_hold_reserves_nothing(aclient: AsyncWalletClient, customer_id: str, clock: Clock) -> None:
    await aclient.credit(customer_id, 100, "USD")
    hold = (await aclient.hold(customer_id, 100, "USD", ttl=timedelta(milliseconds=200))).hold
    move_past(clock, hold.expire_time)
    expired = await aclient.get_hold(customer_id, hold.id)
    assert expired.status is HoldStatus.EXPIRED and expired.closed_at == hold.expire_time
    usd = (await aclient.get_balances(customer_id))["USD"]
    assert (usd.balance, usd.held_balance, usd.available_balance) == (100, 0, 100)


async def test_list_holds_walks_every_page_newest_first_with_filters(
    aclient: AsyncWalletClient, customer_id: str
) -> None:
    await aclient.credit(customer_id, 1_000, "USD")
    await aclient.credit(customer_id, 1_000, "INR")
    made = [(await aclient.hold(customer_id, n, "USD" if n % 2 else "INR")).hold for n in range(1, 8)]
    await aclient.release(customer_id, made[0].id)
    newest_first = [h.id for h in reversed(made)]

    assert [h.id async for h in aclient.list_holds(customer_id, page_size=2)] == newest_first
    usd = [h.amount async for h in aclient.list_holds(customer_id, currency="USD", page_size=1)]
    assert usd == [7, 5, 3, 1]
    active = [h.amount async for h in aclient.list_holds(customer_id, status=HoldStatus.ACTIVE)]
    assert active == [7, 6, 5, 4, 3, 2]
    assert [h.amount async for h in aclient.list_holds(customer_id, status="released")] == [1]

    page = await aclient.list_holds_page(customer_id, page_size=3)
    assert isinstance(page, HoldPage) and [h.amount for h in page.holds] == [7, 6, 5] and page.next_page_token
    rest = await aclient.list_holds_page(customer_id, page_size=10, page_token=page.next_page_token)
    assert [h.amount for h in rest.holds] == [4, 3, 2, 1] and rest.next_page_token == ""


async def test_a_credit_with_an_expire_time_lapses_by_an_expiration_entry(
    aclient: AsyncWalletClient, customer_id: str, clock: Clock
) -> None:
    far = datetime(2030, 1, 1, tzinfo=UTC)
    lasting = await aclient.credit(customer_id, 500, "USD", reason="promo", expire_time=far)
    assert lasting.entry.expire_time == far
    soon = clock.now() + timedelta(seconds=10)
    short = await aclient.credit(customer_id, 300, "USD", reason="trial", expire_time=soon)
    await aclient.debit(customer_id, 100, "USD")  # spends the soonest-expiring credit first
    move_past(clock, soon)
    entries = [e async for e in aclient.iter_entries(customer_id)]
    expiration = entries[-1]
    assert (expiration.entry_type, expiration.amount, expiration.expired_entry_id) == (
        EntryType.EXPIRATION,
        200,
        short.entry.id,
    )
    assert [e.amount async for e in aclient.iter_entries(customer_id, entry_type=EntryType.EXPIRATION)] == [200]
    assert (await aclient.get_balances(customer_id))["USD"].balance == 500


async def test_the_blocking_client_holds_captures_releases_and_lists(target: str, customer_id: str) -> None:
    def scenario() -> None:
        with WalletClient(target, retry=FAST_RETRY) as client:
            client.credit(customer_id, 1_000, "USD")
            first = client.hold(customer_id, 700, "USD", reason="job", idempotency_key="j-1").hold
            second = client.hold(customer_id, 300, "USD").hold
            assert client.get_balances(customer_id)["USD"].available_balance == 0
            assert client.capture(customer_id, first.id, 200).wallet.available_balance == 500
            assert client.release(customer_id, second.id).wallet.available_balance == 800
            assert [h.status for h in client.list_holds(customer_id, page_size=1)] == [
                HoldStatus.RELEASED,
                HoldStatus.CAPTURED,
            ]
            assert client.get_hold(customer_id, first.id).captured_amount == 200
            assert client.list_holds_page(customer_id).holds[1].idempotency_key == "j-1"

    await asyncio.to_thread(scenario)
