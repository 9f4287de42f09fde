"""The files `wallet import` reads: one CreateLedgerEntryRequest per JSONL line or CSV record.

A JSONL line is the request in protobuf's JSON mapping (what grpcurl takes;
amounts in minor units). A CSV file has a header naming the same fields,
with `metadata` as a JSON object. `entry_type` may also be written `credit`
or `debit`. A line without an `idempotency_key` gets one derived from the
file's content and the line's number, so running the same file again
replays what was applied instead of applying it twice.

Refused lines go to a file beside the input (`FILE.refused.jsonl` or
`.csv`), in the input's format with one more field, `refusal`, saying why;
the importer ignores that field, so the refused file can be fixed and
imported in turn (its lines get keys of their own).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from google.protobuf import json_format

from wallet.v1 import wallet_pb2

FORMATS = ("jsonl", "csv")
REFUSAL_FIELD = "refusal"
_SHORT_TYPES = {"credit": "ENTRY_TYPE_CREDIT", "debit": "ENTRY_TYPE_DEBIT"}


@dataclass(frozen=True)
class Line:
    """One line of the file: its number (1 for the first entry), its text, and its request or why it has none."""

    number: int
    text: str
    request: wallet_pb2.CreateLedgerEntryRequest | None
    problem: str = ""


def file_format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{path.name}: the file must end in .jsonl or .csv")
    return fmt


def file_digest(path: Path) -> str:
    """The SHA-256 of the file's bytes, read in chunks (the key of every line without one starts with it)."""
    digest = hashlib.sha256()
    with path.open("rb") as binary:
        for chunk in iter(lambda: binary.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def derived_key(digest: str, number: int) -> str:
    return f"import-{digest[:32]}-{number}"


def count_lines(path: Path) -> int:
    """How many entries the file holds (for the progress bar)."""
    return sum(1 for _ in read_lines(path, ""))


def read_lines(path: Path, digest: str) -> Iterator[Line]:
    """Every entry of the file in order, keyed (`digest` from `file_digest`), or with the reason it cannot be read."""
    fmt = file_format(path)
    with path.open(encoding="utf-8", newline="") as text:
        records = _jsonl_records(text) if fmt == "jsonl" else _csv_records(text)
        for number, (raw, fields) in enumerate(records, start=1):
            yield _line(number, raw, fields, digest)


def _jsonl_records(text: TextIO) -> Iterator[tuple[str, dict[str, Any] | str]]:
    for raw in text:
        if not raw.strip():
            continue
        try:
            fields = json.loads(raw)
        except json.JSONDecodeError as error:
            yield raw, f"not JSON: {error.msg}"
            continue
        yield raw, fields if isinstance(fields, dict) else "not a JSON object"


def _csv_records(text: TextIO) -> Iterator[tuple[str, dict[str, Any] | str]]:
    reader = csv.DictReader(text)
    for row in reader:
        raw = _csv_text(list(reader.fieldnames or []), row)
        fields: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
        if None in row:
            yield raw, "has more cells than the header"
            continue
        if "metadata" in fields:
            try:
                fields["metadata"] = json.loads(fields["metadata"])
            except json.JSONDecodeError:
                yield raw, "metadata is not a JSON object"
                continue
        yield raw, fields


def _csv_text(header: list[str], row: dict[str, Any]) -> str:
    out = io.StringIO()
    csv.DictWriter(out, fieldnames=header, extrasaction="ignore").writerow(row)
    return out.getvalue()


def _line(number: int, raw: str, fields: dict[str, Any] | str, digest: str) -> Line:
    if isinstance(fields, str):
        return Line(number, raw, None, fields)
    fields = {k: v for k, v in fields.items() if k != REFUSAL_FIELD}
    entry_type = fields.get("entry_type")
    if isinstance(entry_type, str):
        fields["entry_type"] = _SHORT_TYPES.get(entry_type.lower(), entry_type)
    request = wallet_pb2.CreateLedgerEntryRequest()
    try:
        json_format.ParseDict(fields, request)
    except json_format.ParseError as error:
        return Line(number, raw, None, str(error))
    if not request.idempotency_key:
        request.idempotency_key = derived_key(digest, number)
    return Line(number, raw, request)


def refused_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.refused{path.suffix}")


class RefusedWriter:
    """Writes refused lines beside the input, in its format, each with its `refusal`; the file is made on first use."""

    def __init__(self, source: Path) -> None:
        self.path = refused_path(source)
        self.fmt = file_format(source)
        self._header = _csv_header(source) if self.fmt == "csv" else []
        self._out: TextIO | None = None
        self.count = 0

    def write(self, line: Line, refusal: str) -> None:
        out = self._open()
        if self.fmt == "jsonl":
            try:
                fields = json.loads(line.text)
            except json.JSONDecodeError:
                fields = {"line_text": line.text.rstrip("\n")}
            fields = fields if isinstance(fields, dict) else {"line_text": line.text.rstrip("\n")}
            out.write(json.dumps({**fields, REFUSAL_FIELD: f"line {line.number}: {refusal}"}, ensure_ascii=False))
            out.write("\n")
        else:
            row = next(csv.reader([line.text]), [])
            csv.writer(out).writerow([*row[: len(self._header)], f"line {line.number}: {refusal}"])
        self.count += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()

    def _open(self) -> TextIO:
        if self._out is None:
            self._out = self.path.open("w", encoding="utf-8", newline="")
            if self.fmt == "csv":
                csv.writer(self._out).writerow([*self._header, REFUSAL_FIELD])
        return self._out


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as text:
        header = next(csv.reader(text), [])
    return [name for name in header if name != REFUSAL_FIELD]
