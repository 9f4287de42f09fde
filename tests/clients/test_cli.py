"""The `wallet` command through Typer's test runner, against the real server.

Commands run in a worker thread: the server they talk to runs on this test's event loop.
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import grpc
from typer.testing import CliRunner, Result

from tests.clients.conftest import LONG_HISTORY_ENTRIES
from tests.clients.faults import TcpCutter
from wallet.v1 import wallet_pb2, wallet_pb2_grpc
from wallet_client import AsyncWalletClient
from wallet_client.cli import app

runner = CliRunner()


async def wallet(target: str, *args: str) -> Result:
    # A wide terminal, so that tables never wrap a cell.
    return await asyncio.to_thread(runner.invoke, app, ["--target", target, *args], env={"COLUMNS": "200"})


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def assert_explained(result: Result, exit_code: int, message: str) -> None:
    """The command failed with `exit_code`, saying only `message` on stderr."""
    assert (result.exit_code, result.stderr.strip()) == (exit_code, message), result.output
    assert_no_traceback(result)


async def test_credit_reads_the_amount_as_money_in_the_currency_exponent(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    result = await wallet(target, "credit", customer_id, "100.00", "USD", "--reason", "Welcome bonus")
    assert result.exit_code == 0, result.output
    assert "Credited $100.00 (10000 minor units)" in result.stdout
    assert "New USD balance: $100.00 (10000 minor units)" in result.stdout
    (entry,) = [e async for e in aclient.iter_entries(customer_id)]
    assert (entry.amount, entry.reason) == (10_000, "Welcome bonus")


async def test_credit_with_minor_units_and_metadata(target: str, customer_id: str, aclient: AsyncWalletClient) -> None:
    result = await wallet(
        target, "credit", customer_id, "250", "usd", "--minor-units", "--meta", "order=o_1", "-m", "src=cli"
    )
    assert result.exit_code == 0, result.output
    (entry,) = [e async for e in aclient.iter_entries(customer_id)]
    assert (entry.amount, entry.currency, dict(entry.metadata)) == (
        250,
        "USD",
        {"order": "o_1", "src": "cli"},
    )


async def test_balances_shows_money_next_to_minor_units(target: str, customer_id: str) -> None:
    assert (await wallet(target, "credit", customer_id, "15000", "INR")).exit_code == 0
    assert (await wallet(target, "credit", customer_id, "12.34", "USD")).exit_code == 0
    result = await wallet(target, "balances", customer_id)
    assert result.exit_code == 0, result.output
    assert "₹15,000.00" in result.stdout and "1500000" in result.stdout
    assert "$12.34" in result.stdout and "1234" in result.stdout

    as_json = json.loads((await wallet(target, "balances", customer_id, "--format", "json")).stdout)
    assert {w["currency"]: (w["balance"], w["display"]) for w in as_json["wallets"]} == {
        "INR": (1_500_000, "₹15,000.00"),
        "USD": (1_234, "$12.34"),
    }


async def test_a_debit_beyond_the_balance_says_so_in_money_and_exits_3(target: str, customer_id: str) -> None:
    await wallet(target, "credit", customer_id, "12.00", "USD")
    result = await wallet(target, "debit", customer_id, "50.00", "USD", "--reason", "API usage")
    assert_explained(result, 3, "Insufficient balance: has $12.00, needs $50.00")


async def test_repeating_a_command_with_its_key_applies_it_once(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    args = ("credit", customer_id, "5.00", "USD", "--idempotency-key", "pay_123")
    assert (await wallet(target, *args)).exit_code == 0
    again = await wallet(target, *args)
    assert again.exit_code == 0
    assert "Already applied" in again.stdout and "nothing new was written" in again.stdout
    assert (await aclient.get_balances(customer_id))["USD"].balance == 500

    other = await wallet(target, "credit", customer_id, "6.00", "USD", "--idempotency-key", "pay_123")
    assert other.exit_code == 4
    assert "'pay_123' was already used for a different request" in other.stderr
    assert_no_traceback(other)


async def test_bad_input_exits_2_with_a_reason(target: str, customer_id: str) -> None:
    too_precise = await wallet(target, "credit", customer_id, "1.001", "USD")
    assert too_precise.exit_code == 2
    assert "more than 2 decimal places" in too_precise.output
    not_supported = await wallet(target, "credit", customer_id, "1", "EUR")
    assert not_supported.exit_code == 2
    assert "EUR is not a currency of the service (it has INR, USD)" in not_supported.output
    not_a_number = await wallet(target, "debit", customer_id, "ten", "USD")
    assert not_a_number.exit_code == 2
    bad_customer = await wallet(target, "balances", "has space")
    assert bad_customer.exit_code == 2
    assert "Invalid request: customer_id must not contain whitespace" in bad_customer.stderr
    for result in (too_precise, not_supported, not_a_number, bad_customer):
        assert_no_traceback(result)


async def test_an_unreachable_service_exits_5_and_says_how_to_retry_safely(customer_id: str) -> None:
    result = await wallet("127.0.0.1:9", "--timeout", "1", "balances", customer_id)
    assert result.exit_code == 5
    assert result.stderr.startswith("Wallet service unavailable at 127.0.0.1:9")
    assert_no_traceback(result)


async def test_the_target_comes_from_wallet_addr(target: str, customer_id: str) -> None:
    result = await asyncio.to_thread(runner.invoke, app, ["balances", customer_id], env={"WALLET_ADDR": target})
    assert result.exit_code == 0, result.output
    assert customer_id in result.stdout


async def test_history_as_a_table_jsonl_and_csv_with_filters(target: str, customer_id: str) -> None:
    await wallet(target, "credit", customer_id, "100.00", "USD", "--reason", "Welcome, friend")
    await wallet(target, "debit", customer_id, "2.50", "USD", "--reason", "API usage")
    await wallet(target, "credit", customer_id, "500", "INR")

    table = await wallet(target, "history", customer_id)
    assert table.exit_code == 0, table.output
    assert "+$100.00" in table.stdout and "-$2.50" in table.stdout and "+₹500.00" in table.stdout

    jsonl = await wallet(target, "history", customer_id, "--format", "jsonl", "--currency", "usd")
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [(r["entry_type"], r["amount"], r["after_balance"]) for r in records] == [
        ("credit", 10_000, 10_000),
        ("debit", 250, 9_750),
    ]
    assert records[0]["reason"] == "Welcome, friend"
    assert records[0]["created_at"].endswith("Z")

    debits = await wallet(target, "history", customer_id, "--format", "jsonl", "--type", "debit")
    assert [json.loads(line)["amount"] for line in debits.stdout.splitlines()] == [250]
    newest = await wallet(target, "history", customer_id, "-f", "jsonl", "--newest-first", "--limit", "1")
    assert [json.loads(line)["currency"] for line in newest.stdout.splitlines()] == ["INR"]
    future = await wallet(target, "history", customer_id, "-f", "jsonl", "--since", "2999-01-01")
    assert future.exit_code == 0 and future.stdout == ""

    as_csv = await wallet(target, "history", customer_id, "--format", "csv")
    rows = list(csv.DictReader(as_csv.stdout.splitlines()))
    assert [(r["entry_type"], r["amount"], r["reason"]) for r in rows] == [
        ("credit", "10000", "Welcome, friend"),
        ("debit", "250", "API usage"),
        ("credit", "50000", ""),
    ]


async def _first_message_bytes(address: str, customer_id: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        call = wallet_pb2_grpc.WalletServiceStub(channel).ListLedgerEntries(
            wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)
        )
        sizes: list[int] = [m.ByteSize() async for m in call]
    return sizes[0]


async def test_an_export_cut_midway_resumes_to_the_same_bytes_as_an_uninterrupted_one(
    target: str, long_history: str, tcp_cutter: TcpCutter, tmp_path: Path
) -> None:
    for suffix in ("jsonl", "csv"):
        whole, cut = tmp_path / f"whole.{suffix}", tmp_path / f"cut.{suffix}"
        uninterrupted = await wallet(target, "history", long_history, "--output", str(whole))
        assert uninterrupted.exit_code == 0, uninterrupted.output
        assert f"Wrote {LONG_HISTORY_ENTRIES:,} entries" in uninterrupted.stderr
        # Not a terminal: no progress bar, only the summary line.
        assert uninterrupted.stderr.count("\n") == 1

        # The connection drops in the middle of the second message and the service stays down.
        tcp_cutter.refuse(False)
        tcp_cutter.cut_after(await _first_message_bytes(tcp_cutter.address, long_history) + 50_000, then_refuse=True)
        interrupted = await wallet(tcp_cutter.address, "history", long_history, "--output", str(cut))
        assert interrupted.exit_code == 5, interrupted.output
        assert "run the same command with --resume" in interrupted.stderr
        assert_no_traceback(interrupted)
        partial = cut.read_bytes()
        assert 0 < len(partial) < len(whole.read_bytes())
        assert whole.read_bytes().startswith(partial)

        resumed = await wallet(target, "history", long_history, "--output", str(cut), "--resume")
        assert resumed.exit_code == 0, resumed.output
        assert "resumed after" in resumed.stderr
        assert cut.read_bytes() == whole.read_bytes()


async def test_resume_drops_a_line_torn_by_a_crash(target: str, long_history: str, tmp_path: Path) -> None:
    for suffix in ("jsonl", "csv"):
        whole, torn = tmp_path / f"whole.{suffix}", tmp_path / f"torn.{suffix}"
        assert (await wallet(target, "history", long_history, "-o", str(whole))).exit_code == 0
        content = whole.read_bytes()
        # Cut inside a reason with a newline: escaped in JSONL, a quoted line break in CSV.
        marker = b"two\\nlines" if suffix == "jsonl" else b"two\nlines"
        middle = content.index(marker, len(content) // 2) + 4
        torn.write_bytes(content[:middle])
        resumed = await wallet(target, "history", long_history, "-o", str(torn), "--resume")
        assert resumed.exit_code == 0, resumed.output
        assert torn.read_bytes() == content


async def test_export_refuses_to_overwrite_and_resumes_nothing_when_complete(
    target: str, customer_id: str, tmp_path: Path
) -> None:
    await wallet(target, "credit", customer_id, "1", "USD")
    out = tmp_path / "h.jsonl"
    assert (await wallet(target, "history", customer_id, "-o", str(out))).exit_code == 0
    again = await wallet(target, "history", customer_id, "-o", str(out))
    assert again.exit_code == 2 and "--resume" in again.output
    complete = await wallet(target, "history", customer_id, "-o", str(out), "--resume")
    assert complete.exit_code == 0 and "Wrote 0 entries" in complete.stderr
    assert len(out.read_text().splitlines()) == 1
    not_ours = tmp_path / "other.csv"
    not_ours.write_text("a,b\n1,2\n")
    refused = await wallet(target, "history", customer_id, "-o", str(not_ours), "--resume")
    assert refused.exit_code == 2 and "header" in refused.output


async def test_an_export_to_a_terminal_shows_count_and_rate(target: str, long_history: str, tmp_path: Path) -> None:
    out = tmp_path / "h.csv"
    # rich treats stderr as a terminal with TTY_COMPATIBLE=1.
    result = await asyncio.to_thread(
        runner.invoke,
        app,
        ["--target", target, "history", long_history, "--output", str(out)],
        env={"TTY_COMPATIBLE": "1", "COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    assert "Exporting" in result.stderr
    assert f"{LONG_HISTORY_ENTRIES:,} entries" in result.stderr
    assert "entries/s" in result.stderr
    assert len(list(csv.DictReader(out.open(encoding="utf-8", newline="")))) == LONG_HISTORY_ENTRIES
