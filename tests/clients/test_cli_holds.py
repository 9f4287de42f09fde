"""`wallet hold`, `capture`, `release`, `holds`, `credit --expires-*` and the held and available columns of
`wallet balances`, through Typer's test runner against the real server.

Commands run in a worker thread: the server they talk to runs on this test's event loop.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta

from tests.clients.faults import Faults
from tests.clients.test_cli import assert_explained, assert_no_traceback, wallet
from wallet_client import AsyncWalletClient, EntryType

HOLD_ID = re.compile(r"Hold (hd_\w+), idempotency key (\S+)")


async def _hold(target: str, *args: str) -> str:
    result = await wallet(target, "hold", *args)
    assert result.exit_code == 0, result.output
    found = HOLD_ID.search(result.stdout)
    assert found, result.stdout
    return found.group(1)


async def test_hold_reads_money_and_a_ttl_and_shows_what_is_left_available(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD")
    result = await wallet(
        target, "hold", customer_id, "12.00", "usd", "--ttl", "1h30m", "-r", "Render job 7", "-k", "job-7", "-m", "j=7"
    )
    assert result.exit_code == 0, result.output
    assert f"Held $12.00 (1200 minor units) of {customer_id}'s USD wallet until " in result.stdout
    assert "USD balance: $100.00, held $12.00, available $88.00 (8800 minor units)" in result.stdout
    hold_id = HOLD_ID.search(result.stdout).group(1)  # type: ignore[union-attr]
    hold = await aclient.get_hold(customer_id, hold_id)
    assert (hold.amount, hold.reason, hold.idempotency_key, dict(hold.metadata)) == (
        1_200,
        "Render job 7",
        "job-7",
        {"j": "7"},
    )
    assert hold.expire_time - hold.created_at == timedelta(hours=1, minutes=30)

    again = await wallet(
        target, "hold", customer_id, "12.00", "USD", "--ttl", "90m", "-r", "Render job 7", "-k", "job-7", "-m", "j=7"
    )
    assert again.exit_code == 0, again.output
    assert f"Already applied: idempotency key job-7 made hold {hold_id}" in again.stdout
    assert "nothing new was written" in again.stdout
    assert (await aclient.get_balances(customer_id))["USD"].held_balance == 1_200


async def test_capture_of_part_returns_the_rest_and_repeating_it_replays(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD")
    hold_id = await _hold(target, customer_id, "12.00", "USD", "--reason", "Render job 7")
    result = await wallet(target, "capture", customer_id, hold_id, "3.50")
    assert result.exit_code == 0, result.output
    assert f"Captured $3.50 (350 minor units) of hold {hold_id} ($12.00); $8.50 returned" in result.stdout
    assert "USD balance: $96.50, held $0.00, available $96.50 (9650 minor units)" in result.stdout
    (debit,) = [e async for e in aclient.iter_entries(customer_id, entry_type=EntryType.DEBIT)]
    assert (debit.amount, debit.hold_id, debit.reason) == (350, hold_id, "Render job 7")
    assert f"Debit entry {debit.id}" in result.stdout
    exported = await wallet(target, "history", customer_id, "-f", "jsonl", "--type", "debit")
    (record,) = [json.loads(line) for line in exported.stdout.splitlines()]
    assert (record["id"], record["hold_id"], record["expire_time"], record["expired_entry_id"]) == (
        debit.id,
        hold_id,
        None,
        "",
    )

    again = await wallet(target, "capture", customer_id, hold_id, "3.50")
    assert again.exit_code == 0, again.output
    assert f"Already captured: hold {hold_id} was captured for $3.50 by entry {debit.id}" in again.stdout
    other = await wallet(target, "capture", customer_id, hold_id, "4.00")
    assert_explained(other, 3, f"Hold {hold_id} is already captured: only an active hold can be captured or released")


async def test_capture_without_an_amount_takes_the_whole_hold_and_refuses_more(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 500_000, "INR")
    hold_id = await _hold(target, customer_id, "1,500.00", "INR")
    too_much = await wallet(target, "capture", customer_id, hold_id, "1500.01")
    assert_explained(too_much, 3, f"Capture of ₹1,500.01 exceeds hold {hold_id} of ₹1,500.00")
    whole = await wallet(target, "capture", customer_id, hold_id, "--reason", "Annual plan")
    assert whole.exit_code == 0, whole.output
    assert "Captured ₹1,500.00 (150000 minor units)" in whole.stdout and "₹0.00 returned" in whole.stdout
    assert (await aclient.get_hold(customer_id, hold_id)).captured_amount == 150_000


async def test_release_returns_the_hold_and_repeating_it_replays(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 2_000, "USD")
    hold_id = await _hold(target, customer_id, "20", "USD")
    none_left = await wallet(target, "debit", customer_id, "0.01", "USD")
    assert_explained(none_left, 3, "Insufficient balance: $0.00 available ($20.00 less $20.00 held), needs $0.01")
    released = await wallet(target, "release", customer_id, hold_id)
    assert released.exit_code == 0, released.output
    assert f"Released hold {hold_id}: $20.00 returned to the available balance." in released.stdout
    assert "available $20.00" in released.stdout
    again = await wallet(target, "release", customer_id, hold_id)
    assert again.exit_code == 0 and f"Already released: hold {hold_id} ($20.00)" in again.stdout
    capture = await wallet(target, "capture", customer_id, hold_id)
    assert capture.exit_code == 3 and "is already released" in capture.stderr


async def test_an_unknown_hold_exits_6(target: str, customer_id: str) -> None:
    for command in ("capture", "release"):
        result = await wallet(target, command, customer_id, "hd_nope")
        assert_explained(result, 6, "No hold hd_nope: the customer has no hold with this id")


async def test_holds_lists_every_hold_newest_first_with_filters(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    assert "No holds for" in (await wallet(target, "holds", customer_id)).stdout
    await aclient.credit(customer_id, 10_000, "USD")
    await aclient.credit(customer_id, 10_000, "INR")
    first = await _hold(target, customer_id, "1.25", "USD", "--reason", "first")
    second = await _hold(target, customer_id, "2.50", "INR", "--reason", "second")
    await wallet(target, "capture", customer_id, first, "1")

    table = await wallet(target, "holds", customer_id)
    assert table.exit_code == 0, table.output
    rows = [line.split() for line in table.stdout.splitlines() if "hd_" in line]
    assert [(r[2], r[3], r[4]) for r in rows] == [(second, "₹2.50", "active"), (first, "$1.25", "captured")]
    assert rows[1][5] == "$1.00" and rows[0][-1] == "second"
    active = await wallet(target, "holds", customer_id, "--status", "active")
    assert second in active.stdout and first not in active.stdout
    usd = await wallet(target, "holds", customer_id, "--currency", "usd")
    assert first in usd.stdout and second not in usd.stdout


async def test_balances_shows_held_and_available_next_to_the_balance(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD")
    await aclient.hold(customer_id, 1_200, "USD")
    result = await wallet(target, "balances", customer_id)
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "Currency" in line)
    # Columns are separated by at least two spaces (no vertical rules).
    assert re.split(r"\s{2,}", header.strip())[:4] == ["Currency", "Balance", "Held", "Available"]
    usd = next(line for line in result.stdout.splitlines() if "USD" in line)
    assert re.split(r"\s{2,}", usd.strip())[:5] == [
        "USD",
        "$100.00",
        "$12.00",
        "$88.00",
        "10000/1200/8800",
    ]
    as_json = json.loads((await wallet(target, "balances", customer_id, "--format", "json")).stdout)
    (row,) = [w for w in as_json["wallets"] if w["currency"] == "USD"]
    assert (row["balance"], row["held_balance"], row["available_balance"], row["version"]) == (10_000, 1_200, 8_800, 2)
    assert row["available_display"] == "$88.00"


async def test_credit_expires_at_a_date_or_after_a_duration(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    before = datetime.now(UTC)
    at = await wallet(target, "credit", customer_id, "10", "USD", "--expires-at", "2030-01-01")
    assert at.exit_code == 0, at.output
    assert "Expires 2030-01-01 00:00:00 UTC: what is unspent then leaves the balance." in at.stdout
    later = await wallet(target, "credit", customer_id, "5", "USD", "--expires-in", "30d")
    assert later.exit_code == 0, later.output
    entries = [e async for e in aclient.iter_entries(customer_id)]
    assert entries[0].expire_time == datetime(2030, 1, 1, tzinfo=UTC)
    exported = await wallet(target, "history", customer_id, "-f", "csv")
    rows = list(csv.DictReader(exported.stdout.splitlines()))
    assert rows[0]["expire_time"] == "2030-01-01T00:00:00.000000Z"
    assert entries[1].expire_time is not None
    assert timedelta(days=30) <= entries[1].expire_time - before < timedelta(days=30, minutes=1)

    both = await wallet(target, "credit", customer_id, "5", "USD", "--expires-at", "2030-01-01", "--expires-in", "1d")
    assert both.exit_code == 2 and "not both" in both.output
    past = await wallet(target, "credit", customer_id, "5", "USD", "--expires-at", "2020-01-01")
    assert past.exit_code == 2 and "Invalid request: expire_time must be in the future" in past.stderr
    debit = await wallet(target, "debit", customer_id, "1", "USD", "--expires-in", "1d")
    assert debit.exit_code == 2 and "No such option: --expires-in" in debit.output
    for result in (both, past, debit):
        assert_no_traceback(result)


async def test_an_unanswered_expiring_credit_says_how_to_repeat_it_exactly(
    target: str, customer_id: str, proxy: tuple[str, Faults], aclient: AsyncWalletClient
) -> None:
    address, faults = proxy
    faults.lose_write_responses = 5  # every attempt of the command's default retry policy
    lost = await wallet(address, "credit", customer_id, "5", "USD", "--expires-in", "30d")
    assert lost.exit_code == 5, lost.output
    # --expires-in again would ask for another expire time, which the key refuses: the hint pins it.
    hint = re.search(r"run the same command again with (--idempotency-key \S+ --expires-at \S+) to retry", lost.stderr)
    assert hint, lost.stderr
    again = await wallet(target, "credit", customer_id, "5", "USD", *hint.group(1).split())
    assert again.exit_code == 0, again.output
    assert "Already applied" in again.stdout
    assert [e.amount async for e in aclient.iter_entries(customer_id)] == [500]


async def test_an_unanswered_capture_says_repeating_it_is_safe(
    target: str, customer_id: str, proxy: tuple[str, Faults], aclient: AsyncWalletClient
) -> None:
    address, faults = proxy
    await aclient.credit(customer_id, 1_000, "USD")
    hold_id = (await aclient.hold(customer_id, 600, "USD")).hold.id
    faults.lose_write_responses = 5
    lost = await wallet(address, "capture", customer_id, hold_id, "2.00")
    assert lost.exit_code == 5, lost.output
    assert "The capture may or may not have been applied: running the same command again is safe" in lost.stderr
    again = await wallet(target, "capture", customer_id, hold_id, "2.00")
    assert again.exit_code == 0 and "Already captured" in again.stdout
    assert (await aclient.get_balances(customer_id))["USD"].balance == 800
