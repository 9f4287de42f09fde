"""Money for people: `10000` USD cents shown as `$100.00`, and `"100.00"` read back as 10000.

Only `int` and `Decimal` here, never float: 0.1 + 0.2 is not 0.3 in binary
floating point, and a wallet must not lose a cent to rounding.

Reading is strict, because an amount guessed is money lost: `1,50` could be
one and a half or a typo of 150, `1.000,00` a thousand or one. Accepted are
ASCII digits with an optional point followed by at most the currency's
decimals (`1500`, `1500.5`, `1500.50`), and the same with the whole part in
thousands groups of exactly three digits separated by commas (`1,500.00`,
`12,345,678`). Everything else is refused, with the reason and a form that
would be accepted; nothing is rounded, trimmed or re-read.
"""

from __future__ import annotations

import re
from decimal import Decimal

# Symbols of common currencies; any other code is written after the amount.
SYMBOLS = {"USD": "$", "INR": "₹", "EUR": "€", "GBP": "£", "JPY": "¥"}

# The most minor units an amount can name: protobuf's int64 (the service allows less, and says so).
MINOR_UNITS_MAX = 2**63 - 1
# Longer text is refused unread (no amount needs it; int() of thousands of digits is slow).
TEXT_LENGTH_MAX = 64
# The accepted form shown before the currency is known.
_GENERIC_EXAMPLE = "1500.00 or 1,500.00"

# [0-9], never \d: \d also matches Arabic-Indic, full-width and other digits.
# A grouped whole part starts with 1-9: `0,500` is a decimal comma, not five hundred.
_AMOUNT = re.compile(r"(?P<whole>0|[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<decimals>[0-9]+))?")


def to_decimal(minor_units: int, exponent: int) -> Decimal:
    """10000 with exponent 2 -> Decimal('100.00'), exact."""
    return Decimal(minor_units).scaleb(-exponent)


def format_amount(minor_units: int, exponent: int, *, grouped: bool = True) -> str:
    """150000 with exponent 2 -> `1,500.00` (or `1500.00`): a form `parse_amount` reads back to the same number."""
    return f"{to_decimal(minor_units, exponent):{',' if grouped else ''}.{exponent}f}"


def format_money(minor_units: int, currency: str, exponent: int) -> str:
    """`$100.00`, `₹15,000.00`, `-$5.00`, or `1,000 XYZ` for a currency without a known symbol."""
    sign = "-" if minor_units < 0 else ""
    digits = format_amount(abs(minor_units), exponent)
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


class AmountError(ValueError):
    """Text that is not an amount as this module reads it; the message repeats the text and shows an accepted form."""

    def __init__(self, text: str, why: str, example: str) -> None:
        super().__init__(f"{text!r} is not an amount: {why}; write it like {example}")
        self.text = text
        self.why = why
        self.example = example


def example_amount(exponent: int) -> str:
    """An accepted form for a currency with `exponent` decimals: `1500.00 or 1,500.00`."""
    minor = 1_500 * 10**exponent
    return f"{format_amount(minor, exponent, grouped=False)} or {format_amount(minor, exponent)}"


def parse_amount(
    text: str, exponent: int, currency: str = "", *, zero_allowed: bool = False, negative_hint: str = ""
) -> int:
    """`"100.00"` (or `"100"`, `"1,000.5"`) with exponent 2 -> 10000 minor units; AmountError for anything else.

    Zero is refused unless `zero_allowed` (a threshold switched off, a
    capture of the whole hold). `negative_hint` completes the refusal of a
    negative amount, e.g. "`wallet debit` takes money away".
    """
    example = example_amount(exponent)
    match = _matched(text, negative_hint, example)
    decimals = match["decimals"] or ""
    if len(decimals) > exponent:
        unit = f"{currency} has" if currency else "the currency has"
        places = f"{exponent} decimal place{'s' if exponent != 1 else ''}"
        raise AmountError(text, f"it has more than {places} ({unit} {exponent}), and amounts are not rounded", example)
    minor: int = int(match["whole"].replace(",", "")) * 10**exponent + int(decimals.ljust(exponent, "0") or "0")
    if minor == 0 and not zero_allowed:
        raise AmountError(text, "it must be more than zero", example)
    if minor > MINOR_UNITS_MAX:
        raise AmountError(text, f"it is more than {MINOR_UNITS_MAX:,} minor units", example)
    return minor


def check_form(text: str, *, negative_hint: str = "") -> None:
    """AmountError if `text` is not an amount in any currency (the decimals are checked once the currency is known)."""
    _matched(text, negative_hint, _GENERIC_EXAMPLE)


def _matched(text: str, negative_hint: str, example: str) -> re.Match[str]:
    match = _AMOUNT.fullmatch(text) if len(text) <= TEXT_LENGTH_MAX else None
    if match is None:
        why, example = _why_not(text, negative_hint, example)
        raise AmountError(text, why, example)
    return match


def _why_not(text: str, negative_hint: str, example: str) -> tuple[str, str]:
    """Why `text` does not match the grammar, in words, and the accepted form to show."""
    if not text:
        return "it is empty", example
    if len(text) > TEXT_LENGTH_MAX:
        return f"it is longer than {TEXT_LENGTH_MAX} characters", example
    if text[0] in "-−" and len(text) > 1:
        rest = text[1:]
        shown = rest if _AMOUNT.fullmatch(rest) else example
        return "amounts are positive" + (f" ({negative_hint})" if negative_hint else ""), shown
    if text[0] == "+":
        return "amounts are written without a sign", text[1:] if _AMOUNT.fullmatch(text[1:]) else example
    if any(ch.isdigit() and not "0" <= ch <= "9" for ch in text):
        return "only the ASCII digits 0-9 are read", example
    if any(ch.isspace() for ch in text):
        return "it has spaces in it", example
    if "_" in text:
        return "digits are grouped in threes with commas, not underscores", example
    if re.fullmatch(r"[0-9]*\.?[0-9]*[eE][-+]?[0-9]+", text) or text.lower().startswith("0x"):
        return "only plain decimal digits are read (no exponents, no hexadecimal)", example
    if text.count(".") > 1:
        return "a point may appear once, before the decimals (thousands are grouped with commas)", example
    whole, point, decimals = text.partition(".")
    if "," in decimals:
        return "commas group thousands before the point; the decimals follow the point", example
    if point and not whole:
        return "the whole part is missing", f"0.{decimals}" if _AMOUNT.fullmatch(f"0.{decimals}") else example
    if point and not decimals:
        return "no digits follow the point", whole if _AMOUNT.fullmatch(whole) else example
    if re.fullmatch(r"0[0-9]*(,[0-9]{3})+", whole):
        return "a number grouped with commas does not start with 0 (is the comma a decimal point?)", example
    if "," in whole:
        return "commas separate thousands in groups of exactly three digits (the decimals follow a point)", example
    return "it is not digits with an optional point", example
