"""The hostile-input case of ReverseLedgerEntry (the registry is tests.faults.hostile_cases).

A request valid in every field names a real entry put in place just before it is sent: a debit of
the customer (its refund may apply, or ask for more than is left), a credit of another customer
(not found for this one), or an id no entry has. An OK answer is a refund linked to its debit,
never more than the debit in all.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import grpc
from hypothesis import strategies as st

from tests.faults.hostile import (
    AMOUNT_MAX,
    ANY,
    ANY_TEXT,
    CUSTOMER_ID,
    INT64_MAX,
    INT64_MIN,
    INVALID,
    METADATA,
    OK,
    REFUSED,
    VALID,
    Attempt,
    Drawn,
    Outcome,
    RpcCase,
    draw_fields,
    int_edges,
    reaching,
    text_rule,
    values_of,
    verdicts_of,
)
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

ENTRY_ID_LENGTH_MAX = 64
TARGET_ID = "<target>"
DEBITED = 1_000  # each target debit's amount (of a wallet credited with it first)
OWN, FOREIGN, UNKNOWN = "own", "foreign", "unknown"
_FRESH = itertools.count(1)

NOT_FOUND: Outcome = (grpc.StatusCode.NOT_FOUND, "ENTRY_NOT_FOUND")
EXCEEDS: Outcome = (grpc.StatusCode.FAILED_PRECONDITION, "REVERSAL_EXCEEDS_ENTRY")
KEY_REUSED: Outcome = (grpc.StatusCode.ALREADY_EXISTS, "IDEMPOTENCY_KEY_REUSED")

ENTRY_ID = {
    VALID: st.just(TARGET_ID),
    INVALID: st.one_of(st.just(""), st.text(min_size=ENTRY_ID_LENGTH_MAX + 1, max_size=300)),
    ANY: ANY_TEXT,
}
# 0 asks for all that is left; small amounts often, so that some refunds apply.
REVERSAL_AMOUNT = {
    VALID: st.one_of(int_edges(0, DEBITED), int_edges(0, AMOUNT_MAX)),
    INVALID: st.one_of(int_edges(INT64_MIN, -1), int_edges(AMOUNT_MAX + 1, INT64_MAX)),
}


def _place(stub: wallet_pb2_grpc.WalletServiceStub, message: Any, target: str, unknown_id: str) -> None:
    """Writes the target entry's id into the request: a debit made now, another customer's credit, or none."""
    if message.entry_id != TARGET_ID:
        return
    if target == UNKNOWN:
        message.entry_id = unknown_id
        return
    if target == OWN:
        # A customer of its own: the keys other cases (and runs) used for a drawn customer would make most
        # refunds IDEMPOTENCY_KEY_REUSED, and the refund's own outcomes would seldom come up.
        message.customer_id = f"cus_hostile_reversal_{next(_FRESH)}_{uuid.uuid4().hex[:8]}"
    owner = message.customer_id if target == OWN else "cus_hostile_reversals_other"
    credit = wallet_pb2.CreateLedgerEntryRequest(
        customer_id=owner, currency="USD", amount=DEBITED, entry_type=wallet_pb2.ENTRY_TYPE_CREDIT, reason="t"
    )
    made = stub.CreateLedgerEntry(credit, timeout=30).entry
    if target == OWN:
        debit = wallet_pb2.CreateLedgerEntryRequest(
            customer_id=owner, currency="USD", amount=DEBITED, entry_type=wallet_pb2.ENTRY_TYPE_DEBIT, reason="t"
        )
        made = stub.CreateLedgerEntry(debit, timeout=30).entry
    message.entry_id = made.id


def _expected(target: str, amount: int) -> frozenset[Outcome]:
    if target != OWN:
        return frozenset({NOT_FOUND, KEY_REUSED})
    return frozenset({OK, KEY_REUSED} if amount <= DEBITED else {EXCEEDS, KEY_REUSED})


def _reversal_ok(request: Any, responses: list[bytes]) -> None:
    response = wallet_pb2.ReverseLedgerEntryResponse.FromString(responses[0])
    entry, original = response.entry, response.original
    assert entry.reverses_entry_id == original.id == request.entry_id, (entry, original)
    assert entry.entry_type == wallet_pb2.ENTRY_TYPE_CREDIT and original.entry_type == wallet_pb2.ENTRY_TYPE_DEBIT
    assert 0 < entry.amount <= original.reversed_amount <= original.amount, (entry, original)
    assert request.amount in (0, entry.amount), (request.amount, entry.amount)
    assert response.wallet.customer_id == request.customer_id and response.wallet.balance >= 0


def attempts(setup: Any) -> st.SearchStrategy[Attempt]:
    @st.composite
    def draw_attempt(draw: st.DrawFn) -> Attempt:
        target = draw(st.sampled_from([OWN, OWN, OWN, FOREIGN, UNKNOWN]))
        unknown_id = draw(st.text(min_size=1, max_size=ENTRY_ID_LENGTH_MAX).filter(lambda s: "\x00" not in s))
        fields = draw_fields(
            draw,
            {
                "customer_id": CUSTOMER_ID,
                "entry_id": ENTRY_ID,
                "amount": REVERSAL_AMOUNT,
                "reason": text_rule(1_000),
                "idempotency_key": text_rule(255),
                "metadata": METADATA,
            },
        )
        message = wallet_pb2.ReverseLedgerEntryRequest(**values_of(fields, "metadata"))
        message.metadata.update(fields["metadata"][1])
        verdicts = verdicts_of(fields)
        drawn = Drawn(message, verdicts, _expected(target, message.amount))
        # Only a request whose customer is well-formed can have an entry put in place for it.
        prepare = (
            (lambda: _place(setup.stub, message, target, unknown_id)) if verdicts["customer_id"] == VALID else None
        )
        if prepare is None and message.entry_id == TARGET_ID:
            message.entry_id = unknown_id
        return Attempt(drawn, _reversal_ok, prepare)

    return draw_attempt()


CASES = [
    RpcCase(
        "ReverseLedgerEntry",
        "ReverseLedgerEntry",
        wallet_pb2.ReverseLedgerEntryRequest,
        attempts,
        reaching(OK, REFUSED, NOT_FOUND, EXCEEDS),
    ),
]
