"""WalletService over gRPC: proto in, one use case, proto out. No SQL and no rules here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from server import requests
from server.coalescer import Coalescer
from server.config import Currency
from server.interceptors import current_caller
from server.ledger import Ledger
from server.model import Applied, Entry, EntryRequest, EntryType, Wallet
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

# A stream message stays under about 1 MiB, far below the 4 MiB that gRPC
# clients accept by default, and holds at most this many entries.
STREAM_MESSAGE_ENTRIES_MAX = 1_000
STREAM_MESSAGE_BYTES_MAX = 1 << 20
# What an entry costs on the wire beyond its free-text fields, rounded up.
_ENTRY_FIXED_BYTES = 200

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_ENTRY_TYPE_TO_PROTO = {
    EntryType.CREDIT: wallet_pb2.ENTRY_TYPE_CREDIT,
    EntryType.DEBIT: wallet_pb2.ENTRY_TYPE_DEBIT,
}


def _timestamp(moment: datetime) -> Timestamp:
    """Integer arithmetic only: a float of seconds would round microseconds away."""
    micros = (moment - _EPOCH) // _MICROSECOND
    return Timestamp(seconds=micros // 1_000_000, nanos=micros % 1_000_000 * 1_000)


def wallet_to_proto(wallet: Wallet, currencies: Mapping[str, Currency]) -> wallet_pb2.Wallet:
    currency = currencies.get(wallet.currency)
    return wallet_pb2.Wallet(
        customer_id=wallet.customer_id,
        currency=wallet.currency,
        balance=wallet.balance,
        created_at=None if wallet.created_at is None else _timestamp(wallet.created_at),
        updated_at=None if wallet.updated_at is None else _timestamp(wallet.updated_at),
        # A currency dropped from configuration is still shown; assume two digits for it.
        minor_unit_exponent=currency.exponent if currency else 2,
    )


def _entry_fields(entry: Entry) -> dict[str, Any]:
    """The LedgerEntry fields of an entry, for the message constructor or a repeated field's add()."""
    fields = {
        "id": entry.id,
        "customer_id": entry.customer_id,
        "currency": entry.currency,
        "entry_type": _ENTRY_TYPE_TO_PROTO[entry.entry_type],
        "amount": entry.amount,
        "before_balance": entry.before_balance,
        "after_balance": entry.after_balance,
        "reason": entry.reason,
        "idempotency_key": entry.idempotency_key,
        "created_at": _timestamp(entry.created_at),
        "created_by": entry.created_by,
    }
    if entry.metadata:
        fields["metadata"] = entry.metadata
    return fields


def entry_to_proto(entry: Entry) -> wallet_pb2.LedgerEntry:
    return wallet_pb2.LedgerEntry(**_entry_fields(entry))


def _entry_size(entry: Entry) -> int:
    """An upper-bound estimate of the entry's encoded size (UTF-8 takes at most 4 bytes a character)."""
    text = len(entry.reason) + len(entry.idempotency_key)
    if entry.metadata:
        text += sum(len(k) + len(v) + 2 for k, v in entry.metadata.items())
    return _ENTRY_FIXED_BYTES + 4 * text


class WalletServicer(wallet_pb2_grpc.WalletServiceServicer):
    """Translates WalletService calls to the ledger's use cases."""

    def __init__(
        self,
        ledger: Ledger,
        writer: Coalescer[EntryRequest, Applied],
        balance_reader: Coalescer[str, list[Wallet]],
    ) -> None:
        self._ledger = ledger
        self._writer = writer
        self._balance_reader = balance_reader

    async def GetBalances(
        self, request: wallet_pb2.GetBalancesRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.GetBalancesResponse:
        customer_id = requests.customer_id(request)
        wallets = await self._balance_reader.submit(customer_id)
        currencies = self._ledger.currencies
        return wallet_pb2.GetBalancesResponse(
            customer_id=customer_id, wallets=[wallet_to_proto(w, currencies) for w in wallets]
        )

    async def CreateLedgerEntry(
        self, request: wallet_pb2.CreateLedgerEntryRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.CreateLedgerEntryResponse:
        entry_request = requests.entry_request(request, self._ledger.currencies, created_by=current_caller.get())
        applied = await self._writer.submit(entry_request)
        return wallet_pb2.CreateLedgerEntryResponse(
            entry=entry_to_proto(applied.entry),
            wallet=wallet_to_proto(applied.wallet, self._ledger.currencies),
            idempotent_replay=applied.idempotent_replay,
        )

    async def ListLedgerEntries(
        self, request: wallet_pb2.ListLedgerEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[wallet_pb2.ListLedgerEntriesResponse]:
        query = requests.history_query(request, self._ledger.currencies)
        async for entries in self._ledger.history(query):
            # Entries are built in place in the message (add), which costs a
            # third less than building each one and copying it in.
            message = wallet_pb2.ListLedgerEntriesResponse()
            message_bytes = 0
            for entry in entries:
                size = _entry_size(entry)
                count = len(message.entries)
                if count and (count >= STREAM_MESSAGE_ENTRIES_MAX or message_bytes + size > STREAM_MESSAGE_BYTES_MAX):
                    yield message
                    message = wallet_pb2.ListLedgerEntriesResponse()
                    message_bytes = 0
                message.entries.add(**_entry_fields(entry))
                message_bytes += size
            if message.entries:
                yield message
