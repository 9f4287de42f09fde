"""The `wallet history` command: list a customer's entries, or export them to a file (resumably)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from wallet_client.cli import arguments, display
from wallet_client.cli.arguments import CustomerArg
from wallet_client.cli.context import Options, explained_errors
from wallet_client.cli.history import OutputFormat, run_history
from wallet_client.models import EntryType
from wallet_client.requests import HistoryFilter


class TypeFilter(enum.StrEnum):
    credit = "credit"
    debit = "debit"
    expiration = "expiration"


def history(
    ctx: typer.Context,
    customer_id: CustomerArg,
    currency: Annotated[str | None, typer.Option(help="Only this currency.")] = None,
    entry_type: Annotated[
        TypeFilter | None, typer.Option("--type", help="Only credits, only debits or only expirations.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this time on (inclusive), e.g. 2026-01-31.")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (exclusive).")] = None,
    after_id: Annotated[str | None, typer.Option(help="Start after this entry id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries; 0 for all.", min=0)] = 0,
    newest_first: Annotated[bool, typer.Option("--newest-first", help="Most recent entries first.")] = False,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="table, json, jsonl or csv. Default: table, or by FILE's suffix."),
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
    attempt = display.Attempt()
    with opts.client() as client, explained_errors(opts, attempt):
        code = run_history(client, query, fmt, output, resume=resume, overwrite=overwrite, exponents=attempt.exponents)
    if code:
        raise typer.Exit(code)
