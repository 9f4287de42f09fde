"""What the command prints: money tables, and one clear sentence (plus an exit code) per error."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from rich import box
from rich.table import Table

from wallet_client.errors import (
    BalanceOverflow,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidRequest,
    WalletError,
    WalletUnavailable,
)
from wallet_client.models import Balances, LedgerEntry
from wallet_client.money import format_money

# Exit codes, documented in docs/clients.md.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # also what Typer uses for bad arguments
EXIT_REFUSED = 3  # the ledger refused the entry: insufficient balance, overflow
EXIT_KEY_REUSED = 4
EXIT_UNAVAILABLE = 5  # the service did not answer; a write may be retried with its key
EXIT_INTERRUPTED = 130

# Exponent assumed for a currency the server did not describe (it always does for its own).
FALLBACK_EXPONENT = 2


def money(minor_units: int, currency: str, exponents: Mapping[str, int]) -> str:
    return format_money(minor_units, currency, exponents.get(currency, FALLBACK_EXPONENT))


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def balances_table(balances: Balances) -> Table:
    table = Table(title=f"Wallets of {balances.customer_id}")
    table.add_column("Currency", no_wrap=True)
    table.add_column("Balance", justify="right", no_wrap=True)
    table.add_column("Minor units", justify="right", no_wrap=True)
    table.add_column("Updated", no_wrap=True)
    for wallet in balances:
        shown = format_money(wallet.balance, wallet.currency, wallet.minor_unit_exponent)
        table.add_row(wallet.currency, shown, str(wallet.balance), when(wallet.updated_at))
    return table


def history_table(entries: Iterable[LedgerEntry], exponents: Mapping[str, int], title: str) -> Table:
    # Light borders and no type column (the sign says it) so that a history fits 80 columns.
    # Money and times are never cut or wrapped; the reason wraps and the id folds instead.
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Created (UTC)", no_wrap=True)
    table.add_column("Amount", justify="right", no_wrap=True)
    table.add_column("Minor units", justify="right", no_wrap=True)
    table.add_column("Balance after", justify="right", no_wrap=True)
    table.add_column("Reason", ratio=1, min_width=6)
    table.add_column("Entry id", overflow="fold", min_width=12)
    for entry in entries:
        sign = "+" if entry.entry_type.value == "credit" else "-"
        table.add_row(
            entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            sign + money(entry.amount, entry.currency, exponents),
            f"{sign}{entry.amount}",
            money(entry.after_balance, entry.currency, exponents),
            entry.reason,
            entry.id,
        )
    return table


@dataclass(frozen=True)
class Failure:
    """What to tell the user about an error, and the exit code."""

    message: str
    exit_code: int


def describe_error(error: WalletError, exponents: Mapping[str, int], target: str) -> Failure:
    """One or two sentences a person can act on; never a traceback."""
    if isinstance(error, InsufficientBalance):
        has = money(error.balance, error.currency, exponents)
        needs = money(error.amount, error.currency, exponents)
        return Failure(f"Insufficient balance: has {has}, needs {needs}", EXIT_REFUSED)
    if isinstance(error, BalanceOverflow):
        has = money(error.balance, error.currency, exponents)
        return Failure(f"Balance overflow: the {error.currency} wallet holds {has}, it cannot take more", EXIT_REFUSED)
    if isinstance(error, IdempotencyKeyReused):
        return Failure(
            f"Idempotency key {error.idempotency_key!r} was already used for a different request "
            f"(entry {error.entry_id}); repeat that request exactly, or use a new key",
            EXIT_KEY_REUSED,
        )
    if isinstance(error, InvalidRequest):
        problems = "; ".join(f"{v.field} {v.description}" for v in error.violations) or error.message
        return Failure(f"Invalid request: {problems}", EXIT_USAGE)
    if isinstance(error, WalletUnavailable):
        message = (
            f"Wallet service unavailable at {target} ({error.code.name}: {error.message}); "
            f"gave up after {error.attempts} attempt{'s' if error.attempts != 1 else ''}"
        )
        if error.idempotency_key:
            message += (
                ". The entry may or may not have been applied: run the same command again with "
                f"--idempotency-key {error.idempotency_key} to retry it safely"
            )
        return Failure(message, EXIT_UNAVAILABLE)
    return Failure(f"Wallet error ({error.code.name}): {error.message}", EXIT_ERROR)
