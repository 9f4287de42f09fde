"""The rows a write batch decided, as the JSON documents the write statement reads (`server.store.writes`).

One document per part of the statement, each a list of objects keyed by
column name (`writes.COLUMNS_OF` names them; tests/unit/test_write_documents.py
holds the two equal). Dict displays rather than a loop over the column
names: this runs for every row written, and a display is the fastest way
Python has to build one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server.domain.decide import BatchDecision
from server.store.rows import isoformat

_MILLISECOND = timedelta(milliseconds=1)


def documents_of(decision: BatchDecision) -> dict[str, list[dict[str, Any]]]:
    return {
        "entries": [
            {
                "id": e.id,
                "customer_id": e.customer_id,
                "seq": e.seq,
                "currency": e.currency,
                "entry_type": e.entry_type.value,
                "amount": e.amount,
                "before_balance": e.before_balance,
                "after_balance": e.after_balance,
                "reason": e.reason,
                "idempotency_key": e.idempotency_key or None,
                "metadata": e.metadata,
                "created_at": e.created_at.isoformat(),
                "created_by": e.created_by,
                "expire_time": isoformat(e.expire_time),
                "hold_id": e.hold_id or None,
                "expired_entry_id": e.expired_entry_id or None,
                "wallet_version": e.wallet_version,
                "wallet_held": e.wallet_held,
                "reverses_entry_id": e.reverses_entry_id or None,
            }
            for e in decision.entries
        ],
        "wallets": [
            {
                "customer_id": w.customer_id,
                "currency": w.currency,
                "balance": w.balance,
                "created_at": isoformat(w.created_at),
                "updated_at": isoformat(w.updated_at or w.created_at),
                "held_balance": w.held_balance,
                "version": w.version,
                "low_balance_threshold": w.low_balance_threshold,
            }
            for _, w in sorted(decision.wallets.items())
        ],
        "heads": [
            {
                "customer_id": h.customer_id,
                "last_seq": h.last_seq,
                "last_entry_at": isoformat(h.last_entry_at),
                "last_event_seq": h.last_event_seq,
            }
            for _, h in sorted(decision.heads.items())
        ],
        "lots": [
            {
                "customer_id": lot.customer_id,
                "credit_seq": lot.credit_seq,
                "currency": lot.currency,
                "credit_id": lot.credit_id,
                "expire_time": lot.expire_time.isoformat(),
                "amount": lot.amount,
                "remaining": lot.remaining,
                "held": lot.held,
            }
            for _, lot in sorted(decision.lots.items())
        ],
        "events": [
            {
                "customer_id": v.customer_id,
                "seq": v.seq,
                "event_type": v.event_type.value,
                "currency": v.currency,
                "occurred_at": v.occurred_at.isoformat(),
                "entry_id": v.entry.id if v.entry is not None else None,
                "hold_id": v.hold.id if v.hold is not None else None,
                "threshold": v.threshold,
                "wallet_balance": v.wallet.balance,
                "wallet_held": v.wallet.held_balance,
                "wallet_version": v.wallet.version,
                "wallet_threshold": v.wallet.low_balance_threshold,
                "wallet_created_at": isoformat(v.wallet.created_at),
                "wallet_updated_at": isoformat(v.wallet.updated_at),
            }
            for v in decision.events
        ],
        "draws": [
            {"customer_id": d.customer_id, "entry_seq": d.entry_seq, "credit_seq": d.credit_seq, "amount": d.amount}
            for d in decision.draws
        ],
        "returns": [
            {"customer_id": r.customer_id, "entry_seq": r.entry_seq, "credit_seq": r.credit_seq, "amount": r.amount}
            for r in decision.returns
        ],
        "refusals": [
            {
                "customer_id": f.customer_id,
                "idempotency_key": f.idempotency_key,
                "fingerprint": f.fingerprint,
                "reason": f.reason,
                "message": f.message,
                "metadata": dict(f.metadata),
                "created_at": f.created_at.isoformat(),
            }
            for f in decision.refusals
        ],
        "holds": [
            {
                "customer_id": h.customer_id,
                "id": h.id,
                "currency": h.currency,
                "amount": h.amount,
                "status": h.status.value,
                "captured_amount": h.captured_amount,
                "capture_entry_id": h.capture_entry_id or None,
                "reason": h.reason,
                "idempotency_key": h.idempotency_key or None,
                "metadata": dict(h.metadata),
                "created_at": h.created_at.isoformat(),
                "expire_time": h.expire_time.isoformat(),
                "closed_at": isoformat(h.closed_at),
                "created_by": h.created_by,
                "ttl_ms": h.ttl // _MILLISECOND,
                "reservations": [list(part) for part in h.reservations],
                "created_version": h.created_version,
                "closed_version": h.closed_version,
            }
            for _, h in sorted(decision.holds.items())
        ],
    }
