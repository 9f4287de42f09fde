"""One step every keyed request takes: a key refused before answers with that refusal, and a new refusal is kept.

`decide_keyed` wraps the rule of a keyed request (an entry, a hold, a
reversal). The refusal it records is taken into the batch's decision and
into the book by the caller, like any other change, so a duplicate later in
the same batch meets it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from server.domain.book import Draft
from server.domain.errors import WalletError
from server.domain.holds import HoldRequest
from server.domain.model import EntryRequest, ReversalRequest
from server.domain.refusals import REPLAYED, answer_again, record, storable

KeyedRequest = EntryRequest | HoldRequest | ReversalRequest
R = TypeVar("R", bound=KeyedRequest)
OutcomeT = TypeVar("OutcomeT")


def decide_keyed(
    request: R, draft: Draft, rule: Callable[[R, Draft], OutcomeT | WalletError]
) -> OutcomeT | WalletError:
    """The rule's outcome, unless the request's key was refused before; records a refusal to store."""
    key = request.idempotency_key
    if key:
        stored = draft.book.refusals_by_key.get(key)
        if stored is not None:
            return answer_again(request, stored)
    outcome = rule(request, draft)
    if key and isinstance(outcome, WalletError) and storable(outcome) and REPLAYED not in outcome.metadata:
        draft.refusal = record(request, outcome, draft.now)
    return outcome
