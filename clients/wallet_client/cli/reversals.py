"""`wallet reverse`: refund a debit or reclaim a credit, at most what is left of it."""

from __future__ import annotations

from typing import Annotated

import grpc
import typer

from wallet_client.cli import arguments, display
from wallet_client.cli.arguments import CustomerArg, KeyOpt, MetaOpt, MinorUnitsOpt, ReasonOpt
from wallet_client.cli.context import Options, explained_errors, exponents
from wallet_client.errors import InvalidRequest
from wallet_client.models import EntryType, LedgerEntry
from wallet_client.reversal_errors import EntryNotFound
from wallet_client.sync_client import WalletClient

EntryIdArg = Annotated[
    str, typer.Argument(help="The entry to reverse, e.g. le_0123456789abcdef (from `wallet history`).")
]
ReverseAmountArg = Annotated[
    str | None,
    typer.Argument(
        help="How much to reverse (1500.50 or 1,500.50, or see --minor-units); 0 or none: all that is left.",
        callback=arguments.check_amount_form,
    ),
]


def find_entry(client: WalletClient, customer_id: str, entry_id: str) -> LedgerEntry:
    """One of the customer's entries by id, in two reads of one entry each (the history has no lookup by id).

    The entry after it (if any) is found first; the entry before that one,
    newest first, is the entry itself.
    """
    try:
        after = next(iter(client.iter_entries(customer_id, start_after_id=entry_id, limit=1)), None)
    except InvalidRequest as error:  # an id that is not one of the customer's entries is refused as a cursor
        not_found = f"Entry {entry_id} not found"
        raise EntryNotFound(not_found, entry_id=entry_id, code=grpc.StatusCode.NOT_FOUND) from error
    before = client.iter_entries(customer_id, start_after_id=after.id if after else None, limit=1, newest_first=True)
    found = next(iter(before), None)
    assert found is not None and found.id == entry_id, (entry_id, found)
    return found


def reverse(
    ctx: typer.Context,
    customer_id: CustomerArg,
    entry_id: EntryIdArg,
    amount: ReverseAmountArg = None,
    reason: ReasonOpt = "",
    idempotency_key: KeyOpt = None,
    meta: MetaOpt = [],  # noqa: B006 - Typer reads the default, never mutates it
    minor_units: MinorUnitsOpt = False,
) -> None:
    opts: Options = ctx.obj
    metadata = arguments.parse_metadata(meta)
    attempt = display.Attempt(write="reversal")
    with opts.client() as client, explained_errors(opts, attempt):
        attempt.exponents.update(exponents(client, customer_id))
        # The entry's currency says how to read AMOUNT (and a missing entry is reported before anything is sent).
        original = find_entry(client, customer_id, entry_id)
        attempt.currency = original.currency
        exponent = attempt.exponents.get(original.currency, display.FALLBACK_EXPONENT)
        minor = (
            arguments.parse_amount(
                amount, exponent, original.currency, minor_units, zero_allowed=True, command="reverse"
            )
            if amount is not None
            else 0
        )
        result = client.reverse(
            customer_id, entry_id, minor, reason=reason, idempotency_key=idempotency_key, metadata=metadata
        )
    entry, original, wallet = result.entry, result.original, result.wallet
    shown = display.wallet_money(wallet, entry.amount)
    kind = "Refunded" if original.entry_type is EntryType.DEBIT else "Reclaimed"
    if result.idempotent_replay:
        typer.echo(
            f"Already reversed: idempotency key {entry.idempotency_key} was used by entry {entry.id} "
            f"({shown} on {display.when(entry.created_at)}); nothing new was written."
        )
    else:
        typer.echo(f"{kind} {shown} ({entry.amount} minor units) of {original.entry_type.value} {original.id}.")
    total = display.wallet_money(wallet, original.reversed_amount)
    of = display.wallet_money(wallet, original.amount)
    typer.echo(f"Reversed so far: {total} of {of}.")
    typer.echo(display.wallet_line(wallet))
    typer.echo(f"Entry {entry.id}, idempotency key {entry.idempotency_key}")
