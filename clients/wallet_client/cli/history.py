"""`wallet history`: a table on the terminal, or a streamed JSONL/CSV export that can be resumed."""

from __future__ import annotations

import dataclasses
import enum
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import typer
from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from wallet_client.cli import display, export, layouts
from wallet_client.errors import WalletError
from wallet_client.models import LedgerEntry
from wallet_client.requests import HistoryFilter
from wallet_client.sync_client import WalletClient

# Entries between two flushes of an export file: an interruption loses at most the unflushed ones.
FLUSH_EVERY = 1_000


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class RateColumn(ProgressColumn):
    """Entries per second, averaged by rich over the last seconds."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} entries/s" if speed else "- entries/s", style="progress.data.speed")


def _choose_format(fmt: OutputFormat | None, output: Path | None) -> OutputFormat:
    if fmt is None:
        if output is None:
            return OutputFormat.table
        return OutputFormat.csv if output.suffix.lower() == ".csv" else OutputFormat.jsonl
    if fmt in (OutputFormat.table, OutputFormat.json) and output is not None:
        raise typer.BadParameter(
            f"{fmt.value} is for standard output; export to a file as jsonl or csv (resumable)", param_hint="--format"
        )
    return fmt


def _entries(client: WalletClient, query: HistoryFilter) -> Iterator[LedgerEntry]:
    fields = {f.name: getattr(query, f.name) for f in dataclasses.fields(query)}
    return client.iter_entries(**fields)


def run_history(
    client: WalletClient,
    query: HistoryFilter,
    fmt: OutputFormat | None,
    output: Path | None,
    *,
    resume: bool,
    overwrite: bool,
    exponents: dict[str, int],
) -> int:
    """Runs the command; returns its exit code (WalletErrors are explained by the caller)."""
    chosen = _choose_format(fmt, output)
    if resume and output is None:
        raise typer.BadParameter("--resume continues an export: give its --output FILE", param_hint="--resume")
    if chosen is OutputFormat.table:
        exponents.update({w.currency: w.minor_unit_exponent for w in client.get_balances(query.customer_id)})
        layouts.print_tables(
            _entries(client, query),
            layouts.history_layouts(exponents),
            f"History of {query.customer_id}",
            f"No entries for {query.customer_id}.",
        )
        return display.EXIT_OK
    if output is None:
        try:
            if chosen is OutputFormat.json:
                _write_array(_entries(client, query))
                return display.EXIT_OK
            sys.stdout.write(export.header(chosen.value))
            LineWriter(sys.stdout, chosen.value).write_all(_entries(client, query), None)
        except KeyboardInterrupt:
            return display.EXIT_INTERRUPTED
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, and keep Python from
            # complaining when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return display.EXIT_OK
    return _export(client, query, chosen.value, output, resume=resume, overwrite=overwrite)


def _write_array(entries: Iterator[LedgerEntry]) -> None:
    """One JSON array, written element by element as the entries arrive (constant memory)."""
    separator = "[\n"
    for entry in entries:
        sys.stdout.write(separator + export.line("jsonl", entry).rstrip("\n"))
        separator = ",\n"
    sys.stdout.write("[]\n" if separator == "[\n" else "\n]\n")
    sys.stdout.flush()


def _open_export(
    output: Path, fmt: str, query: HistoryFilter, *, resume: bool, overwrite: bool
) -> tuple[TextIO, HistoryFilter, int]:
    """Opens FILE to append to; returns it, the query that continues it, and the entries already in it."""
    if not resume:
        if output.exists() and not overwrite:
            raise typer.BadParameter(
                f"{output} exists: add --resume to continue it, or --overwrite to replace it",
                param_hint="--output",
            )
        file = output.open("w", encoding="utf-8", newline="")
        file.write(export.header(fmt))
        return file, query, 0
    try:
        point = export.find_resume_point(output, fmt)
    except export.ExportFileError as error:
        raise typer.BadParameter(f"{error}; cannot resume it", param_hint="--resume") from error
    if point.last_id is not None and query.start_after_id is not None:
        raise typer.BadParameter("--after-id cannot be combined with --resume", param_hint="--after-id")
    if output.exists():
        # Drop a line torn by the interruption; append after the last complete entry.
        os.truncate(output, point.keep_bytes)
    file = output.open("a", encoding="utf-8", newline="")
    if not point.has_header:
        file.write(export.header(fmt))
    if point.last_id is None:
        return file, query, 0
    # None when a --limit is already reached: an empty limit-1 query after the last id would be wrong.
    continued = query.after(point.last_id, point.entries)
    return file, continued or dataclasses.replace(query, start_after_id=point.last_id, limit=0), point.entries


def _export(
    client: WalletClient, query: HistoryFilter, fmt: str, output: Path, *, resume: bool, overwrite: bool
) -> int:
    err = Console(stderr=True, soft_wrap=True)
    try:
        file, query, already = _open_export(output, fmt, query, resume=resume, overwrite=overwrite)
    except OSError as error:
        err.print(f"Cannot write {output}: {error.strerror or error}", highlight=False)
        return display.EXIT_ERROR
    if query.limit is not None and already and query.limit <= 0:
        file.close()
        err.print(f"{output} already holds {already:,} entries; nothing to add.", highlight=False)
        return display.EXIT_OK
    writer = LineWriter(file, fmt)
    with file:
        try:
            if err.is_terminal:
                with _progress(err) as progress:
                    writer.write_all(_entries(client, query), progress)
            else:
                writer.write_all(_entries(client, query), None)
        except WalletError:
            err.print(
                f"Export stopped after {writer.written:,} new entries in {output}; "
                "run the same command with --resume to continue it.",
                highlight=False,
            )
            raise
        except KeyboardInterrupt:
            err.print(
                f"Interrupted after {writer.written:,} new entries; run the same command with --resume to continue.",
                highlight=False,
            )
            return display.EXIT_INTERRUPTED
    resumed = f" (resumed after {already:,} already there)" if already else ""
    err.print(f"Wrote {writer.written:,} entries to {output}{resumed}.", highlight=False)
    return display.EXIT_OK


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("Exporting"),
        TextColumn("{task.completed:,} entries"),
        RateColumn(),
        TimeElapsedColumn(),
        console=console,
    )


class LineWriter:
    """Writes each entry as it arrives, flushing regularly, so memory stays constant and a crash loses little.

    Whatever stops the stream (an error, Ctrl-C), what was written is flushed
    first, so that a later --resume continues exactly after it.
    """

    def __init__(self, out: TextIO, fmt: str) -> None:
        self.out = out
        self.fmt = fmt
        self.written = 0

    def write_all(self, entries: Iterator[LedgerEntry], progress: Progress | None) -> None:
        task = progress.add_task("export", total=None) if progress is not None else None
        try:
            for entry in entries:
                self.out.write(export.line(self.fmt, entry))
                self.written += 1
                if self.written % FLUSH_EVERY == 0:
                    self.out.flush()
                if progress is not None and task is not None:
                    progress.update(task, completed=self.written)
        finally:
            self.out.flush()
