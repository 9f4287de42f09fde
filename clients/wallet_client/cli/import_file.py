"""The files `wallet import` reads: one CreateLedgerEntryRequest per JSONL line or CSV record.

A JSONL line is the request in protobuf's JSON mapping (what grpcurl takes;
amounts in minor units, written with the digits 0-9 only). A CSV file has a
header naming the same fields, with `metadata` as a JSON object.
`entry_type` may also be written `credit` or `debit`.

A line without an `idempotency_key` gets one derived from three things
only: the key namespace (the file's name unless given), the line's own
content (its request, however it is spelled: field order, spacing, `credit`
or `ENTRY_TYPE_CREDIT`, `150` or `"150"`), and its occurrence among the lines
of identical content before it. So running a file again applies nothing;
a refused line fixed in place gets a new key and applies alone; inserting or
deleting other lines changes no other key; two identical lines are two
entries; the same line in files of other names is another entry.

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
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from google.protobuf import json_format

from wallet.v1 import wallet_pb2

FORMATS = ("jsonl", "csv")
REFUSAL_FIELD = "refusal"
_SHORT_TYPES = {"credit": "ENTRY_TYPE_CREDIT", "debit": "ENTRY_TYPE_DEBIT"}
# Minor units as a JSON string or CSV cell: the digits 0-9 only (int64 has 19).
_MINOR_UNITS = re.compile(r"[0-9]{1,19}")
# Version of the key derivation, hashed into every derived key.
_KEY_SCHEME = b"wallet-import-key-v2"
KEY_PREFIX = "import-"


@dataclass(frozen=True)
class Line:
    """One line of the file: its number (1 for the first entry), its text, and its request or why it has none.

    `derived` is true when the request's idempotency key was derived by the
    importer (the line had none), false when the line gave its own.
    """

    number: int
    text: str
    request: wallet_pb2.CreateLedgerEntryRequest | None
    problem: str = ""
    derived: bool = False


def file_format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{path.name}: the file must end in .jsonl or .csv")
    return fmt


def content_digest(namespace: str, request: wallet_pb2.CreateLedgerEntryRequest) -> bytes:
    """SHA-256 of the namespace and the request's canonical JSON (sorted keys; the idempotency key left out)."""
    fields = json_format.MessageToDict(request, preserving_proto_field_name=True)
    fields.pop("idempotency_key", None)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(b"\0".join([_KEY_SCHEME, namespace.encode(), canonical.encode()])).digest()


def derived_key(content: bytes, occurrence: int) -> str:
    """The key of the `occurrence`-th line (1, 2, ...) of this content: `import-` and 40 hex digits."""
    return KEY_PREFIX + hashlib.sha256(content + b"\0" + str(occurrence).encode()).hexdigest()[:40]


def count_lines(path: Path) -> int:
    """How many entries the file holds (for the progress bar)."""
    return sum(1 for _ in read_lines(path, ""))


def read_lines(path: Path, namespace: str) -> Iterator[Line]:
    """Every entry of the file in order, keyed (derived keys in `namespace`), or with the reason it cannot be read.

    Remembers 16 bytes per distinct line content, to number identical lines.
    """
    fmt = file_format(path)
    seen: Counter[bytes] = Counter()
    with path.open(encoding="utf-8", newline="") as text:
        records = _jsonl_records(text) if fmt == "jsonl" else _csv_records(text)
        for number, (raw, fields) in enumerate(records, start=1):
            line = _line(number, raw, fields)
            if line.request is not None and not line.request.idempotency_key:
                content = content_digest(namespace, line.request)
                seen[content[:16]] += 1
                line.request.idempotency_key = derived_key(content, seen[content[:16]])
                line = Line(number, raw, line.request, derived=True)
            yield line


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


def _line(number: int, raw: str, fields: dict[str, Any] | str) -> Line:
    if isinstance(fields, str):
        return Line(number, raw, None, fields)
    fields = {k: v for k, v in fields.items() if k != REFUSAL_FIELD}
    if problem := _amount_problem(fields.get("amount")):
        return Line(number, raw, None, problem)
    entry_type = fields.get("entry_type")
    if isinstance(entry_type, str):
        fields["entry_type"] = _SHORT_TYPES.get(entry_type.lower(), entry_type)
    request = wallet_pb2.CreateLedgerEntryRequest()
    try:
        json_format.ParseDict(fields, request)
    except json_format.ParseError as error:
        return Line(number, raw, None, str(error))
    return Line(number, raw, request)


def _amount_problem(amount: object) -> str:
    """Why `amount` is not whole minor units as written (protobuf would read `"1e3"`, `150.0`, `"١٥"`, `"+5"`)."""
    if amount is None:
        return ""  # the server says that an amount is missing
    if isinstance(amount, int) and not isinstance(amount, bool):
        written = str(amount)
    elif isinstance(amount, str):
        written = amount
    else:
        written = json.dumps(amount)
    if _MINOR_UNITS.fullmatch(written):
        return ""
    if written.startswith("-"):
        return f"amount {written}: amounts are positive minor units (a debit takes money away)"
    return f"amount {written}: not a whole number of minor units written with the digits 0-9, e.g. 150 for $1.50"


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
