"""Refusals that stay refused: a keyed request's refusal, stored under its key and replayed to its retries.

A caller that was told "insufficient funds" may have charged a card instead;
if a retry of the same request (a retry layer, a replayed queue message)
applied after a top-up, the customer would pay twice. So a keyed request
refused for a reason of its own (FAILED_PRECONDITION or NOT_FOUND) keeps
that outcome: the refusal is written under its key in the same transaction
that decided it, and a retry with the same fields gets it again, marked
`replayed`, whatever changed meanwhile. Malformed requests and failures of
the moment (timeouts, an unreachable database) are never stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.domain.errors import ERRORS_BY_REASON, STORED_REFUSAL_CODES, IdempotencyKeyReused, WalletError
from server.domain.holds import HoldRequest
from server.domain.model import EntryRequest, ReversalRequest

# What a refusal's replay adds to the original ErrorInfo metadata.
REPLAYED = "replayed"


@dataclass(frozen=True)
class StoredRefusal:
    """A refusal as stored under its key: enough to give a retry the very same status."""

    customer_id: str
    idempotency_key: str
    # Tells a retry with the same fields from a reuse of the key with others.
    fingerprint: str
    reason: str
    message: str
    metadata: Mapping[str, str]
    created_at: datetime

    def replay(self) -> WalletError:
        """The original refusal again, as the class that made it, with `replayed` in its metadata."""
        error_class = ERRORS_BY_REASON[self.reason]
        error = error_class.__new__(error_class)
        WalletError.__init__(error, self.message, {**self.metadata, REPLAYED: "true"})
        return error


def fingerprint(request: object) -> str:
    """A digest of the fields a retry must repeat: the request's kind and its parameters.

    The customer and key locate the refusal and the caller (`created_by`) is
    not a parameter, as for applied requests (`same_parameters_as`).
    """
    fields = {
        name: value
        for name, value in vars(request).items()
        if name not in ("customer_id", "idempotency_key", "created_by")
    }
    text = json.dumps([type(request).__name__, fields], sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return dict(value)
    return getattr(value, "value", str(value))  # enums by value


def storable(error: WalletError) -> bool:
    return error.code in STORED_REFUSAL_CODES


def record(request: EntryRequest | ReversalRequest | HoldRequest, error: WalletError, now: datetime) -> StoredRefusal:
    """The refusal to store for a keyed request refused with `error` (before any batch index is added)."""
    return StoredRefusal(
        request.customer_id,
        request.idempotency_key,
        fingerprint(request),
        error.reason,
        error.message,
        dict(error.metadata),
        now,
    )


def answer_again(request: object, stored: StoredRefusal) -> WalletError:
    """What a request whose key was refused before gets: the replay, or a key reused with other fields."""
    if fingerprint(request) == stored.fingerprint:
        return stored.replay()
    return IdempotencyKeyReused(idempotency_key=stored.idempotency_key, refused_reason=stored.reason)
