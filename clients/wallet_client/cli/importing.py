"""`wallet import FILE`: applies a file of entries in batches, resumably, and sums up what happened.

Each batch is one BatchCreateLedgerEntries call. Every line carries an
idempotency key (its own, or one derived from the file), so running the
command again after an interruption replays the lines already applied and
applies the rest. With --atomic each batch applies whole or not at all, and
the import stops at the first refused batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from wallet_client.batch_calls import BATCH_ENTRIES_MAX
from wallet_client.cli import display
from wallet_client.cli.context import Options
from wallet_client.cli.import_file import Line, RefusedWriter, count_lines, file_digest, file_format, read_lines
from wallet_client.errors import AtomicBatchRefused, WalletError
from wallet_client.sync_client import WalletClient

_TRANSIENT = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED")


@dataclass
class Tally:
    applied: int = 0
    replayed: int = 0
    refused: int = 0


def import_entries(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file of CreateLedgerEntryRequest fields.")],
    atomic: Annotated[
        bool, typer.Option("--atomic", help="Each batch applies whole or not at all; stop at the first refused one.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Entries per call.", min=1, max=BATCH_ENTRIES_MAX)
    ] = 100,
) -> None:
    """Apply a file of credits and debits in batches; run it again to resume (applied lines replay)."""
    opts: Options = ctx.obj
    err = Console(stderr=True)
    try:
        file_format(file)
        digest, total = file_digest(file), count_lines(file)
    except (OSError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None
    tally, refused = Tally(), RefusedWriter(file)
    stopped: str | None = None
    exit_code = display.EXIT_REFUSED
    try:
        with opts.client() as client, _progress(err) as progress:
            task = progress.add_task("import", total=total)
            for lines in _batches(read_lines(file, digest), batch_size):
                stopped = _apply(client, lines, atomic, tally, refused)
                progress.update(task, advance=len(lines))
                if stopped:
                    break
    except WalletError as error:
        # The service stopped answering: what was applied stays; a re-run replays it.
        stopped = f"{error.message} ({error.code.name}); run the same command again to resume"
        exit_code = display.EXIT_UNAVAILABLE if error.code.name in _TRANSIENT else display.EXIT_ERROR
    finally:
        refused.close()
    _summary(err, file, tally, refused, stopped)
    if stopped or tally.refused:
        raise typer.Exit(exit_code)


def _batches(lines: Iterator[Line], size: int) -> Iterator[list[Line]]:
    while batch := list(itertools.islice(lines, size)):
        yield batch


def _apply(client: WalletClient, lines: list[Line], atomic: bool, tally: Tally, refused: RefusedWriter) -> str | None:
    """Sends the readable lines of one batch; returns why the import must stop, if it must."""
    readable = [line for line in lines if line.request is not None]
    for line in lines:
        if line.request is None:
            tally.refused += 1
            refused.write(line, f"unreadable: {line.problem}")
    if not readable:
        return None
    try:
        results = client.batch([line.request for line in readable if line.request is not None], atomic=atomic)
    except AtomicBatchRefused as error:
        first = readable[error.index]
        for line in readable:
            why = error.message if line is first else f"not applied: line {first.number} refused its batch"
            refused.write(line, f"{error.reason}: {why}" if line is first else why)
        tally.refused += len(readable)
        return f"line {first.number} was refused ({error.reason}: {error.message}); its batch was not applied"
    for line, outcome in zip(readable, results, strict=True):
        if outcome.error is not None:
            tally.refused += 1
            refused.write(line, f"{outcome.error.reason}: {outcome.error.message}")
        elif outcome.applied:
            tally.applied += 1
        else:
            tally.replayed += 1
    return None


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("Importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _summary(err: Console, file: Path, tally: Tally, refused: RefusedWriter, stopped: str | None) -> None:
    err.print(
        f"{file.name}: {tally.applied:,} applied, {tally.replayed:,} replayed (applied before), "
        f"{tally.refused:,} refused.",
        highlight=False,
    )
    if refused.count:
        err.print(f"Refused lines, with their reasons: {refused.path}", highlight=False)
    if stopped:
        err.print(f"Stopped: {stopped}.", highlight=False)
