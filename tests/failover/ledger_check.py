"""The drill's final check: the ledger against what the writers were told, and the watcher against the ledger."""

from __future__ import annotations

from collections import Counter, defaultdict

import grpc
import psycopg

from tests.failover.writers import CURRENCY, Kind, Outcome
from tests.model.contract import ContractModel
from tests.model.records import EntryCall, HoldCall
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

# A write's final answer is its acknowledgement or a refusal the caller can act on; never "unknown".
REFUSALS = frozenset({grpc.StatusCode.FAILED_PRECONDITION})


def check_outcomes_against_ledger(outcomes: list[Outcome], url: str) -> Counter[str]:
    """Every acknowledged write is in the ledger exactly once, as acknowledged; no refused write left anything."""
    unanswered = [(o.op, o.failures[-3:]) for o in outcomes if o.code != grpc.StatusCode.OK and o.code not in REFUSALS]
    assert not unanswered, f"writes without a clean final answer: {unanswered[:5]}"
    with psycopg.connect(url) as conn:
        entries = conn.execute(
            "SELECT idempotency_key, id, customer_id, entry_type, amount, hold_id FROM ledger_entries"
        ).fetchall()
        holds = conn.execute("SELECT idempotency_key, id, customer_id, amount FROM holds").fetchall()
    entries_by_key: dict[str, list[tuple[str, str, str, int]]] = defaultdict(list)
    captures_by_hold: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for key, entry_id, customer, entry_type, amount, hold_id in entries:
        if key is not None:
            entries_by_key[key].append((entry_id, customer, entry_type, amount))
        if hold_id is not None:
            captures_by_hold[hold_id].append((entry_id, amount))
    holds_by_key: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for key, hold_id, customer, amount in holds:
        holds_by_key[key].append((hold_id, customer, amount))
    asked = {o.op.key for o in outcomes if o.op.key}
    strangers = sorted((set(entries_by_key) | set(holds_by_key)) - asked)
    assert not strangers, f"writes nobody asked for: {strangers[:10]}"
    captured = {o.op.hold_id for o in outcomes if o.op.kind is Kind.CAPTURE and o.code == grpc.StatusCode.OK}
    assert set(captures_by_hold) <= captured, f"captures nobody was told of: {sorted(set(captures_by_hold) - captured)}"
    tally: Counter[str] = Counter()
    found: list[tuple[object, ...]]
    expected: list[tuple[object, ...]]
    for outcome in outcomes:
        op, acked = outcome.op, outcome.code == grpc.StatusCode.OK
        tally[f"{op.kind.value} {'acknowledged' if acked else outcome.reason}"] += 1
        tally["replayed"] += outcome.replayed
        if op.kind in (Kind.CREDIT, Kind.DEBIT, Kind.REFUND):
            found = list(entries_by_key.get(op.key, []))
            entry_type = "credit" if op.kind is Kind.REFUND else op.kind.value  # a refund is a credit
            expected = [(outcome.entry_id, op.customer_id, entry_type, op.amount)] if acked else []
        elif op.kind is Kind.HOLD:
            found = list(holds_by_key.get(op.key, []))
            expected = [(outcome.hold_id, op.customer_id, op.amount)] if acked else []
        else:
            found = list(captures_by_hold.get(op.hold_id, []))
            # Each hold is captured once at most, by its writer: a refused capture leaves the hold uncaptured.
            expected = [(outcome.entry_id, op.amount)] if acked else []
        assert found == expected, f"{op} was told {outcome.code} {outcome.reason}; the ledger holds {found}"
    return tally


def check_watched_events(events: list[wallet_pb2.WalletEvent], url: str) -> None:
    """The watcher got every stored event exactly once, each customer's in the order they were applied."""
    names = {value: name.removeprefix("EVENT_TYPE_").lower() for name, value in wallet_pb2.EventType.items()}
    seen: dict[str, list[tuple[str, str | None, str | None]]] = defaultdict(list)
    for event in events:
        seen[event.customer_id].append((names[event.event_type], event.entry.id or None, event.hold.id or None))
    stored: dict[str, list[tuple[str, str | None, str | None]]] = defaultdict(list)
    with psycopg.connect(url) as conn:
        for customer, kind, entry_id, hold_id in conn.execute(
            "SELECT customer_id, event_type, entry_id, hold_id FROM wallet_events ORDER BY customer_id, seq"
        ):
            stored[customer].append((kind, entry_id, hold_id))
    assert len(events) == sum(len(v) for v in stored.values()), (len(events), sum(len(v) for v in stored.values()))
    wrong = [customer for customer in stored if seen.get(customer) != stored[customer]]
    assert not wrong, f"customers whose events the watcher got wrong: {wrong[:5]}"


def check_balances_with_model(outcomes: list[Outcome], customers: list[str], address: str) -> None:
    """Every balance and held amount the service shows is what the contract's model makes of the acknowledged writes.

    Writes of one customer commute in their effect on the totals, so the
    acknowledged ones are fed to `ContractModel` in the order they were
    answered; the holds short enough to have lapsed by now are expired.
    """
    model = ContractModel()
    for outcome in sorted(outcomes, key=lambda o: o.answered_at):
        op = outcome.op
        # One outcome per write: a replay is the acknowledgement of a write first applied unanswered.
        if outcome.code != grpc.StatusCode.OK:
            continue
        if op.kind in (Kind.CREDIT, Kind.DEBIT, Kind.REFUND):
            kind = "credit" if op.kind is Kind.REFUND else op.kind.value
            model.record_entry(EntryCall(op.customer_id, kind, op.amount, op.key), outcome.entry_id)
        elif op.kind is Kind.HOLD:
            model.record_hold(HoldCall(op.customer_id, op.amount, op.key, op.ttl_s), outcome.hold_id, 0.0, 0.0)
        else:
            model.record_capture(op.hold_id, op.amount, outcome.entry_id)
    # Times counted from each hold's creation: the short ones (seconds) lapsed long ago, the long ones stand.
    model.settle(now=60.0)
    with grpc.insecure_channel(address) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        for customer in customers:
            response = stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer), timeout=30)
            wallet = next(w for w in response.wallets if w.currency == CURRENCY)
            expected = model.wallet(customer)
            assert (wallet.balance, wallet.held_balance) == (expected.balance, expected.held), (customer, wallet)
