"""`wallet import FILE`: applies a file of entries in batches, resumably, and sums up what happened.

Each batch is one BatchCreateLedgerEntries call. Every line carries an
idempotency key (its own, or one derived from the key namespace, its content
and its occurrence: see import_file), so running the command again after an
interruption, or after fixing refused lines in place, replays the lines
already applied and applies the rest. Lines refused earlier stay refused
under their keys unless --retry-refused (see import_apply). With --atomic
each batch applies whole or not at all, and the import stops at the first
refused batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from wallet.v1 import wallet_pb2
from wallet_client.batch_calls import BATCH_ENTRIES_MAX, BatchEntryResult
from wallet_client.cli import display
from wallet_client.cli.context import Options
from wallet_client.cli.import_apply import Tally, apply_batch
from wallet_client.cli.import_file import KEY_PREFIX, Line, RefusedWriter, count_lines, file_format, read_lines
from wallet_client.errors import WalletError

_TRANSIENT = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED")


def import_entries(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file of CreateLedgerEntryRequest fields.")],
    atomic: Annotated[
        bool, typer.Option("--atomic", help="Each batch applies whole or not at all; stop at the first refused one.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Entries per call.", min=1, max=BATCH_ENTRIES_MAX)
    ] = 100,
    key_namespace: Annotated[
        str | None,
        typer.Option(
            "--key-namespace",
            help="Derive the keys of lines without one in this namespace. Default: the file's name.",
        ),
    ] = None,
    retry_refused: Annotated[
        bool,
        typer.Option(
            "--retry-refused",
            help="Send lines refused earlier (derived keys only) again under new keys, e.g. after a top-up.",
        ),
    ] = False,
) -> None:
    """Apply a file of credits and debits in batches; run it again to resume (applied lines replay)."""
    opts: Options = ctx.obj
    err = Console(stderr=True)
    namespace = file.name if key_namespace is None else key_namespace
    try:
        file_format(file)
        total = count_lines(file)
    except (OSError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None
    tally, refused = Tally(), RefusedWriter(file)
    stopped: str | None = None
    exit_code = display.EXIT_REFUSED
    try:
        with opts.client() as client, _progress(err) as progress:
            task = progress.add_task("import", total=total)

            def send(requests: Sequence[wallet_pb2.CreateLedgerEntryRequest], atomic: bool) -> list[BatchEntryResult]:
                return client.batch(list(requests), atomic=atomic)

            for lines in _batches(read_lines(file, namespace), batch_size):
                stopped = apply_batch(send, lines, atomic=atomic, retry_refused=retry_refused, tally=tally)
                for line, why in tally.refusals:
                    refused.write(line, why)
                tally.refusals.clear()
                progress.update(task, advance=len(lines))
                if stopped:
                    break
    except WalletError as error:
        # The service stopped answering: what was applied stays; a re-run replays it.
        stopped = f"{error.message} ({error.code.name}); run the same command again to resume"
        exit_code = display.EXIT_UNAVAILABLE if error.code.name in _TRANSIENT else display.EXIT_ERROR
    finally:
        refused.close()
    _summary(err, file, namespace, key_namespace is None, tally, refused, stopped)
    if stopped or tally.refused:
        raise typer.Exit(exit_code)


def _batches(lines: Iterator[Line], size: int) -> Iterator[list[Line]]:
    while batch := list(itertools.islice(lines, size)):
        yield batch


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("Importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _summary(
    err: Console, file: Path, namespace: str, by_name: bool, tally: Tally, refused: RefusedWriter, stopped: str | None
) -> None:

    def say(text: str) -> None:
        err.print(text, highlight=False, soft_wrap=True)

    say(
        f"{file.name}: {tally.applied:,} applied, {tally.replayed:,} replayed (applied before), "
        f"{tally.refused:,} refused."
    )
    named = "the file's name" if by_name else "--key-namespace"
    say(
        f"Keys: lines without an idempotency_key got {KEY_PREFIX}<hash of the namespace {namespace!r} ({named}), "
        "the line's content and its occurrence among identical lines>; running the file again applies no line "
        "twice, and a refused line fixed in place applies alone."
    )
    if tally.retried:
        say(f"{tally.retried:,} line(s) refused earlier were sent again under retry keys (<key>-r1, -r2, ...).")
    if tally.refused_earlier:
        say(
            f"{tally.refused_earlier:,} of the refused lines were refused earlier with this key: a key refused "
            "stays refused. To send them again under new keys (after a top-up, say), run the same command "
            "with --retry-refused; or fix them in place."
        )
    if refused.count:
        say(f"Refused lines, with their reasons: {refused.path}")
    elif refused.path.exists():
        say(f"No line was refused ({refused.path} is from an earlier run).")
    if stopped:
        say(f"Stopped: {stopped}.")
