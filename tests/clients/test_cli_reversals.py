"""`wallet reverse` and how `wallet history` shows reversals, through Typer's test runner against the real server."""

from __future__ import annotations

import re

from tests.clients.test_cli import assert_explained, wallet
from tests.clients.test_cli_amounts import error_text
from wallet_client import AsyncWalletClient

ENTRY_ID = re.compile(r"Entry (le_\w+), idempotency key (\S+)")


async def test_reverse_refunds_part_then_the_rest_and_says_how_much_is_reversed(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD")
    charge = (await aclient.debit(customer_id, 2_500, "USD", reason="API usage")).entry
    part = await wallet(target, "reverse", customer_id, charge.id, "10.00", "-r", "Call failed", "-k", "ref-1")
    assert part.exit_code == 0, part.output
    assert f"Refunded $10.00 (1000 minor units) of debit {charge.id}." in part.stdout
    assert "Reversed so far: $10.00 of $25.00." in part.stdout
    assert "USD balance: $85.00" in part.stdout
    again = await wallet(target, "reverse", customer_id, charge.id, "10.00", "-r", "Call failed", "-k", "ref-1")
    assert again.exit_code == 0 and "Already reversed: idempotency key ref-1" in again.stdout
    rest = await wallet(target, "reverse", customer_id, charge.id)
    assert rest.exit_code == 0, rest.output
    assert "Refunded $15.00 (1500 minor units)" in rest.stdout and "Reversed so far: $25.00 of $25.00." in rest.stdout
    refund_id = ENTRY_ID.search(rest.stdout).group(1)  # type: ignore[union-attr]

    history = await wallet(target, "--target", target, "history", customer_id, "--format", "jsonl")
    assert history.exit_code == 0, history.output
    assert f'"reverses_entry_id":"{charge.id}"' in history.stdout
    assert '"reversed_amount":2500' in history.stdout
    table = await wallet(target, "history", customer_id)
    assert table.exit_code == 0, table.output
    # Every id whole on its line: the debit's, then each refund's with the debit it reverses under it (and once
    # more in the default reason of the second refund, "Reversal of <id>").
    lines = [line.strip(" │") for line in table.stdout.splitlines()]
    assert sum(charge.id in line for line in lines) == 4 and any(refund_id in line for line in lines), table.stdout
    assert "reversed $25.00" in table.stdout and table.stdout.count("reverses") == 2

    nothing = await wallet(target, "reverse", customer_id, charge.id, "0.01")
    assert_explained(nothing, 3, f"Nothing of entry {charge.id} is left to reverse")


async def test_reverse_of_an_unknown_entry_exits_6_and_sends_nothing(target: str, customer_id: str) -> None:
    result = await wallet(target, "reverse", customer_id, "le_nope")
    assert_explained(result, 6, "No entry le_nope: the customer has no entry with this id")


async def test_reverse_reads_a_reclaims_amount_in_the_credits_currency_and_refuses_more_than_is_left(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    credit = (await aclient.credit(customer_id, 5_000, "INR", reason="Goodwill")).entry
    await aclient.debit(customer_id, 1_000, "INR")
    over = await wallet(target, "reverse", customer_id, credit.id, "40.01")
    assert_explained(over, 3, f"Reversal of ₹40.01 exceeds what entry {credit.id} has left to reverse: ₹40.00")
    done = await wallet(target, "reverse", customer_id, credit.id, "40.00", "-r", "Given by mistake")
    assert done.exit_code == 0, done.output
    assert f"Reclaimed ₹40.00 (4000 minor units) of credit {credit.id}." in done.stdout


async def test_reverse_reads_its_amount_as_strictly_as_every_other_command_and_zero_means_all(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD")
    charge = (await aclient.debit(customer_id, 1_234, "USD")).entry
    for typed, why in (("1,50", "commas separate thousands"), ("-1", "amounts are positive")):
        result = await wallet(target, "reverse", customer_id, charge.id, typed)
        assert result.exit_code == 2, result.output
        assert repr(typed) in error_text(result) and why in error_text(result)
    assert (await aclient.get_balances(customer_id))["USD"].balance == 8_766
    whole = await wallet(target, "reverse", customer_id, charge.id, "0")
    assert whole.exit_code == 0, whole.output
    assert "Refunded $12.34 (1234 minor units)" in whole.stdout
