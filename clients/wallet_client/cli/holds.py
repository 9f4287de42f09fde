"""`wallet hold`, `capture`, `release` and `holds`: reserve money, spend or give it back, list the holds."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from wallet_client.cli import arguments, display, layouts
from wallet_client.cli.arguments import (
    AmountArg,
    CurrencyArg,
    CustomerArg,
    HoldIdArg,
    KeyOpt,
    MetaOpt,
    MinorUnitsOpt,
    ReasonOpt,
)
from wallet_client.cli.context import Options, amount_in, checked_currency, explained_errors, exponents
from wallet_client.models import Hold, HoldStatus, Wallet

TtlOpt = Annotated[
    str | None,
    typer.Option("--ttl", help="How long the hold lasts if not captured or released, e.g. 10m or 2h. Default: 15m."),
]
CaptureAmountArg = Annotated[
    str | None,
    typer.Argument(
        help="Amount to spend, at most the hold's (100.00, or see --minor-units); 0 or none: all of it.",
        callback=arguments.check_amount_form,
    ),
]


class StatusFilter(enum.StrEnum):
    active = "active"
    captured = "captured"
    released = "released"
    expired = "expired"


def hold(
    ctx: typer.Context,
    customer_id: CustomerArg,
    amount: AmountArg,
    currency: CurrencyArg,
    ttl: TtlOpt = None,
    reason: ReasonOpt = "",
    idempotency_key: KeyOpt = None,
    meta: MetaOpt = [],  # noqa: B006 - Typer reads the default, never mutates it
    minor_units: MinorUnitsOpt = False,
) -> None:
    opts: Options = ctx.obj
    metadata = arguments.parse_metadata(meta)
    duration = arguments.parse_duration(ttl, "--ttl") if ttl is not None else None
    attempt = display.Attempt(write="hold")
    with opts.client() as client, explained_errors(opts, attempt):
        currency, minor = amount_in(client, customer_id, amount, currency, minor_units, attempt, "hold")
        result = client.hold(
            customer_id,
            minor,
            currency,
            ttl=duration,
            reason=reason,
            idempotency_key=idempotency_key,
            metadata=metadata,
        )
    made, shown = result.hold, display.wallet_money(result.wallet, result.hold.amount)
    _tell(
        result.idempotent_replay,
        f"Already applied: idempotency key {made.idempotency_key} made hold {made.id} "
        f"({shown} on {display.when(made.created_at)}, now {made.status.value}); nothing new was written.",
        [
            f"Held {shown} ({made.amount} minor units) of {made.customer_id}'s {made.currency} wallet "
            f"until {display.when(made.expire_time)}.",
            f"Hold {made.id}, idempotency key {made.idempotency_key}",
        ],
        result.wallet,
    )


def _tell(replayed: bool, already: str, done: list[str], wallet: Wallet) -> None:
    """What a write did (`done`), or that it had been done already, then the wallet as it stands."""
    for line in [already] if replayed else done:
        typer.echo(line)
    typer.echo(display.wallet_line(wallet))


def capture(
    ctx: typer.Context,
    customer_id: CustomerArg,
    hold_id: HoldIdArg,
    amount: CaptureAmountArg = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Reason of the debit. Default: the hold's.")] = "",
    meta: MetaOpt = [],  # noqa: B006 - Typer reads the default, never mutates it
    minor_units: MinorUnitsOpt = False,
) -> None:
    opts: Options = ctx.obj
    metadata = arguments.parse_metadata(meta)
    attempt = display.Attempt(write="capture")
    with opts.client() as client, explained_errors(opts, attempt):
        attempt.exponents.update(exponents(client, customer_id))
        # The hold's currency says how to read AMOUNT (and a missing hold is reported before anything is sent).
        attempt.currency = client.get_hold(customer_id, hold_id).currency
        exponent = attempt.exponents.get(attempt.currency, display.FALLBACK_EXPONENT)
        # 0, like no AMOUNT, captures the whole hold (the server reads 0 so).
        amount_minor_units = 0
        if amount is not None:
            amount_minor_units = arguments.parse_amount(
                amount, exponent, attempt.currency, minor_units, zero_allowed=True, command="capture"
            )
        result = client.capture(customer_id, hold_id, amount_minor_units, reason=reason, metadata=metadata)
    closed, entry, wallet = result.hold, result.entry, result.wallet
    spent, held, returned = (
        display.wallet_money(wallet, m)
        for m in (closed.captured_amount, closed.amount, closed.amount - closed.captured_amount)
    )
    _tell(
        result.idempotent_replay,
        f"Already captured: hold {closed.id} was captured for {spent} by entry {entry.id} "
        f"on {display.when(closed.closed_at)}; nothing new was written.",
        [
            f"Captured {spent} ({closed.captured_amount} minor units) of hold {closed.id} ({held}); "
            f"{returned} returned to the available balance.",
            f"Debit entry {entry.id}",
        ],
        wallet,
    )


def release(ctx: typer.Context, customer_id: CustomerArg, hold_id: HoldIdArg) -> None:
    opts: Options = ctx.obj
    with opts.client() as client, explained_errors(opts, display.Attempt(write="release")):
        result = client.release(customer_id, hold_id)
    closed, shown = result.hold, display.wallet_money(result.wallet, result.hold.amount)
    _tell(
        result.idempotent_replay,
        f"Already released: hold {closed.id} ({shown}) was released on {display.when(closed.closed_at)}; "
        "nothing new was written.",
        [f"Released hold {closed.id}: {shown} returned to the available balance."],
        result.wallet,
    )


class ListFormat(enum.StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


def hold_record(hold: Hold) -> dict[str, Any]:
    """A hold as one JSON object: amounts in minor units, times in ISO 8601 UTC."""
    return {
        "id": hold.id,
        "customer_id": hold.customer_id,
        "currency": hold.currency,
        "amount": hold.amount,
        "status": hold.status.value,
        "captured_amount": hold.captured_amount,
        "capture_entry_id": hold.capture_entry_id or None,
        "reason": hold.reason,
        "idempotency_key": hold.idempotency_key,
        "metadata": dict(sorted(hold.metadata.items())),
        "created_by": hold.created_by,
        "created_at": hold.created_at.isoformat(),
        "expire_time": hold.expire_time.isoformat(),
        "closed_at": hold.closed_at.isoformat() if hold.closed_at else None,
    }


def list_holds(
    ctx: typer.Context,
    customer_id: CustomerArg,
    currency: Annotated[str | None, typer.Option(metavar="CURRENCY", help="Only this currency.")] = None,
    status: Annotated[StatusFilter | None, typer.Option(help="Only holds in this status.")] = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table (terminal), json (one array) or jsonl (one per line).")
    ] = ListFormat.table,
) -> None:
    """List the customer's holds, newest first (every page, read as it is printed)."""
    opts: Options = ctx.obj
    attempt = display.Attempt()
    with opts.client() as client, explained_errors(opts, attempt):
        attempt.exponents.update(exponents(client, customer_id))
        found = client.list_holds(
            customer_id,
            currency=checked_currency(currency, attempt.exponents) if currency else None,
            status=HoldStatus(status.value) if status else None,
        )
        if fmt is ListFormat.table:
            layouts.print_tables(
                found,
                layouts.holds_layouts(attempt.exponents),
                f"Holds of {customer_id}",
                f"No holds for {customer_id}.",
            )
        else:
            _print_json(found, fmt)


def _print_json(holds: Iterator[Hold], fmt: ListFormat) -> None:
    """Each hold as it is read: one per line (jsonl), or the elements of one array (json)."""
    separator = "[\n"
    for found in holds:
        line = json.dumps(hold_record(found), ensure_ascii=False)
        if fmt is ListFormat.jsonl:
            typer.echo(line)
        else:
            typer.echo(separator + line, nl=False)
            separator = ",\n"
    if fmt is ListFormat.json:
        typer.echo("[]" if separator == "[\n" else "\n]")
