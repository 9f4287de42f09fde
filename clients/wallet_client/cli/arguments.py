"""The values of the `wallet` command's arguments, parsed from their text; a BadParameter names the bad one."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from wallet_client import money


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


def parse_amount(text: str, exponent: int, currency: str, minor_units: bool) -> int:
    """AMOUNT in minor units: as people write it (100.00), or already in minor units with `--minor-units`."""
    if minor_units:
        if not text.isdigit() or int(text) <= 0:
            raise typer.BadParameter(f"{text!r} is not a positive whole number of minor units", param_hint="AMOUNT")
        return int(text)
    try:
        return money.parse_amount(text, exponent, currency)
    except money.AmountError as error:
        raise typer.BadParameter(str(error), param_hint="AMOUNT") from error
