"""What every `wallet` command shares: the global options, and a failure explained in one sentence."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import typer

from wallet_client.cli import arguments, display
from wallet_client.errors import WalletError
from wallet_client.retry import RetryPolicy
from wallet_client.sync_client import WalletClient


@dataclass(frozen=True)
class Options:
    target: str
    timeout_s: float

    def client(self, retry: RetryPolicy | None = None) -> WalletClient:
        return WalletClient(self.target, timeout_s=self.timeout_s, retry=retry)


@contextlib.contextmanager
def explained_errors(opts: Options, attempt: display.Attempt) -> Iterator[None]:
    """Turns a WalletError into its one-sentence explanation on stderr and its exit code."""
    try:
        yield
    except WalletError as error:
        failure = display.describe_error(error, attempt, opts.target)
        typer.echo(failure.message, err=True)
        raise typer.Exit(failure.exit_code) from None


def exponents(client: WalletClient, customer_id: str) -> dict[str, int]:
    """Each currency's minor-unit exponent, as the server is configured (read from the customer's wallets)."""
    return {w.currency: w.minor_unit_exponent for w in client.get_balances(customer_id)}


def checked_currency(currency: str, known: dict[str, int]) -> str:
    """`currency` in upper case, or a BadParameter naming the service's currencies."""
    currency = currency.upper()
    if currency not in known:
        raise typer.BadParameter(f"{currency} is not a currency of the service (it has {', '.join(sorted(known))})")
    return currency


def amount_in(
    client: WalletClient,
    customer_id: str,
    amount: str,
    currency: str,
    minor_units: bool,
    attempt: display.Attempt,
    command: str,
) -> tuple[str, int]:
    """CURRENCY checked against the service's, AMOUNT (above zero) in minor units; `attempt` learns the exponents."""
    attempt.exponents.update(exponents(client, customer_id))
    currency = checked_currency(currency, attempt.exponents)
    exponent = attempt.exponents[currency]
    return currency, arguments.parse_amount(amount, exponent, currency, minor_units, command=command)
