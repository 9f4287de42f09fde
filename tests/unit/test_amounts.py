"""The one reading of an amount a person types: exact, or refused with the reason and an accepted form.

Hypothesis checks the parser against an independent definition of the
accepted strings (below, written with splits instead of a regular
expression): every accepted string reads to its value and formats back to
text that reads to the same value; every string near one, but not one, is
refused.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wallet_client.money import (
    MINOR_UNITS_MAX,
    TEXT_LENGTH_MAX,
    AmountError,
    check_form,
    format_amount,
    format_money,
    parse_amount,
)

ASCII_DIGITS = "0123456789"

# The issue's table: typed as a new user would, each once read as a wrong amount.
REFUSED = [
    "1,50",
    "1,5",
    "10,00",
    "1.000,00",
    "1,2345",
    "1.500.000",
    "1e3",
    "0x10",
    "١٥٠٠",  # Arabic-Indic digits
    "１５００",  # full-width digits
    "",
    "-5",
    "1_000",
    "1 500",
    " 15",
    "15 ",
    "+5",
    ".5",
    "5.",
    "0,500",
    "1.001",
    "1,500.001",
    "١٫٥",
    "−5",
    "1" * (TEXT_LENGTH_MAX + 1),
]

ACCEPTED = {
    "1500": 150_000,
    "1500.5": 150_050,
    "1500.50": 150_050,
    "1,500.00": 150_000,
    "12,345,678": 1_234_567_800,
    "0.01": 1,
    "007": 700,
    "999,999.99": 99_999_999,
}


def oracle(text: str, exponent: int, zero_allowed: bool = False) -> int | None:
    """The accepted strings defined without the parser's regular expression: their minor units, or None."""
    if len(text) > TEXT_LENGTH_MAX:
        return None
    whole, point, decimals = text.partition(".")
    if point and (not decimals or any(c not in ASCII_DIGITS for c in decimals) or len(decimals) > exponent):
        return None
    groups = whole.split(",")
    if any(not group or any(c not in ASCII_DIGITS for c in group) for group in groups):
        return None
    if len(groups) > 1 and (
        len(groups[0]) > 3 or groups[0].startswith("0") or any(len(group) != 3 for group in groups[1:])
    ):
        return None
    value = Decimal(f"{''.join(groups)}.{decimals or '0'}").scaleb(exponent)
    if (value == 0 and not zero_allowed) or value > MINOR_UNITS_MAX:
        return None
    return int(value)


def reads(text: str, exponent: int, zero_allowed: bool = False) -> int | None:
    try:
        return parse_amount(text, exponent, zero_allowed=zero_allowed)
    except AmountError:
        return None


@pytest.mark.parametrize("text", REFUSED)
def test_the_issues_near_misses_are_refused_repeating_the_text_and_showing_an_accepted_form(text: str) -> None:
    with pytest.raises(AmountError) as refused:
        parse_amount(text, 2, "USD")
    message = str(refused.value)
    assert message.startswith(f"{text!r} is not an amount: ")
    assert "; write it like " in message
    shown = message.rsplit("; write it like ", 1)[1].split(" or ")[0]
    assert parse_amount(shown, 2) > 0, "the accepted form shown must itself be accepted"


@pytest.mark.parametrize(("text", "minor_units"), ACCEPTED.items())
def test_the_accepted_forms_read_to_their_minor_units(text: str, minor_units: int) -> None:
    assert parse_amount(text, 2, "USD") == minor_units


def test_a_negative_amount_says_amounts_are_positive_with_the_commands_hint_and_the_amount_unsigned() -> None:
    with pytest.raises(AmountError) as refused:
        parse_amount("-5", 2, "USD", negative_hint="use debit")
    assert str(refused.value) == "'-5' is not an amount: amounts are positive (use debit); write it like 5"


def test_zero_is_refused_unless_it_means_something() -> None:
    with pytest.raises(AmountError, match="more than zero"):
        parse_amount("0.00", 2, "USD")
    assert parse_amount("0", 2, zero_allowed=True) == 0
    assert parse_amount("0.00", 2, zero_allowed=True) == 0


def test_decimals_beyond_the_currency_are_refused_not_rounded_and_a_currency_without_decimals_takes_none() -> None:
    with pytest.raises(AmountError, match=r"more than 2 decimal places \(USD has 2\)"):
        parse_amount("1.005", 2, "USD")
    with pytest.raises(AmountError, match=r"more than 0 decimal places \(JPY has 0\)"):
        parse_amount("1500.0", 0, "JPY")
    assert parse_amount("1.500", 3, "KWD") == 1_500  # three decimals in a three-decimal currency
    with pytest.raises(AmountError, match=r"write it like 1500 or 1,500$"):
        parse_amount("1.5", 0, "JPY")


def test_the_form_check_made_before_the_currency_is_known_refuses_only_what_no_currency_reads() -> None:
    check_form("1,500.12345")
    check_form("0")
    for text in ("1,50", "1e3", ""):
        with pytest.raises(AmountError, match=r"write it like 1500\.00 or 1,500\.00"):
            check_form(text)


def test_amounts_beyond_int64_are_refused() -> None:
    assert parse_amount(str(MINOR_UNITS_MAX), 0) == MINOR_UNITS_MAX
    with pytest.raises(AmountError, match="minor units"):
        parse_amount(str(MINOR_UNITS_MAX + 1), 0)


@st.composite
def accepted(draw: st.DrawFn) -> tuple[str, int]:
    """An accepted string of the grammar, and the exponent it was written for."""
    exponent = draw(st.integers(0, 4))
    whole = draw(st.integers(0, 10**14))
    text = f"{whole:,}" if draw(st.booleans()) and whole else str(whole)
    if exponent and draw(st.booleans()):
        text += "." + draw(st.text(ASCII_DIGITS, min_size=1, max_size=exponent))
    return text, exponent


@settings(max_examples=400, deadline=None)
@given(accepted())
@example(("1,500.00", 2))
@example(("12,345,678", 0))
def test_every_accepted_string_reads_to_its_value_and_formats_back_to_the_same_minor_units(
    case: tuple[str, int],
) -> None:
    text, exponent = case
    minor_units = parse_amount(text, exponent, zero_allowed=True)
    assert minor_units == Decimal(text.replace(",", "")).scaleb(exponent)
    assert minor_units == oracle(text, exponent, zero_allowed=True)
    for grouped in (True, False):
        assert parse_amount(format_amount(minor_units, exponent, grouped=grouped), exponent, zero_allowed=True) == (
            minor_units
        )


@settings(max_examples=300, deadline=None)
@given(st.integers(1, MINOR_UNITS_MAX), st.integers(0, 4))
def test_format_then_parse_is_the_identity_on_minor_units(minor_units: int, exponent: int) -> None:
    assert parse_amount(format_amount(minor_units, exponent), exponent) == minor_units
    shown = format_money(minor_units, "USD", exponent)
    assert parse_amount(shown.removeprefix("$"), exponent) == minor_units


# Pieces of near-misses: digits (ASCII and not), separators, signs, spaces, exponents, hexadecimal.
_PIECES = ["0", "1", "5", "9", "00", "000", "12", "345", ",", ".", "-", "+", " ", "_", "e", "x", "١", "５", "٫", "\t"]


@st.composite
def near_misses(draw: st.DrawFn) -> tuple[str, int]:
    """A string close to an amount: a valid one mutated, or a sequence of amount-like pieces."""
    exponent = draw(st.integers(0, 4))
    if draw(st.booleans()):
        return "".join(draw(st.lists(st.sampled_from(_PIECES), max_size=8))), exponent
    text, _ = draw(accepted())
    position = draw(st.integers(0, len(text)))
    piece = draw(st.sampled_from(_PIECES))
    mutation = draw(st.sampled_from(["insert", "replace", "swap", "delete"]))
    if mutation == "insert":
        text = text[:position] + piece + text[position:]
    elif mutation == "replace":
        text = text[:position] + piece + text[position + 1 :]
    elif mutation == "swap":
        text = text.translate(str.maketrans(",.", ".,"))
    else:
        text = text[:position] + text[position + 1 :]
    return text, exponent


@settings(max_examples=1500, deadline=None)
@given(near_misses())
@example(("1,50", 2))
@example(("1.000,00", 2))
@example(("10,00", 2))
@example(("1,2345", 4))
def test_a_string_is_read_exactly_when_the_grammar_accepts_it_and_refused_otherwise(case: tuple[str, int]) -> None:
    text, exponent = case
    expected = oracle(text, exponent)
    assert reads(text, exponent) == expected
    if expected is None:
        with pytest.raises(AmountError) as refused:
            parse_amount(text, exponent)
        assert str(refused.value).startswith(f"{text!r} is not an amount: ")
