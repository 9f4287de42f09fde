"""`wallet watch` and `wallet threshold`: follow wallet events live, and say when a wallet counts as low."""

from __future__ import annotations

import contextlib
import enum
import json
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from wallet_client.cli import arguments, display
from wallet_client.cli.arguments import CurrencyArg, CustomerArg, MinorUnitsOpt
from wallet_client.cli.context import Options, checked_currency, explained_errors, exponents
from wallet_client.cli.event_lines import ROW, WIDE, event_record, event_row
from wallet_client.errors import WalletError
from wallet_client.models import EventType, WalletEvent
from wallet_client.retry import RetryPolicy

# A watch waits out an outage or a restart of the service of up to five minutes, then gives up (exit 5).
WATCH_RETRY = RetryPolicy(max_attempts=200, initial_backoff_s=0.2, max_backoff_s=5.0, total_timeout_s=300.0)


class WatchFormat(enum.StrEnum):
    table = "table"
    jsonl = "jsonl"


TypeOpt = Annotated[
    list[str],
    typer.Option(
        "--type",
        help="Only events of this type (entry_created, hold_created, hold_captured, hold_released, "
        "hold_expired, balance_low, balance_recovered); repeatable. Default: all.",
    ),
]


def watch(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(help="Only this customer's events. Default: every customer's.")] = "",
    types: TypeOpt = [],  # noqa: B006 - Typer reads the default, never mutates it
    from_oldest: Annotated[
        bool, typer.Option("--from-oldest", help="Start with the oldest event the service retains.")
    ] = False,
    after: Annotated[
        str, typer.Option("--after", metavar="CURSOR", help="Start right after this event (its cursor).")
    ] = "",
    fmt: Annotated[WatchFormat, typer.Option("--format", "-f", help="table (terminal) or jsonl (one per line).")] = (
        WatchFormat.table
    ),
) -> None:
    """Print wallet events as they happen, until Ctrl-C. Default: from now on."""
    if from_oldest and after:
        raise typer.BadParameter("give --from-oldest or --after, not both", param_hint="--after")
    event_types = [_event_type(name) for name in types]
    opts: Options = ctx.obj
    whose = customer_id or "every customer"
    start = f"after {after}" if after else "from the oldest retained event" if from_oldest else "from now"
    typer.echo(f"Watching events of {whose} {start}; Ctrl-C to stop.", err=True)
    shown = _Shown(after)
    with opts.client(retry=WATCH_RETRY) as client, explained_errors(opts, display.Attempt()), shown.whole_lines():
        events = client.watch_events(customer_id, event_types, after, from_oldest)
        width = Console().width
        try:
            for event in events:
                if fmt is WatchFormat.jsonl:
                    shown.print(json.dumps(event_record(event), ensure_ascii=False), event)
                    continue
                if not shown.count and width >= WIDE:
                    # Only once the stream answered: a refused cursor is explained before any table.
                    typer.echo(ROW.format("Occurred (UTC)", "Event", "Customer", "Change", "Wallet after / cursor"))
                shown.print(event_row(event, width), event)
        except KeyboardInterrupt:
            resume = f"; continue with --after {shown.last}" if shown.last else ""
            typer.echo(f"Stopped after {shown.count} event{'s' if shown.count != 1 else ''}{resume}.", err=True)
        except WalletError:
            if shown.count:
                typer.echo(f"The watch stopped after {shown.last}; continue with --after {shown.last}.", err=True)
            raise


class _Shown:
    """The events printed so far; a Ctrl-C that comes while a line is printed waits until it is counted.

    Otherwise the last line printed could be missing from the count and from
    the cursor to continue with.
    """

    def __init__(self, after: str) -> None:
        self.last, self.count = after, 0
        self._printing = self._interrupted = False

    @contextlib.contextmanager
    def whole_lines(self) -> Iterator[None]:
        # Only the main thread may handle signals (a test runner may call the command from another).
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._on_interrupt)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def print(self, line: str, event: WalletEvent) -> None:
        self._printing = True
        try:
            typer.echo(line)
            self.last, self.count = event.cursor, self.count + 1
        finally:
            self._printing = False
        if self._interrupted:
            raise KeyboardInterrupt

    def _on_interrupt(self, signal_number: int, frame: FrameType | None) -> None:
        if self._printing:
            self._interrupted = True
        else:
            raise KeyboardInterrupt


def _event_type(name: str) -> EventType:
    try:
        return EventType(name.lower())
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        raise typer.BadParameter(f"{name!r} is not an event type ({known})", param_hint="--type") from None


def threshold(
    ctx: typer.Context,
    customer_id: CustomerArg,
    currency: CurrencyArg,
    amount: Annotated[
        str,
        typer.Argument(
            help="Low below this available balance, e.g. 5.00; 0 switches alerts off.",
            callback=arguments.check_amount_form,
        ),
    ],
    minor_units: MinorUnitsOpt = False,
) -> None:
    opts: Options = ctx.obj
    attempt = display.Attempt()
    with opts.client() as client, explained_errors(opts, attempt):
        attempt.exponents.update(exponents(client, customer_id))
        currency = checked_currency(currency, attempt.exponents)
        exponent = attempt.exponents[currency]
        # 0 is meant: it switches the alerts off.
        minor = arguments.parse_amount(amount, exponent, currency, minor_units, zero_allowed=True, command="threshold")
        wallet = client.set_low_balance_threshold(customer_id, currency, minor)
    owner = f"{customer_id}'s {currency} wallet"
    if wallet.low_balance_threshold == 0:
        typer.echo(f"Low-balance alerts are off for {owner}.")
    else:
        limit = display.wallet_money(wallet, wallet.low_balance_threshold)
        typer.echo(f"{owner} is low below {limit} ({wallet.low_balance_threshold} minor units).")
        low = wallet.available_balance < wallet.low_balance_threshold
        typer.echo(f"It is {'low' if low else 'not low'} now.")
    typer.echo(display.wallet_line(wallet))
