"""ReverseLedgerEntry's proto in, a validated `ReversalRequest` out (the shape rules; the ledger decides the rest)."""

from __future__ import annotations

from server.api.parse import check_customer_id, check_metadata, check_text
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.limits import AMOUNT_MAX, ENTRY_ID_LENGTH_MAX, IDEMPOTENCY_KEY_LENGTH_MAX, REASON_LENGTH_MAX
from server.domain.model import ReversalRequest
from wallet.v1 import wallet_pb2


def reversal_request(request: wallet_pb2.ReverseLedgerEntryRequest, created_by: str = "") -> ReversalRequest:
    """The validated request; any well-formed entry id is looked up (NOT_FOUND when it names no entry)."""
    violations: list[FieldViolation] = []
    check_customer_id(request.customer_id, violations)
    if not request.entry_id:
        violations.append(FieldViolation("entry_id", "is required"))
    elif len(request.entry_id) > ENTRY_ID_LENGTH_MAX:
        violations.append(FieldViolation("entry_id", f"must be at most {ENTRY_ID_LENGTH_MAX} characters"))
    elif "\x00" in request.entry_id:
        violations.append(FieldViolation("entry_id", "must not contain NUL characters"))
    if not 0 <= request.amount <= AMOUNT_MAX:
        violations.append(
            FieldViolation("amount", f"must be between 1 and {AMOUNT_MAX} minor units, or 0 for all that is left")
        )
    check_text(request.reason, "reason", REASON_LENGTH_MAX, violations)
    check_text(request.idempotency_key, "idempotency_key", IDEMPOTENCY_KEY_LENGTH_MAX, violations)
    check_metadata(request.metadata, violations)
    if violations:
        raise InvalidArgument(violations)
    return ReversalRequest(
        customer_id=request.customer_id,
        entry_id=request.entry_id,
        amount=request.amount,
        reason=request.reason,
        idempotency_key=request.idempotency_key,
        metadata=dict(request.metadata),
        created_by=created_by,
    )
