"""The `wallet` command: balances, credits, debits, holds, history (resumable export), imports, reports, events."""

from __future__ import annotations

import enum
import inspect
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer

from wallet_client.cli import (
    arguments,
    console_command,
    display,
    events,
    history_command,
    holds,
    importing,
    layouts,
    report,
    reversals,
    webhooks,
)
from wallet_client.cli.arguments import (
    AmountArg,
    CurrencyArg,
    CustomerArg,
    KeyOpt,
    MetaOpt,
    MinorUnitsOpt,
    ReasonOpt,
)
from wallet_client.cli.context import Options, amount_in, explained_errors
from wallet_client.cli.help_text import WalletGroup
from wallet_client.connection import DEFAULT_TARGET, default_target
from wallet_client.models import EntryResult, EntryType

app = typer.Typer(
    name="wallet",
    help="Customer wallets from the command line: balances, credits, debits, holds, exports, reports and events.",
    no_args_is_help=True,
    add_completion=False,
    cls=WalletGroup,
    # Errors are explained in one sentence by the commands; a crash must not dump locals.
    pretty_exceptions_enable=False,
)


class BalancesFormat(enum.StrEnum):
    table = "table"
    json = "json"


@app.callback()
def options(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            "-t",
            envvar="WALLET_ADDR",
            show_default=False,
            help=f"host:port of the wallet service. Default: {DEFAULT_TARGET}.",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Deadline of each call, in seconds.", min=0.1)] = 10.0,
) -> None:
    ctx.obj = Options(target=target or default_target(), timeout_s=timeout)


@app.command()
def balances(
    ctx: typer.Context,
    customer_id: CustomerArg,
    fmt: Annotated[BalancesFormat, typer.Option("--format", help="table, or json for scripts.")] = (
        BalancesFormat.table
    ),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Show the wallets as they stood at this date or time (UTC), e.g. 2026-11-01."),
    ] = None,
) -> None:
    """Show the customer's balance in every currency, with what holds reserve and what is available."""
    opts: Options = ctx.obj
    moment = arguments.parse_time(as_of, "--as-of")
    with opts.client() as client, explained_errors(opts, display.Attempt()):
        result = client.get_balances(customer_id, as_of=moment)
    if fmt is BalancesFormat.json:
        import json

        rows = [
            {
                "currency": w.currency,
                "balance": w.balance,
                "held_balance": w.held_balance,
                "available_balance": w.available_balance,
                "minor_unit_exponent": w.minor_unit_exponent,
                "display": display.wallet_money(w, w.balance),
                "available_display": display.wallet_money(w, w.available_balance),
                "version": w.version,
                "low_balance_threshold": w.low_balance_threshold,
                "updated_at": w.updated_at.isoformat() if w.updated_at else None,
            }
            for w in result
        ]
        shown = {"customer_id": result.customer_id, "as_of": moment.isoformat() if moment else None, "wallets": rows}
        typer.echo(json.dumps(shown, ensure_ascii=False))
        return
    layouts.print_balances(result, moment)


ExpiresAtOpt = Annotated[
    str | None,
    typer.Option("--expires-at", help="The unspent rest of the credit expires at this date or ISO 8601 time (UTC)."),
]
ExpiresInOpt = Annotated[
    str | None, typer.Option("--expires-in", help="The unspent rest of the credit expires after this long, e.g. 30d.")
]


def _entry_command(entry_type: EntryType) -> Callable[..., None]:
    """The `credit` or `debit` command: one body for both, with the entry type fixed (only credits expire)."""

    def command(
        ctx: typer.Context,
        customer_id: CustomerArg,
        amount: AmountArg,
        currency: CurrencyArg,
        reason: ReasonOpt = "",
        idempotency_key: KeyOpt = None,
        meta: MetaOpt = [],  # noqa: B006 - Typer reads the default, never mutates it
        minor_units: MinorUnitsOpt = False,
        expires_at: ExpiresAtOpt = None,
        expires_in: ExpiresInOpt = None,
    ) -> None:
        opts: Options = ctx.obj
        metadata = arguments.parse_metadata(meta)
        expire_time = arguments.parse_expiry(expires_at, expires_in, datetime.now(UTC))
        # A retry must send the same expire time: --expires-in would make a new one.
        again = f" --expires-at {expire_time.isoformat()}" if expires_in is not None and expire_time else ""
        attempt = display.Attempt(write="entry", again=again)
        with opts.client() as client, explained_errors(opts, attempt):
            currency, minor = amount_in(client, customer_id, amount, currency, minor_units, attempt, entry_type.value)
            entry = (customer_id, entry_type, minor, currency, reason, idempotency_key, metadata)
            result = client.create_entry(*entry, expire_time=expire_time)
        _print_entry(result, customer_id, attempt.exponents)

    if entry_type is not EntryType.CREDIT:
        # Resolved annotations: Typer reads its options from the Annotated metadata of each parameter.
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name not in ("expires_at", "expires_in")]
        command.__signature__ = signature.replace(parameters=kept)  # type: ignore[attr-defined]
    return command


def _print_entry(result: EntryResult, customer_id: str, exponents: dict[str, int]) -> None:
    entry, wallet, currency = result.entry, result.wallet, result.entry.currency
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
    done = "Credited" if entry.entry_type is EntryType.CREDIT else "Debited"
    direction = "to" if entry.entry_type is EntryType.CREDIT else "from"
    typer.echo(f"{done} {shown} ({entry.amount} minor units) {direction} {customer_id}.")
    typer.echo(f"New {currency} balance: {balance} ({wallet.balance} minor units)")
    if entry.expire_time is not None:
        typer.echo(f"Expires {display.when(entry.expire_time)}: what is unspent then leaves the balance.")
    typer.echo(f"Entry {entry.id}, idempotency key {entry.idempotency_key}")


app.command("credit", help="Add money to the customer's wallet.", cls=arguments.AmountCommand)(
    _entry_command(EntryType.CREDIT)
)
app.command(
    "debit",
    cls=arguments.AmountCommand,
    help="Take money from the customer's wallet; refused, writing nothing, if the available balance is too low.",
)(_entry_command(EntryType.DEBIT))


app.command("history")(history_command.history)


app.command(
    "hold",
    help="Reserve part of the available balance until captured, released or expired.",
    cls=arguments.AmountCommand,
)(holds.hold)
app.command(
    "capture",
    help="Spend part or all of a hold (one debit); the rest returns to the available balance.",
    cls=arguments.AmountCommand,
)(holds.capture)
app.command("release", help="Close a hold without spending it: its whole amount returns.")(holds.release)
app.command("holds", help="List the customer's holds, newest first.")(holds.list_holds)
app.command(
    "reverse", help="Refund a debit or reclaim a credit: at most what is left of it.", cls=arguments.AmountCommand
)(reversals.reverse)
app.command("import", help="Apply a JSONL or CSV file of entries in batches; run it again to resume.")(
    importing.import_entries
)
app.command("report", help="Credits, debits and expirations per hour, day, week or month, with a bar chart.")(
    report.report
)
app.command("watch", help="Print wallet events as they happen, until Ctrl-C (exit 0). Default: from now on.")(
    events.watch
)
app.command("console", help="Serve the support console in the browser (docs/console.md), until Ctrl-C.")(
    console_command.console
)
app.command(
    "threshold",
    help="Set when the customer's wallet counts as low (BALANCE_LOW events); 0: off.",
    cls=arguments.AmountCommand,
)(events.threshold)

app.add_typer(webhooks.app, name="webhooks")


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
