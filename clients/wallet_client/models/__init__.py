"""What the client returns: frozen dataclasses with `int` minor units and timezone-aware datetimes.

Callers never see the generated protobuf messages, so the values can be
compared, logged and passed around without knowing about protobuf.
"""

from wallet_client.models.events import EventType, WalletEvent
from wallet_client.models.holds import CaptureResult, Hold, HoldPage, HoldResult, HoldStatus
from wallet_client.models.ledger import Balances, EntryResult, EntryType, LedgerEntry, ReversalResult, Wallet
from wallet_client.models.reports import LedgerSummary, MetadataBreakdown, Period, SummaryBucket

__all__ = [
    "Balances",
    "CaptureResult",
    "EntryResult",
    "EntryType",
    "EventType",
    "Hold",
    "HoldPage",
    "HoldResult",
    "HoldStatus",
    "LedgerEntry",
    "LedgerSummary",
    "MetadataBreakdown",
    "Period",
    "ReversalResult",
    "SummaryBucket",
    "Wallet",
    "WalletEvent",
]
