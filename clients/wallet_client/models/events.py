"""Wallet events as `watch_events` returns them: what changed, the wallet right after, and the event's cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wallet.v1 import wallet_pb2
from wallet_client.models.holds import Hold
from wallet_client.models.ledger import LedgerEntry, ProtoEnum, Wallet, aware


class EventType(ProtoEnum):
    """What a wallet event reports."""

    # A credit, a debit (a capture's included) or an expiration was written; the event's `entry` is set.
    ENTRY_CREATED = "entry_created"
    # A hold changed; the event's `hold` is set, as the change left it.
    HOLD_CREATED = "hold_created"
    HOLD_CAPTURED = "hold_captured"
    HOLD_RELEASED = "hold_released"
    HOLD_EXPIRED = "hold_expired"
    # The available balance crossed the wallet's low-balance threshold; the event's `threshold` is set.
    BALANCE_LOW = "balance_low"
    BALANCE_RECOVERED = "balance_recovered"

    def to_proto(self) -> wallet_pb2.EventType.ValueType:
        return wallet_pb2.EventType.Value(f"EVENT_TYPE_{self.name}")


@dataclass(frozen=True)
class WalletEvent:
    """One change of one wallet, in the order the customer's changes were applied.

    `cursor` is the event's place in the stream of all events: pass it as
    `start_after_cursor` to watch again right after this event. Store it only
    once the event is handled. `wallet` is the wallet right after the change;
    `entry` is set for ENTRY_CREATED, `hold` for HOLD_* and `threshold` (minor
    units) for BALANCE_LOW and BALANCE_RECOVERED; otherwise None and 0.
    """

    cursor: str
    event_type: EventType
    customer_id: str
    currency: str
    # When the change took effect: an entry's created_at, a hold's creation or closing time.
    occurred_at: datetime
    wallet: Wallet
    entry: LedgerEntry | None
    hold: Hold | None
    threshold: int

    @classmethod
    def from_proto(cls, message: wallet_pb2.WalletEvent) -> WalletEvent:
        return cls(
            cursor=message.cursor,
            event_type=EventType.from_proto(message.event_type),
            customer_id=message.customer_id,
            currency=message.currency,
            occurred_at=aware(message.occurred_at),
            wallet=Wallet.from_proto(message.wallet),
            entry=LedgerEntry.from_proto(message.entry) if message.HasField("entry") else None,
            hold=Hold.from_proto(message.hold) if message.HasField("hold") else None,
            threshold=message.threshold,
        )
