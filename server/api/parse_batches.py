"""BatchCreateLedgerEntries requests to an `EntryBatch`, with each malformed request named.

Each request is checked exactly as `parse.entry_request` checks a single
CreateLedgerEntry. In a non-atomic batch a malformed request is its own
result and the others go on; in an atomic one it fails the call, every bad
field named with its position (`requests[3].amount`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from server.api.parse import entry_request
from server.config import Settings
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.limits import BATCH_ENTRIES_MAX
from server.domain.model import EntryRequest
from wallet.v1 import wallet_pb2


def batch_requests(
    request: wallet_pb2.BatchCreateLedgerEntriesRequest,
    settings: Settings,
    created_by: str = "",
    now: datetime | None = None,
) -> list[EntryRequest | InvalidArgument]:
    """Each request validated, in order, or the InvalidArgument that refuses it (non-atomic batches only).

    Raises InvalidArgument for a batch of the wrong size, and for an atomic
    batch with any malformed request.
    """
    if not 1 <= len(request.requests) <= BATCH_ENTRIES_MAX:
        raise InvalidArgument([FieldViolation("requests", f"must hold 1 to {BATCH_ENTRIES_MAX} requests")])
    now = now or datetime.now(UTC)
    parsed: list[EntryRequest | InvalidArgument] = []
    violations: list[FieldViolation] = []
    for index, message in enumerate(request.requests):
        try:
            parsed.append(entry_request(message, settings, created_by, now))
        except InvalidArgument as malformed:
            parsed.append(malformed)
            violations.extend(
                FieldViolation(f"requests[{index}].{v.field}", v.description) for v in malformed.violations
            )
    if request.atomic and violations:
        raise InvalidArgument(violations)
    return parsed
