"""The values of the `wallet` command's arguments, parsed from their text; a BadParameter names the bad one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from typer.core import TyperCommand

from wallet_client import money

# What a refused negative amount adds, per command (`amounts are positive (...)`).
NEGATIVE_HINTS = {
    "credit": "`wallet debit` takes money away",
    "debit": "a debit takes the amount away",
    "hold": "a hold reserves the amount written",
    "capture": "a capture spends the amount written of the hold",
    "threshold": "the wallet is low below this amount; 0 switches alerts off",
    "reverse": "a reversal gives back or takes back the amount written",
}


# A word that looks like a negative amount: `-5`, `-1,50`, `-.5`, `-١٥`.
_NEGATIVE = re.compile(r"-[\d.,]")


def _negative_hint(ctx: typer.Context) -> str:
    return NEGATIVE_HINTS.get(ctx.info_name or "", "")


def check_amount_form(ctx: typer.Context, value: str | None) -> str | None:
    """Typer callback of an AMOUNT: refuses text that no currency could read, before anything is sent.

    How many decimals are allowed depends on the currency, known only once
    the server has said its exponent: `parse_amount` checks that, and zero.
    """
    if value is not None:
        try:
            money.check_form(value, negative_hint=_negative_hint(ctx))
        except money.AmountError as error:
            raise typer.BadParameter(str(error), param_hint="AMOUNT") from None
    return value


class AmountCommand(TyperCommand):
    """A command with an AMOUNT argument: `-5` reaches the amount's parser (and its explanation), not "No such option".

    Only when a word before `--` looks like a negative number (a dash then a
    digit, point or comma...) are unknown options passed on as arguments; a
    mistyped option of any other command line is still reported as such.
    Use it for every command that reads an amount: `app.command(..., cls=AmountCommand)`.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        words = args[: args.index("--")] if "--" in args else args
        if any(_NEGATIVE.match(word) for word in words):
            ctx.ignore_unknown_options = True
        return super().parse_args(ctx, args)


CustomerArg = Annotated[str, typer.Argument(help="The customer, e.g. cus_1.")]
AmountArg = Annotated[
    str,
    typer.Argument(
        help="Amount as people write it: 1500, 1500.50 or 1,500.50 (100.00 means 10000 USD cents); see --minor-units.",
        callback=check_amount_form,
    ),
]
# An AMOUNT that may be left out, or be 0, for "all of it" (a capture, a reversal); give the help text its own words.
OptionalAmountArg = Annotated[
    str | None,
    typer.Argument(help="Amount (1500.50 or 1,500.50); 0 or none: all of it.", callback=check_amount_form),
]
CurrencyArg = Annotated[str, typer.Argument(help="ISO 4217 code, e.g. USD or INR.")]
HoldIdArg = Annotated[
    str, typer.Argument(help="The hold, e.g. hd_0123456789abcdef (from `wallet hold` or `wallet holds`).")
]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why, for people reading the history.")]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        "-k",
        help="Makes repeating the command safe: the same key applies once. Default: a new random key.",
    ),
]
MetaOpt = Annotated[list[str], typer.Option("--meta", "-m", help="KEY=VALUE stored with the entry; repeatable.")]
MinorUnitsOpt = Annotated[
    bool, typer.Option("--minor-units", help="AMOUNT is a whole number of minor units (cents), not 100.00.")
]

_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def parse_metadata(pairs: list[str]) -> dict[str, str]:
    """`--meta KEY=VALUE` options as a mapping."""
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--meta")
        metadata[key] = value
    return metadata


def parse_time(text: str | None, option: str) -> datetime | None:
    """A date or ISO 8601 time given to `option`, as an aware datetime."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not a date or ISO 8601 time", param_hint=option) from error
    # A time without a zone is taken as UTC, like every time this command prints.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_amount(
    text: str, exponent: int, currency: str, minor_units: bool, *, zero_allowed: bool = False, command: str = ""
) -> int:
    """AMOUNT in minor units: as people write it (100.00), or already in minor units with `--minor-units`.

    The one reading of every amount a person types (credit, debit, hold,
    capture, reverse, threshold): see `wallet_client.money.parse_amount`.
    `zero_allowed` where 0 means something (all of a hold, alerts off).
    """
    hint = NEGATIVE_HINTS.get(command, "")
    try:
        if minor_units:
            return money.parse_amount(text, 0, zero_allowed=zero_allowed, negative_hint=hint)
        return money.parse_amount(text, exponent, currency, zero_allowed=zero_allowed, negative_hint=hint)
    except money.AmountError as error:
        message = str(error) + (" (a whole number of minor units, with --minor-units)" if minor_units else "")
        raise typer.BadParameter(message, param_hint="AMOUNT") from None


def parse_duration(text: str, option: str) -> timedelta:
    """`90s`, `10m`, `2h`, `30d`, `1w` or a sum such as `1h30m`, as a positive timedelta."""
    cleaned = text.strip().lower()
    if not cleaned or _DURATION_PART.sub("", cleaned) or not (parts := _DURATION_PART.findall(cleaned)):
        raise typer.BadParameter(
            f"{text!r} is not a duration; write it like 90s, 10m, 2h, 30d or 1h30m", param_hint=option
        )
    duration = timedelta(seconds=sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts))
    if duration <= timedelta(0):
        raise typer.BadParameter(f"{text!r} must be longer than zero", param_hint=option)
    return duration


def parse_expiry(expires_at: str | None, expires_in: str | None, now: datetime) -> datetime | None:
    """The expire time of a credit: `--expires-at` a date or time, or `--expires-in` a duration from `now`."""
    if expires_at is not None and expires_in is not None:
        raise typer.BadParameter("give --expires-at or --expires-in, not both", param_hint="--expires-in")
    if expires_in is not None:
        return now + parse_duration(expires_in, "--expires-in")
    return parse_time(expires_at, "--expires-at")
