"""The `wallet` listings at 80 and 120 columns and piped: every amount in full, every id whole on one line.

Each command renders through Typer's test runner, whose output is not a
terminal (as when piped); COLUMNS gives the terminal's width, and without it
the width of a pipe (80). Amounts are made large on purpose, ids are the
service's own (35 characters), reasons are long enough to need wrapping.
"""

from __future__ import annotations

import asyncio
import json
import os
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.clients.test_cli_events import PATIENCE_S, WALLET_COMMAND
from wallet_client import AsyncWalletClient, EventType
from wallet_client.cli import app

runner = CliRunner()
WIDTHS = (80, 120, None)  # None: piped, no COLUMNS


async def wallet_at(width: int | None, target: str, *args: str) -> Result:
    env = {"COLUMNS": str(width) if width else None, "LINES": None}
    return await asyncio.to_thread(runner.invoke, app, ["--target", target, *args], env=env)


@dataclass
class Story:
    customer_id: str
    amounts: list[str]
    ids: list[str]


@pytest.fixture
async def story(customer_id: str, aclient: AsyncWalletClient) -> Story:
    """A customer with large balances in two currencies, long reasons, a metadata key, holds and a capture."""
    ids: list[str] = []
    credit = await aclient.credit(customer_id, 123_456_789_012, "USD", reason="Opening balance " * 6)
    ids.append(credit.entry.id)
    await aclient.credit(customer_id, 98_765_432_100, "INR", reason="Rupee top-up")
    for n, model in enumerate(("gpt-large-2026-preview", "small")):
        debit = await aclient.debit(
            customer_id, 1_234_567 + n, "USD", reason="API usage for the month " * 3, metadata={"model": model}
        )
        ids.append(debit.entry.id)
    held = await aclient.hold(customer_id, 50_000_000, "USD", reason="Reserved for a long job " * 3)
    ids.append(held.hold.id)
    captured = await aclient.hold(customer_id, 7_654_321, "USD", reason="partly spent")
    capture = await aclient.capture(customer_id, captured.hold.id, 1_000_000)
    ids += [captured.hold.id, capture.entry.id]
    amounts = ["$1,234,567,890.12", "₹987,654,321.00", "$500,000.00", "$76,543.21", "$10,000.00", "$12,345.67"]
    return Story(customer_id, amounts, ids)


def assert_whole(output: str, width: int, wanted: list[str]) -> None:
    """Each wanted text appears on one line, and no line is wider than the terminal."""
    lines = output.splitlines()
    for text in wanted:
        assert any(text in line for line in lines), f"{text!r} is not whole on one line of:\n{output}"
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, "\n".join(too_wide)
    assert "…" not in output


@pytest.mark.parametrize("width", WIDTHS)
async def test_balances_show_every_amount_whole(target: str, story: Story, width: int | None) -> None:
    result = await wallet_at(width, target, "balances", story.customer_id)
    assert result.exit_code == 0, result.output
    # Balance, held and available of both wallets.
    wanted = ["$1,234,533,198.77", "$500,000.00", "$1,234,033,198.77", "₹987,654,321.00", story.customer_id]
    assert_whole(result.stdout, width or 80, wanted)
    if width == 120:
        assert "123453319877/50000000/123403319877" in result.stdout


@pytest.mark.parametrize("width", WIDTHS)
async def test_history_shows_every_amount_and_entry_id_whole(target: str, story: Story, width: int | None) -> None:
    result = await wallet_at(width, target, "history", story.customer_id)
    assert result.exit_code == 0, result.output
    entry_ids = [i for i in story.ids if i.startswith("le_")]
    assert_whole(result.stdout, width or 80, [*entry_ids, "+$1,234,567,890.12", "-$12,345.67", "-$12,345.68"])
    assert "+₹987,654,321.00" in result.stdout


@pytest.mark.parametrize("width", WIDTHS)
async def test_holds_show_every_amount_and_hold_id_whole(target: str, story: Story, width: int | None) -> None:
    result = await wallet_at(width, target, "holds", story.customer_id)
    assert result.exit_code == 0, result.output
    hold_ids = [i for i in story.ids if i.startswith("hd_")]
    assert_whole(result.stdout, width or 80, [*hold_ids, "$500,000.00", "$76,543.21", "$10,000.00"])


@pytest.mark.parametrize("width", WIDTHS)
async def test_report_keeps_every_amount_and_moves_the_breakdown_to_its_own_table(
    target: str, story: Story, width: int | None
) -> None:
    since = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    args = ("report", story.customer_id, "--currency", "USD", "--since", since, "--by-metadata", "model")
    result = await wallet_at(width, target, *args)
    assert result.exit_code == 0, result.output
    wanted = [
        "$1,234,567,890.12",
        "$1,234,533,198.77",
        "gpt-large-2026-preview",
        "$12,345.67",
        "$12,345.68",
        "$34,691.35",
    ]
    assert_whole(result.stdout, width or 80, wanted)
    assert "Debits by model" in result.stdout


async def test_report_svg_has_a_width_of_its_own_whatever_the_terminal(
    target: str, story: Story, tmp_path: Path
) -> None:
    sizes = []
    for width in (60, 200):
        picture = tmp_path / f"report-{width}.svg"
        args = ("report", story.customer_id, "--currency", "USD", "--svg", str(picture))
        assert (await wallet_at(width, target, *args)).exit_code == 0
        root = ElementTree.parse(picture).getroot()
        sizes.append(root.attrib["viewBox"])
    assert sizes[0] == sizes[1]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
async def test_holds_as_json_and_jsonl_keep_minor_units(target: str, story: Story, fmt: str) -> None:
    result = await wallet_at(80, target, "holds", story.customer_id, "--format", fmt)
    assert result.exit_code == 0, result.output
    holds = json.loads(result.stdout) if fmt == "json" else [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((h["amount"], h["status"], h["captured_amount"]) for h in holds) == [
        (7_654_321, "captured", 1_000_000),
        (50_000_000, "active", 0),
    ]


async def test_history_as_one_json_array(target: str, story: Story) -> None:
    result = await wallet_at(80, target, "history", story.customer_id, "--format", "json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert [e["id"] for e in entries if e["id"] in story.ids] == [i for i in story.ids if i.startswith("le_")]
    assert entries[0]["amount"] == 123_456_789_012


@pytest.mark.parametrize("width", [80, 120])
async def test_watch_keeps_every_amount_id_and_cursor_whole(
    target: str, story: Story, width: int, aclient: AsyncWalletClient
) -> None:
    process = await asyncio.create_subprocess_exec(
        *WALLET_COMMAND,
        "--target",
        target,
        "watch",
        story.customer_id,
        "--from-oldest",
        env={**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": str(width)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    cursors, captured, capture_entry = [], False, False
    async for event in aclient.watch_events(story.customer_id, from_oldest=True):
        cursors.append(event.cursor)
        captured = captured or event.event_type is EventType.HOLD_CAPTURED
        capture_entry = capture_entry or (event.entry is not None and event.entry.id == story.ids[-1])
        if captured and capture_entry:  # the story's last write
            break
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not all(any(c in line for line in lines) for c in cursors):
            read = await asyncio.wait_for(process.stdout.readline(), PATIENCE_S)
            assert read, "the watch ended"
            lines.append(read.decode().rstrip("\n"))
    finally:
        process.kill()
        await process.wait()
    assert_whole("\n".join(lines), width, [story.customer_id, "+$1,234,567,890.12", "$500,000.00", *cursors])
