"""The `wallet` command: balances, credit, debit and history (with resumable export) from a terminal."""

from __future__ import annotations

import contextlib
import enum
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wallet_client.cli import arguments, display
from wallet_client.cli.history import OutputFormat, run_history
from wallet_client.connection import default_target
from wallet_client.errors import WalletError
from wallet_client.models import EntryType
from wallet_client.requests import HistoryFilter
from wallet_client.sync_client import WalletClient

app = typer.Typer(
    name="wallet",
    help="Customer wallets from the command line: balances, credits, debits and history exports.",
    no_args_is_help=True,
    add_completion=False,
    # Errors are explained in one sentence by the commands; a crash must not dump locals.
    pretty_exceptions_enable=False,
)


@dataclass(frozen=True)
class Options:
    target: str
    timeout_s: float


class BalancesFormat(enum.StrEnum):
    table = "table"
    json = "json"


class TypeFilter(enum.StrEnum):
    credit = "credit"
    debit = "debit"


@app.callback()
def options(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="host:port of the wallet service [env: WALLET_ADDR; 127.0.0.1:50051]"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Deadline of each call, in seconds.", min=0.1)] = 10.0,
) -> None:
    ctx.obj = Options(target=target or default_target(), timeout_s=timeout)


@contextlib.contextmanager
def explained_errors(opts: Options, exponents: dict[str, int]) -> Iterator[None]:
    """Turns a WalletError into its one-sentence explanation on stderr and its exit code."""
    try:
        yield
    except WalletError as error:
        failure = display.describe_error(error, exponents, opts.target)
        typer.echo(failure.message, err=True)
        raise typer.Exit(failure.exit_code) from None


def _exponents(client: WalletClient, customer_id: str) -> dict[str, int]:
    """Each currency's minor-unit exponent, as the server is configured (read from the customer's wallets)."""
    return {w.currency: w.minor_unit_exponent for w in client.get_balances(customer_id)}


@app.command()
def balances(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="The customer, e.g. cus_1.")],
    fmt: Annotated[BalancesFormat, typer.Option("--format", help="table, or json for scripts.")] = (
        BalancesFormat.table
    ),
) -> None:
    """Show the customer's balance in every currency."""
    opts: Options = ctx.obj
    with WalletClient(opts.target, timeout_s=opts.timeout_s) as client, explained_errors(opts, {}):
        result = client.get_balances(customer_id)
    if fmt is BalancesFormat.json:
        import json

        rows = [
            {
                "currency": w.currency,
                "balance": w.balance,
                "minor_unit_exponent": w.minor_unit_exponent,
                "display": display.money(w.balance, w.currency, {w.currency: w.minor_unit_exponent}),
                "updated_at": w.updated_at.isoformat() if w.updated_at else None,
            }
            for w in result
        ]
        typer.echo(json.dumps({"customer_id": result.customer_id, "wallets": rows}, ensure_ascii=False))
        return
    Console(soft_wrap=True).print(display.balances_table(result))


CustomerArg = Annotated[str, typer.Argument(help="The customer, e.g. cus_1.")]
AmountArg = Annotated[
    str,
    typer.Argument(help="Amount as people write it (100.00 means 10000 USD cents), or see --minor-units."),
]
CurrencyArg = Annotated[str, typer.Argument(help="ISO 4217 code, e.g. USD or INR.")]
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


def _entry_command(entry_type: EntryType) -> Callable[..., None]:
    """The `credit` or `debit` command: one body for both, with the entry type fixed."""

    def command(
        ctx: typer.Context,
        customer_id: CustomerArg,
        amount: AmountArg,
        currency: CurrencyArg,
        reason: ReasonOpt = "",
        idempotency_key: KeyOpt = None,
        meta: MetaOpt = [],  # noqa: B006 - Typer reads the default, never mutates it
        minor_units: MinorUnitsOpt = False,
    ) -> None:
        opts: Options = ctx.obj
        currency = currency.upper()
        metadata = arguments.parse_metadata(meta)
        exponents: dict[str, int] = {}
        with WalletClient(opts.target, timeout_s=opts.timeout_s) as client, explained_errors(opts, exponents):
            exponents.update(_exponents(client, customer_id))
            if currency not in exponents:
                supported = ", ".join(sorted(exponents))
                raise typer.BadParameter(f"{currency} is not a currency of the service (it has {supported})")
            amount_minor_units = arguments.parse_amount(amount, exponents[currency], currency, minor_units)
            result = client.create_entry(
                customer_id, entry_type, amount_minor_units, currency, reason, idempotency_key, metadata
            )
        entry, wallet = result.entry, result.wallet
        shown = display.money(entry.amount, currency, exponents)
        balance = display.money(wallet.balance, currency, exponents)
        if result.idempotent_replay:
            typer.echo(
                f"Already applied: idempotency key {entry.idempotency_key} was used by entry {entry.id} "
                f"({entry.entry_type.value} of {shown} on {display.when(entry.created_at)}); "
                "nothing new was written."
            )
            typer.echo(f"{currency} balance right after that entry: {balance} ({wallet.balance} minor units)")
            return
        done = "Credited" if entry_type is EntryType.CREDIT else "Debited"
        direction = "to" if entry_type is EntryType.CREDIT else "from"
        typer.echo(f"{done} {shown} ({entry.amount} minor units) {direction} {customer_id}.")
        typer.echo(f"New {currency} balance: {balance} ({wallet.balance} minor units)")
        typer.echo(f"Entry {entry.id}, idempotency key {entry.idempotency_key}")

    return command


app.command("credit", help="Add money to the customer's wallet.")(_entry_command(EntryType.CREDIT))
app.command(
    "debit", help="Take money from the customer's wallet; refused, writing nothing, if the balance is too low."
)(_entry_command(EntryType.DEBIT))


@app.command()
def history(
    ctx: typer.Context,
    customer_id: CustomerArg,
    currency: Annotated[str | None, typer.Option(help="Only this currency.")] = None,
    entry_type: Annotated[TypeFilter | None, typer.Option("--type", help="Only credits or only debits.")] = None,
    since: Annotated[str | None, typer.Option(help="From this time on (inclusive), e.g. 2026-01-31.")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (exclusive).")] = None,
    after_id: Annotated[str | None, typer.Option(help="Start after this entry id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries; 0 for all.", min=0)] = 0,
    newest_first: Annotated[bool, typer.Option("--newest-first", help="Most recent entries first.")] = False,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="table (terminal), jsonl or csv. Default: table, or by FILE's suffix."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Export to FILE (streamed, constant memory).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted export of FILE after its last entry.")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace FILE if it exists.")] = False,
) -> None:
    """List the customer's ledger entries, or export them to a JSONL or CSV file."""
    opts: Options = ctx.obj
    query = HistoryFilter(
        customer_id=customer_id,
        currency=currency.upper() if currency else None,
        entry_type=EntryType(entry_type.value) if entry_type else None,
        created_after=arguments.parse_time(since, "--since"),
        created_before=arguments.parse_time(until, "--until"),
        start_after_id=after_id,
        limit=limit or None,
        newest_first=newest_first,
    )
    exponents: dict[str, int] = {}
    with WalletClient(opts.target, timeout_s=opts.timeout_s) as client, explained_errors(opts, exponents):
        code = run_history(client, query, fmt, output, resume=resume, overwrite=overwrite, exponents=exponents)
    if code:
        raise typer.Exit(code)


def main() -> None:
    """Entry point of the `wallet` console script."""
    try:
        app()
    except Exception as error:
        # Expected failures are explained by the commands; this is a bug or a broken
        # environment. WALLET_DEBUG=1 shows the traceback.
        if os.environ.get("WALLET_DEBUG"):
            raise
        typer.echo(f"Unexpected error: {type(error).__name__}: {error} (WALLET_DEBUG=1 shows details)", err=True)
        sys.exit(display.EXIT_ERROR)
