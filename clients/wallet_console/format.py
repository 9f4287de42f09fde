"""How the console writes money and times: `$150.00` with its minor units on hover, UTC times, time left."""

from __future__ import annotations

from datetime import UTC, datetime

from jinja2 import Environment
from markupsafe import Markup, escape

from wallet_client.money import format_money

# Exponent assumed for a currency the service did not describe (it describes its own).
FALLBACK_EXPONENT = 2


def money(minor_units: int, currency: str, exponent: int = FALLBACK_EXPONENT, *, signed: str = "") -> Markup:
    """`<data value="15000" title="15000 minor units">$150.00</data>`: money, with the exact minor units kept."""
    shown = signed + format_money(minor_units, currency, exponent)
    return Markup('<data class="money" value="{}" title="{} minor units">{}</data>').format(
        minor_units, minor_units, shown
    )


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def time_left(moment: datetime, now: datetime | None = None) -> str:
    """`14m 05s left`, `2h 10m left`, `3d 4h left`, or `lapsed`."""
    seconds = int((moment - (now or datetime.now(UTC))).total_seconds())
    if seconds <= 0:
        return "lapsed"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h left"
    if hours:
        return f"{hours}h {minutes:02d}m left"
    return f"{minutes}m {seconds:02d}s left"


def metadata(values: dict[str, str]) -> Markup:
    return Markup(", ").join(Markup("<code>{}</code>={}").format(k, v) for k, v in sorted(values.items()))


def install_filters(env: Environment) -> None:
    env.filters["when"] = when
    env.filters["time_left"] = time_left
    env.filters["metadata"] = metadata
    env.globals["money"] = money
    env.globals["escape"] = escape
