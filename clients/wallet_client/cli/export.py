"""History export files: one line (JSONL) or one record (CSV) per entry, written as entries arrive,
and the resume point of an interrupted export read back from the file itself.

The format of a line is fixed (field order, separators, UTC times with
microseconds) so that an export interrupted and resumed is byte for byte the
file an uninterrupted export would have written.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from wallet_client.models import LedgerEntry

FIELDS = (
    "id",
    "created_at",
    "customer_id",
    "currency",
    "entry_type",
    "amount",
    "before_balance",
    "after_balance",
    "reason",
    "idempotency_key",
    "created_by",
    "metadata",
    "expire_time",
    "hold_id",
    "expired_entry_id",
    "reverses_entry_id",
    "reversed_amount",
)
FORMATS = ("jsonl", "csv")


class ExportFileError(Exception):
    """The file to resume is not an export this command wrote (or is in the other format)."""


def entry_record(entry: LedgerEntry) -> dict[str, Any]:
    """The exported fields of an entry, in FIELDS order; amounts stay integers of minor units."""
    return {
        "id": entry.id,
        "created_at": _utc(entry.created_at),
        "customer_id": entry.customer_id,
        "currency": entry.currency,
        "entry_type": entry.entry_type.value,
        "amount": entry.amount,
        "before_balance": entry.before_balance,
        "after_balance": entry.after_balance,
        "reason": entry.reason,
        "idempotency_key": entry.idempotency_key,
        "created_by": entry.created_by,
        "metadata": dict(sorted(entry.metadata.items())),
        "expire_time": _utc(entry.expire_time) if entry.expire_time else None,
        "hold_id": entry.hold_id,
        "expired_entry_id": entry.expired_entry_id,
        "reverses_entry_id": entry.reverses_entry_id,
        "reversed_amount": entry.reversed_amount,
    }


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _metadata_json(metadata: dict[str, str]) -> str:
    return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def header(fmt: str) -> str:
    """What starts a new file: the CSV header line, nothing for JSONL."""
    return _csv_line(FIELDS) if fmt == "csv" else ""


def line(fmt: str, entry: LedgerEntry) -> str:
    """One entry as a complete line (or CSV record), ending with a newline."""
    record = entry_record(entry)
    if fmt == "jsonl":
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    record["metadata"] = _metadata_json(record["metadata"])
    return _csv_line("" if record[name] is None else str(record[name]) for name in FIELDS)


def _csv_line(values: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


@dataclass(frozen=True)
class ResumePoint:
    """Where an existing export stops: its last complete entry, and the bytes to keep."""

    last_id: str | None
    entries: int
    # Everything past this offset is a torn last line (the export was killed mid-write).
    keep_bytes: int
    has_header: bool


def _complete_records(file: BinaryIO, fmt: str) -> Iterable[tuple[bytes, int]]:
    """Each complete record with the offset just past it; one record in memory at a time.

    A CSV record may span lines (a reason with a newline is quoted): it ends at
    a newline outside quotes, i.e. once its count of '"' is even, since quotes
    inside a field are doubled.
    """
    offset = 0
    record = b""
    for raw_line in file:
        offset += len(raw_line)
        if not raw_line.endswith(b"\n"):
            return
        record += raw_line
        if fmt == "csv" and record.count(b'"') % 2:
            continue
        yield record, offset
        record = b""


def find_resume_point(path: Path, fmt: str) -> ResumePoint:
    """Reads an export once, front to back in constant memory, and says where to continue it."""
    if not path.exists():
        return ResumePoint(None, 0, 0, has_header=False)
    expected_header = header(fmt).encode()
    last: bytes | None = None
    entries, keep, has_header = 0, 0, False
    with path.open("rb") as file:
        for record, end in _complete_records(file, fmt):
            if fmt == "csv" and not has_header:
                if record != expected_header:
                    raise ExportFileError(f"{path} does not start with the CSV header of a history export")
                has_header, keep = True, end
                continue
            last, keep, entries = record, end, entries + 1
    if last is None:
        return ResumePoint(None, 0, keep, has_header)
    return ResumePoint(_record_id(last, fmt, path), entries, keep, has_header)


def _record_id(record: bytes, fmt: str, path: Path) -> str:
    text = record.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)["id"] if fmt == "jsonl" else next(csv.reader(io.StringIO(text)))[0]
    except (ValueError, KeyError, TypeError, IndexError, StopIteration) as error:
        raise ExportFileError(f"the last line of {path} is not a {fmt.upper()} history entry") from error
    if not isinstance(value, str) or not value:
        raise ExportFileError(f"the last line of {path} has no entry id")
    return value
