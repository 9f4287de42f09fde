"""`wallet import` re-runs against the real server: derived keys never apply a line twice.

Each case of issue 18 end to end: the same file again, a refused line fixed
in place, other lines inserted or deleted, identical lines, the same line in
files of other names; then lines refused earlier and --retry-refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import Result

from tests.clients.test_cli import assert_no_traceback, wallet
from tests.clients.test_cli_import import entry, jsonl, usd
from wallet_client import AsyncWalletClient


async def run(target: str, path: Path, *more: str) -> Result:
    result = await wallet(target, "import", str(path), *more)
    assert_no_traceback(result)
    return result


def counts(result: Result, name: str) -> str:
    """`A applied, R replayed (applied before), F refused` of the summary."""
    line = next(text for text in result.stderr.splitlines() if text.startswith(f"{name}: "))
    return line.removeprefix(f"{name}: ").removesuffix(".")


async def test_fixing_a_refused_line_in_place_and_running_again_applies_that_line_alone(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    # The case: the customer's $7.00 became $14.00 when every line applied again.
    source = jsonl(tmp_path / "day.jsonl", entry(customer_id, 700), entry(customer_id, 900, "ENTRY_TYPE_DEBIT"))
    first = await run(target, source)
    assert first.exit_code == 3
    assert counts(first, "day.jsonl") == "1 applied, 0 replayed (applied before), 1 refused"
    assert f"Refused lines, with their reasons: {tmp_path / 'day.refused.jsonl'}" in first.stderr
    assert "Keys: lines without an idempotency_key got import-<hash of the namespace 'day.jsonl'" in first.stderr

    jsonl(source, entry(customer_id, 700), entry(customer_id, 300, "ENTRY_TYPE_DEBIT"))
    fixed = await run(target, source)
    assert fixed.exit_code == 0, fixed.output
    assert counts(fixed, "day.jsonl") == "1 applied, 1 replayed (applied before), 0 refused"
    assert await usd(aclient, customer_id) == 400
    assert "is from an earlier run" in fixed.stderr


async def test_running_a_file_again_unchanged_applies_nothing(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    source = jsonl(tmp_path / "day.jsonl", *(entry(customer_id, n) for n in (100, 200, 300)))
    assert (await run(target, source, "--batch-size", "2")).exit_code == 0
    again = await run(target, source)
    assert counts(again, "day.jsonl") == "0 applied, 3 replayed (applied before), 0 refused"
    assert await usd(aclient, customer_id) == 600


async def test_inserting_or_deleting_other_lines_applies_nothing_twice(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    a, b, c = entry(customer_id, 100), entry(customer_id, 200), entry(customer_id, 400)
    source = jsonl(tmp_path / "day.jsonl", a, b)
    await run(target, source)
    inserted = await run(target, jsonl(source, c, a, b))
    assert counts(inserted, "day.jsonl") == "1 applied, 2 replayed (applied before), 0 refused"
    deleted = await run(target, jsonl(source, c, b))
    assert counts(deleted, "day.jsonl") == "0 applied, 2 replayed (applied before), 0 refused"
    assert await usd(aclient, customer_id) == 700


async def test_two_identical_lines_are_two_entries_and_the_same_line_in_another_file_is_another(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    line = entry(customer_id, 100, reason="API credit")
    twice = await run(target, jsonl(tmp_path / "a.jsonl", line, line))
    assert counts(twice, "a.jsonl") == "2 applied, 0 replayed (applied before), 0 refused"
    assert (
        counts(await run(target, tmp_path / "a.jsonl"), "a.jsonl")
        == "0 applied, 2 replayed (applied before), 0 refused"
    )
    other = await run(target, jsonl(tmp_path / "b.jsonl", line))
    assert counts(other, "b.jsonl") == "1 applied, 0 replayed (applied before), 0 refused"
    (tmp_path / "dec").mkdir()
    same_name = jsonl(tmp_path / "dec" / "b.jsonl", line)
    assert counts(await run(target, same_name), "b.jsonl") == "0 applied, 1 replayed (applied before), 0 refused"
    namespaced = await run(target, same_name, "--key-namespace", "2026-12")
    assert counts(namespaced, "b.jsonl") == "1 applied, 0 replayed (applied before), 0 refused"
    assert "namespace '2026-12' (--key-namespace)" in namespaced.stderr
    assert await usd(aclient, customer_id) == 400


async def test_amounts_in_a_file_are_whole_minor_units_or_the_line_is_refused_unread(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    source = jsonl(
        tmp_path / "amounts.jsonl",
        *(entry(customer_id, 0) | {"amount": amount} for amount in ("1e3", 150.0, "1.50", "١٥٠", "-5", "1,500")),
    )
    result = await run(target, source)
    assert result.exit_code == 3
    assert counts(result, "amounts.jsonl") == "0 applied, 0 replayed (applied before), 6 refused"
    reasons = [json.loads(t)["refusal"] for t in (tmp_path / "amounts.refused.jsonl").read_text().splitlines()]
    assert all(": unreadable: amount " in reason for reason in reasons), reasons
    assert [e async for e in aclient.iter_entries(customer_id)] == []


async def test_a_line_refused_earlier_stays_refused_and_retry_refused_applies_it_once_after_a_top_up(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    source = jsonl(tmp_path / "usage.jsonl", entry(customer_id, 100), entry(customer_id, 500, "ENTRY_TYPE_DEBIT"))
    await run(target, source)
    await aclient.credit(customer_id, 1_000, "USD", reason="top-up")
    again = await run(target, source)
    assert again.exit_code == 3
    assert counts(again, "usage.jsonl") == "0 applied, 1 replayed (applied before), 1 refused"
    assert "1 of the refused lines were refused earlier with this key" in again.stderr
    (refusal,) = [json.loads(t)["refusal"] for t in (tmp_path / "usage.refused.jsonl").read_text().splitlines()]
    assert refusal.startswith("line 2: refused earlier with this key (import-")
    assert await usd(aclient, customer_id) == 1_100

    retried = await run(target, source, "--retry-refused")
    assert retried.exit_code == 0, retried.output
    assert counts(retried, "usage.jsonl") == "1 applied, 1 replayed (applied before), 0 refused"
    assert "1 line(s) refused earlier were sent again under retry keys" in retried.stderr
    twice = await run(target, source, "--retry-refused")
    assert counts(twice, "usage.jsonl") == "0 applied, 2 replayed (applied before), 0 refused"
    assert await usd(aclient, customer_id) == 600
    debit = [e async for e in aclient.iter_entries(customer_id)][-1]
    assert debit.amount == 500 and debit.idempotency_key.endswith("-r1")


async def test_an_atomic_batch_refused_earlier_is_retried_under_new_keys_with_retry_refused(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    source = jsonl(tmp_path / "atomic.jsonl", entry(customer_id, 100), entry(customer_id, 500, "ENTRY_TYPE_DEBIT"))
    assert (await run(target, source, "--atomic")).exit_code == 3
    await aclient.credit(customer_id, 1_000, "USD", reason="top-up")
    again = await run(target, source, "--atomic")
    assert "Stopped: line 2 was refused" in again.stderr and "refused earlier with this key" in again.stderr
    retried = await run(target, source, "--atomic", "--retry-refused")
    assert retried.exit_code == 0, retried.output
    assert await usd(aclient, customer_id) == 600
    assert (await run(target, source, "--atomic", "--retry-refused")).exit_code == 0
    assert await usd(aclient, customer_id) == 600


async def test_a_command_repeated_with_the_key_of_a_refusal_says_it_was_refused_earlier(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    args = ("debit", customer_id, "5.00", "USD", "--idempotency-key", "usage-1")
    assert (await wallet(target, *args)).exit_code == 3
    await aclient.credit(customer_id, 1_000, "USD", reason="top-up")
    again = await wallet(target, *args)
    assert again.exit_code == 3
    assert "refused earlier with this key (usage-1), and nothing was written" in again.stderr
    assert await usd(aclient, customer_id) == 1_000
