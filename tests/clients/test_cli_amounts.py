"""The `wallet` command never guesses an amount: the issue's table, end to end against the real server.

Each refused amount exits 2, repeats what was typed, shows a form that would
be accepted, and writes nothing.
"""

from __future__ import annotations

import re

import pytest
from typer.testing import Result

from tests.clients.test_cli import assert_no_traceback, wallet
from wallet_client import AsyncWalletClient

# Typed as a new user would; each was once posted as a wrong amount, or is as easy to get wrong.
REFUSED = [
    ("1,50", "USD", "commas separate thousands in groups of exactly three digits"),
    ("1,5", "USD", "commas separate thousands in groups of exactly three digits"),
    ("10,00", "INR", "commas separate thousands in groups of exactly three digits"),
    ("1.000,00", "USD", "commas group thousands before the point"),
    ("1,2345", "USD", "commas separate thousands in groups of exactly three digits"),
    ("1.500.000", "USD", "a point may appear once"),
    ("1e3", "USD", "no exponents, no hexadecimal"),
    ("0x10", "USD", "no exponents, no hexadecimal"),
    ("١٥٠٠", "USD", "only the ASCII digits 0-9 are read"),
    ("１５００", "INR", "only the ASCII digits 0-9 are read"),
    ("", "USD", "it is empty"),
    ("1_000", "USD", "not underscores"),
    ("1 000", "USD", "it has spaces in it"),
    ("1.001", "USD", "it has more than 2 decimal places (USD has 2)"),
]


def error_text(result: Result) -> str:
    """The error Typer printed, without its box and line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.stderr).split())


def assert_refused(result: Result, typed: str, why: str, accepted: str = "1500.00 or 1,500.00") -> None:
    assert result.exit_code == 2, result.output
    text = error_text(result)
    assert f"Invalid value for AMOUNT: {typed!r} is not an amount: " in text, text
    assert why in text, text
    assert f"write it like {accepted}" in text, text
    assert "No such option" not in text
    assert_no_traceback(result)


async def assert_nothing_written(aclient: AsyncWalletClient, customer_id: str) -> None:
    assert [e async for e in aclient.iter_entries(customer_id)] == []
    assert [h async for h in aclient.list_holds(customer_id)] == []


@pytest.mark.parametrize(("typed", "currency", "why"), REFUSED)
async def test_credit_refuses_an_amount_it_would_have_to_guess_and_writes_nothing(
    target: str, customer_id: str, aclient: AsyncWalletClient, typed: str, currency: str, why: str
) -> None:
    result = await wallet(target, "credit", customer_id, typed, currency)
    assert_refused(result, typed, why)
    await assert_nothing_written(aclient, customer_id)


async def test_every_command_that_reads_an_amount_reads_it_the_same_way(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    for args in (
        ("debit", customer_id, "1,50", "USD"),
        ("hold", customer_id, "1,50", "USD"),
        ("threshold", customer_id, "USD", "1,50"),
        ("credit", customer_id, "1,50", "USD", "--minor-units"),
    ):
        assert_refused(await wallet(target, *args), "1,50", "commas separate thousands")
    await assert_nothing_written(aclient, customer_id)


async def test_a_negative_amount_says_amounts_are_positive_not_no_such_option(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    credit = await wallet(target, "credit", customer_id, "-5", "USD")
    assert_refused(credit, "-5", "amounts are positive (`wallet debit` takes money away)", accepted="5")
    debit = await wallet(target, "debit", customer_id, "-5.00", "USD", "--reason", "usage")
    assert_refused(debit, "-5.00", "amounts are positive (a debit takes the amount away)", accepted="5.00")
    hold = await wallet(target, "hold", customer_id, "-1,50", "USD")
    assert_refused(hold, "-1,50", "amounts are positive (a hold reserves the amount written)")
    threshold = await wallet(target, "threshold", customer_id, "USD", "-5")
    assert_refused(threshold, "-5", "amounts are positive (the wallet is low below this amount", accepted="5")
    await assert_nothing_written(aclient, customer_id)
    # Any other unknown option is still one.
    mistyped = await wallet(target, "credit", customer_id, "5", "USD", "--reasn", "x")
    assert mistyped.exit_code == 2 and "No such option: --reasn" in error_text(mistyped)


async def test_zero_is_refused_where_an_amount_is_required(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    for command in ("credit", "debit", "hold"):
        for zero in ("0", "0.00", "0,000"):
            result = await wallet(target, command, customer_id, zero, "USD")
            assert result.exit_code == 2, result.output
            assert f"{zero!r} is not an amount" in error_text(result)
    await assert_nothing_written(aclient, customer_id)


async def test_zero_keeps_its_meaning_where_it_has_one(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    assert (await wallet(target, "credit", customer_id, "1,000.00", "USD")).exit_code == 0
    set_it = await wallet(target, "threshold", customer_id, "USD", "5.00")
    assert set_it.exit_code == 0, set_it.output
    off = await wallet(target, "threshold", customer_id, "USD", "0")
    assert off.exit_code == 0, off.output
    assert "Low-balance alerts are off" in off.stdout

    hold = (await aclient.hold(customer_id, 1_234, "USD")).hold
    bad = await wallet(target, "capture", customer_id, hold.id, "1,50")
    assert_refused(bad, "1,50", "commas separate thousands")
    negative = await wallet(target, "capture", customer_id, hold.id, "-1")
    assert_refused(negative, "-1", "amounts are positive (a capture spends the amount written of the hold)", "1")
    whole = await wallet(target, "capture", customer_id, hold.id, "0")
    assert whole.exit_code == 0, whole.output
    assert "Captured $12.34 (1234 minor units)" in whole.stdout


async def test_the_accepted_forms_write_exactly_what_was_typed(
    target: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    for typed in ("1500", "1500.5", "1500.50", "1,500.00", "12,345,678"):
        result = await wallet(target, "credit", customer_id, typed, "USD")
        assert result.exit_code == 0, result.output
    amounts = [e.amount async for e in aclient.iter_entries(customer_id)]
    assert amounts == [150_000, 150_050, 150_050, 150_000, 1_234_567_800]
