"""ReverseLedgerEntry, described once for both clients (see `wallet_client.calls`).

A reversal is a write keyed like an entry (the same key space): a refund of
a debit or a reclaim of a credit, never more than what is left of it. It is
retried with its key, so a retry replays rather than reversing twice.
"""

from __future__ import annotations

from collections.abc import Mapping

from wallet_client.calls import UnaryCall
from wallet_client.models import ReversalResult
from wallet_client.requests import new_idempotency_key, reversal_request
from wallet_client.retry import WRITE_RETRY_CODES


def reverse(
    customer_id: str,
    entry_id: str,
    amount: int = 0,
    *,
    reason: str = "",
    idempotency_key: str | None = None,
    metadata: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> UnaryCall[ReversalResult]:
    """Refunds a debit or reclaims a credit: `amount` minor units, or 0 for everything reversible now.

    ReversalExceedsEntry (with `.reversible`) when more is asked than is left,
    EntryNotReversible for an expiration or a reversal, EntryNotFound for an
    id that is not one of the customer's entries. Safe to call again with the
    same `idempotency_key`: the reversal is made once.
    """
    key = idempotency_key or new_idempotency_key()
    request = reversal_request(customer_id, entry_id, amount, reason, key, metadata)
    return UnaryCall("ReverseLedgerEntry", request, WRITE_RETRY_CODES, ReversalResult.from_proto, timeout_s, key)
