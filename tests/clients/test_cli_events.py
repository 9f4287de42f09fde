"""`wallet watch` and `wallet threshold` against the real server.

`threshold` runs through Typer's test runner in a worker thread (the server
runs on this test's event loop). `watch` runs as a real process, as a person
runs it, because it only ends on Ctrl-C: the test reads its lines as they
come, makes a change while it watches, then sends SIGINT. Watches start from
the oldest event of a customer no other test touches, so no line depends on
when the watch went live.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator

import pytest

from tests.clients.test_cli import assert_no_traceback, wallet
from wallet_client import AsyncWalletClient, WalletEvent

# A safety bound only: each read ends as soon as the line it waits for is printed.
PATIENCE_S = 30.0
WALLET_COMMAND = (sys.executable, "-c", "from wallet_client.cli import main; main()")


class Watching:
    """A running `wallet watch` whose stdout lines are read one at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> str:
        assert self.process.stdout is not None
        read = await asyncio.wait_for(self.process.stdout.readline(), PATIENCE_S)
        assert read, "the watch ended"
        return read.decode().rstrip("\n")

    async def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: the exit status and what was said on stderr."""
        self.process.send_signal(signal.SIGINT)
        assert self.process.stderr is not None
        stderr = await asyncio.wait_for(self.process.stderr.read(), PATIENCE_S)
        return await asyncio.wait_for(self.process.wait(), PATIENCE_S), stderr.decode()


@pytest.fixture
async def watching(target: str) -> AsyncIterator[list[Watching]]:
    started: list[Watching] = []
    yield started
    for watch in started:
        if watch.process.returncode is None:
            watch.process.kill()
            await watch.process.wait()


async def start_watch(started: list[Watching], target: str, *args: str) -> Watching:
    process = await asyncio.create_subprocess_exec(
        *WALLET_COMMAND,
        "--target",
        target,
        "watch",
        *args,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    watch = Watching(process)
    started.append(watch)
    return watch


async def test_threshold_reads_money_shows_in_balances_and_zero_switches_it_off(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 300, "USD")
    result = await wallet(target, "threshold", customer_id, "usd", "5.00")
    assert result.exit_code == 0, result.output
    assert f"{customer_id}'s USD wallet is low below $5.00 (500 minor units)." in result.stdout
    assert "It is low now." in result.stdout
    assert (await aclient.get_balances(customer_id))["USD"].low_balance_threshold == 500

    table = await wallet(target, "balances", customer_id)
    assert "Low below" in table.stdout and "$5.00" in table.stdout
    as_json = json.loads((await wallet(target, "balances", customer_id, "--format", "json")).stdout)
    assert {w["currency"]: w["low_balance_threshold"] for w in as_json["wallets"]} == {"INR": 0, "USD": 500}

    off = await wallet(target, "threshold", customer_id, "USD", "0")
    assert off.exit_code == 0, off.output
    assert f"Low-balance alerts are off for {customer_id}'s USD wallet." in off.stdout
    assert (await aclient.get_balances(customer_id))["USD"].low_balance_threshold == 0


async def test_threshold_refuses_what_is_not_an_amount(target: str, customer_id: str) -> None:
    too_precise = await wallet(target, "threshold", customer_id, "USD", "5.001")
    assert too_precise.exit_code == 2 and "more than 2 decimal places" in too_precise.output
    negative = await wallet(target, "threshold", customer_id, "USD", "-5")
    assert negative.exit_code == 2
    assert_no_traceback(negative)


async def test_watch_prints_each_event_as_jsonl_live_and_ctrl_c_exits_0_naming_the_cursor(
    target: str, customer_id: str, aclient: AsyncWalletClient, watching: list[Watching]
) -> None:
    await aclient.credit(customer_id, 1_000, "USD", reason="top-up")
    await aclient.set_low_balance_threshold(customer_id, "USD", 2_000)
    watch = await start_watch(watching, target, customer_id, "--from-oldest", "--format", "jsonl")
    first, low = json.loads(await watch.line()), json.loads(await watch.line())
    assert (first["event_type"], first["entry"]["amount"], first["entry"]["reason"]) == (
        "entry_created",
        1_000,
        "top-up",
    )
    assert (low["event_type"], low["threshold"], low["wallet"]["available_balance"]) == ("balance_low", 2_000, 1_000)
    await aclient.hold(customer_id, 250, "USD")  # made while the watch runs
    held = json.loads(await watch.line())
    assert (held["event_type"], held["hold"]["amount"], held["wallet"]["held_balance"]) == ("hold_created", 250, 250)
    status, stderr = await watch.interrupt()
    assert status == 0, stderr
    assert f"Stopped after 3 events; continue with --after {held['cursor']}." in stderr
    assert "Traceback" not in stderr


async def test_watch_as_a_table_after_a_cursor_with_a_type_filter(
    target: str, customer_id: str, aclient: AsyncWalletClient, watching: list[Watching]
) -> None:
    first = await aclient.credit(customer_id, 1_000, "USD")
    await aclient.hold(customer_id, 100, "USD")
    await aclient.debit(customer_id, 250, "USD")
    (start,) = [e async for e in _first_events(aclient, customer_id, 1)]
    assert start.entry == first.entry
    watch = await start_watch(watching, target, customer_id, "--after", start.cursor, "--type", "entry_created")
    assert (await watch.line()).split()[:3] == ["Occurred", "(UTC)", "Event"]
    row = await watch.line()
    assert "entry_created" in row and customer_id in row and "-$2.50" in row
    assert "USD balance: $7.50, held $1.00, available $6.50" in row
    status, stderr = await watch.interrupt()
    assert status == 0 and "Stopped after 1 event;" in stderr


async def _first_events(client: AsyncWalletClient, customer_id: str, count: int) -> AsyncIterator[WalletEvent]:
    events = client.watch_events(customer_id, from_oldest=True)
    async for event in events:
        yield event
        count -= 1
        if count == 0:
            break


async def test_watch_refuses_an_unknown_type_and_two_starting_points(target: str) -> None:
    unknown = await wallet(target, "watch", "--type", "refund")
    assert unknown.exit_code == 2 and "'refund' is not an event type" in unknown.output
    both = await wallet(target, "watch", "--from-oldest", "--after", "ev_1")
    assert both.exit_code == 2 and "give --from-oldest or --after, not both" in both.output
    bad_cursor = await wallet(target, "watch", "--after", "nonsense")
    assert bad_cursor.exit_code == 2
    assert bad_cursor.stdout == "", "no table before the error"
    assert bad_cursor.stderr.splitlines() == [
        "Watching events of every customer after nonsense; Ctrl-C to stop.",
        "Invalid request: start_after_cursor is not a cursor this service issued",
    ]
    assert_no_traceback(bad_cursor)
