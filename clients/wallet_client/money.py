"""Money for people: `10000` USD cents shown as `$100.00`, and `"100.00"` read back as 10000.

Only `int` and `Decimal` here, never float: 0.1 + 0.2 is not 0.3 in binary
floating point, and a wallet must not lose a cent to rounding.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Symbols of common currencies; any other code is written after the amount.
SYMBOLS = {"USD": "$", "INR": "₹", "EUR": "€", "GBP": "£", "JPY": "¥"}

_AMOUNT = re.compile(r"\d+(\.\d+)?|\.\d+")


def to_decimal(minor_units: int, exponent: int) -> Decimal:
    """10000 with exponent 2 -> Decimal('100.00'), exact."""
    return Decimal(minor_units).scaleb(-exponent)


def format_money(minor_units: int, currency: str, exponent: int) -> str:
    """`$100.00`, `₹15,000.00`, `-$5.00`, or `1,000 XYZ` for a currency without a known symbol."""
    sign = "-" if minor_units < 0 else ""
    digits = f"{to_decimal(abs(minor_units), exponent):,.{exponent}f}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


class AmountError(ValueError):
    """Text that is not a positive amount with at most the currency's number of decimals."""


def parse_amount(text: str, exponent: int, currency: str = "") -> int:
    """`"100.00"` (or `"100"`, `"1,000.5"`) with exponent 2 -> 10000 minor units.

    Refuses more decimals than the currency has rather than rounding: a
    typed amount is taken as meant, or not at all.
    """
    cleaned = text.strip().replace(",", "").replace("_", "")
    unit = f"{currency} " if currency else ""
    if not _AMOUNT.fullmatch(cleaned):
        raise AmountError(f"{text!r} is not an amount; write it like 100.00")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only valid decimals
        raise AmountError(f"{text!r} is not an amount") from error
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise AmountError(f"{text!r} has more than {exponent} decimal places, the {unit}minor unit")
    if minor <= 0:
        raise AmountError(f"{text!r} must be more than zero")
    return int(minor)
