"""Typed Python client of the customer-wallet gRPC service (wallet.v1.WalletService).

    from wallet_client import WalletClient, InsufficientBalance

    with WalletClient() as wallet:  # WALLET_ADDR, default 127.0.0.1:50051
        wallet.credit("cus_1", 10_000, "USD", reason="Welcome bonus")  # 10000 cents = $100.00
        print(wallet.get_balances("cus_1")["USD"].balance)

Amounts are `int` minor units; see docs/clients.md.
"""

from wallet_client.async_client import AsyncWalletClient
from wallet_client.batch_calls import BatchEntry, BatchEntryResult
from wallet_client.caller_calls import CallerInfo
from wallet_client.connection import DEFAULT_TARGET, TARGET_ENV, ClientSettings
from wallet_client.errors import (
    AtomicBatchRefused,
    BalanceOverflow,
    CursorExpired,
    FieldViolation,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidRequest,
    WalletError,
    WalletUnavailable,
)
from wallet_client.hold_errors import CaptureExceedsHold, HoldNotActive, HoldNotFound
from wallet_client.models import (
    Balances,
    CaptureResult,
    EntryResult,
    EntryType,
    EventType,
    Hold,
    HoldPage,
    HoldResult,
    HoldStatus,
    LedgerEntry,
    LedgerSummary,
    MetadataBreakdown,
    Period,
    ReversalResult,
    SummaryBucket,
    Wallet,
    WalletEvent,
)
from wallet_client.money import format_money, parse_amount
from wallet_client.retry import NO_RETRY, RetryPolicy
from wallet_client.reversal_errors import EntryNotFound, EntryNotReversible, ReversalExceedsEntry
from wallet_client.sync_client import WalletClient

__all__ = [
    "DEFAULT_TARGET",
    "NO_RETRY",
    "TARGET_ENV",
    "AsyncWalletClient",
    "AtomicBatchRefused",
    "BalanceOverflow",
    "Balances",
    "BatchEntry",
    "BatchEntryResult",
    "CallerInfo",
    "CaptureExceedsHold",
    "CaptureResult",
    "ClientSettings",
    "CursorExpired",
    "EntryNotFound",
    "EntryNotReversible",
    "EntryResult",
    "EntryType",
    "EventType",
    "FieldViolation",
    "Hold",
    "HoldNotActive",
    "HoldNotFound",
    "HoldPage",
    "HoldResult",
    "HoldStatus",
    "IdempotencyKeyReused",
    "InsufficientBalance",
    "InvalidRequest",
    "LedgerEntry",
    "LedgerSummary",
    "MetadataBreakdown",
    "Period",
    "RetryPolicy",
    "ReversalExceedsEntry",
    "ReversalResult",
    "SummaryBucket",
    "Wallet",
    "WalletClient",
    "WalletError",
    "WalletEvent",
    "WalletUnavailable",
    "format_money",
    "parse_amount",
]
