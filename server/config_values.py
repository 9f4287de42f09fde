"""How the settings' values are written in the environment: parsed, checked, or refused with a ConfigError.

Currencies with exponents (`USD:2,JPY:0`) and their low-balance thresholds,
`host:port` addresses, and which trace exporter the standard OTEL_* variables
ask for. server/config.py builds the Settings from these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from server.domain.limits import AMOUNT_MAX, CURRENCY_CODE


class ConfigError(ValueError):
    """A setting has a value the server cannot run with."""


@dataclass(frozen=True)
class Currency:
    """A supported currency: its ISO 4217 code, minor-unit exponent and default low-balance threshold."""

    code: str
    exponent: int
    # Minor units; a wallet without its own threshold is low below this (0: no alerts).
    low_balance_threshold: int = 0


def parse_currencies(text: str) -> dict[str, Currency]:
    """Parses `USD:2,INR:2,JPY:0` (a bare code means exponent 2)."""
    currencies: dict[str, Currency] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        code, _, exponent_text = item.partition(":")
        code = code.strip()
        if not CURRENCY_CODE.fullmatch(code):
            raise ConfigError(f"WALLET_CURRENCIES: {code!r} is not an upper-case ISO 4217 code")
        try:
            exponent = int(exponent_text) if exponent_text else 2
        except ValueError as error:
            raise ConfigError(f"WALLET_CURRENCIES: exponent of {code} is not a number") from error
        if not 0 <= exponent <= 4:
            raise ConfigError(f"WALLET_CURRENCIES: exponent of {code} must be 0-4")
        currencies[code] = Currency(code, exponent)
    if not currencies:
        raise ConfigError("WALLET_CURRENCIES: at least one currency is required")
    return currencies


def with_thresholds(currencies: Mapping[str, Currency], text: str) -> dict[str, Currency]:
    """Applies `USD:500,INR:20000` (minor units) as the currencies' default low-balance thresholds."""
    result = dict(currencies)
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        code, _, amount_text = item.partition(":")
        code = code.strip()
        if code not in result:
            raise ConfigError(f"WALLET_LOW_BALANCE_THRESHOLDS: {code!r} is not a supported currency")
        try:
            amount = int(amount_text)
        except ValueError as error:
            raise ConfigError(f"WALLET_LOW_BALANCE_THRESHOLDS: threshold of {code} is not a whole number") from error
        if not 0 <= amount <= AMOUNT_MAX:
            raise ConfigError(f"WALLET_LOW_BALANCE_THRESHOLDS: threshold of {code} must be 0..{AMOUNT_MAX}")
        result[code] = replace(result[code], low_balance_threshold=amount)
    return result


TRACES_EXPORTERS = ("none", "otlp", "console")
OTLP_PROTOCOLS = ("grpc", "http/protobuf")
EVENT_LOOPS = ("uvloop", "asyncio")


def split_host_port(address: str, name: str) -> tuple[str, int]:
    """`host:port` (IPv6 hosts in brackets: `[::1]:9464`) as (host, port)."""
    host, sep, port_text = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65_535:
        raise ConfigError(f"{name}: {address!r} is not host:port")
    return host, int(port_text)


def traces_exporter_from_env(env: Mapping[str, str]) -> str:
    """Tracing is off unless the standard variables ask for it.

    OTEL_TRACES_EXPORTER names the exporter; unset, an OTLP endpoint
    (OTEL_EXPORTER_OTLP_ENDPOINT or ..._TRACES_ENDPOINT) means "otlp";
    OTEL_SDK_DISABLED=true wins over both. Only the first exporter of a
    list is used.
    """
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return "none"
    named = env.get("OTEL_TRACES_EXPORTER", "").split(",")[0].strip().lower()
    if named:
        return named
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return "otlp"
    return "none"
