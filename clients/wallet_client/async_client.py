"""`AsyncWalletClient`: the asyncio client of wallet.v1.WalletService (grpc.aio).

Same methods, arguments, results and errors as `WalletClient`, awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import grpc

from wallet.v1 import wallet_pb2_grpc
from wallet_client.connection import ClientSettings, default_target, open_aio_channel
from wallet_client.errors import from_rpc_error
from wallet_client.models import Balances, EntryResult, EntryType, LedgerEntry
from wallet_client.requests import HistoryFilter, balances_request, entry_request, new_idempotency_key
from wallet_client.retry import READ_RETRY_CODES, WRITE_RETRY_CODES, RetryBudget, RetryPolicy

Response = TypeVar("Response")


class AsyncWalletClient:
    """Asyncio client; use it as an async context manager (or await `close()`).

    >>> async with AsyncWalletClient() as wallet:           # target from WALLET_ADDR
    ...     await wallet.credit("cus_1", 10_000, "USD", reason="Welcome bonus")
    ...     (await wallet.get_balances("cus_1"))["USD"].balance

    Every method raises a `WalletError` subclass on failure. Writes carry an
    idempotency key (yours, or a fresh uuid4 per call) that every retry reuses.
    Pass `channel` to use a channel you own; it is then not closed by `close()`.
    """

    def __init__(
        self,
        target: str | None = None,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        timeout_s: float = 10.0,
        stream_timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
        options: Sequence[tuple[str, Any]] = (),
        metadata: Sequence[tuple[str, str]] = (),
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.settings = ClientSettings(
            target=target or default_target(),
            credentials=credentials,
            timeout_s=timeout_s,
            stream_timeout_s=stream_timeout_s,
            retry=retry or RetryPolicy(),
            options=options,
            metadata=metadata,
        )
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else open_aio_channel(self.settings)
        self._stub = wallet_pb2_grpc.WalletServiceStub(self._channel)

    async def __aenter__(self) -> AsyncWalletClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close()

    async def get_balances(self, customer_id: str, *, timeout_s: float | None = None) -> Balances:
        """Every wallet of the customer (balance 0 in each supported currency for a new one)."""
        response = await self._unary(self._stub.GetBalances, balances_request(customer_id), READ_RETRY_CODES, timeout_s)
        return Balances.from_proto(response)

    async def credit(
        self,
        customer_id: str,
        amount: int,
        currency: str,
        reason: str = "",
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> EntryResult:
        """Adds `amount` minor units to the customer's wallet in `currency`."""
        return await self.create_entry(
            customer_id,
            EntryType.CREDIT,
            amount,
            currency,
            reason,
            idempotency_key,
            metadata,
            timeout_s=timeout_s,
        )

    async def debit(
        self,
        customer_id: str,
        amount: int,
        currency: str,
        reason: str = "",
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> EntryResult:
        """Removes `amount` minor units; InsufficientBalance (nothing written) if it exceeds the balance."""
        return await self.create_entry(
            customer_id,
            EntryType.DEBIT,
            amount,
            currency,
            reason,
            idempotency_key,
            metadata,
            timeout_s=timeout_s,
        )

    async def create_entry(
        self,
        customer_id: str,
        entry_type: EntryType | str,
        amount: int,
        currency: str,
        reason: str = "",
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> EntryResult:
        """Applies one credit or debit; safe to call again with the same `idempotency_key`."""
        key = idempotency_key or new_idempotency_key()
        request = entry_request(customer_id, EntryType(entry_type), amount, currency, reason, key, metadata)
        response = await self._unary(self._stub.CreateLedgerEntry, request, WRITE_RETRY_CODES, timeout_s, key)
        return EntryResult.from_proto(response)

    async def iter_entries(
        self,
        customer_id: str,
        *,
        currency: str | None = None,
        entry_type: EntryType | str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        start_after_id: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> AsyncIterator[LedgerEntry]:
        """The customer's ledger entries, one at a time, oldest first unless `newest_first`.

        Memory stays constant however long the history. If the stream drops
        (UNAVAILABLE), it is reopened after the last entry already yielded,
        so no entry is skipped or repeated; attempts without progress are
        bounded by the retry policy. `created_after` is inclusive,
        `created_before` exclusive; both must be timezone-aware.
        """
        query: HistoryFilter | None = HistoryFilter(
            customer_id=customer_id,
            currency=currency,
            entry_type=EntryType(entry_type) if entry_type is not None else None,
            created_after=created_after,
            created_before=created_before,
            start_after_id=start_after_id,
            limit=limit,
            newest_first=newest_first,
        )
        budget = RetryBudget(self.settings.retry, READ_RETRY_CODES)
        while query is not None:
            budget.start_attempt()
            received, last_id = 0, None
            stream = self._stub.ListLedgerEntries(
                query.to_proto(), timeout=self.settings.stream_timeout_s, metadata=self._metadata()
            )
            try:
                async for message in stream:
                    for proto in message.entries:
                        entry = LedgerEntry.from_proto(proto)
                        yield entry
                        received, last_id = received + 1, entry.id
                    if message.entries:
                        budget.progressed()
                return
            except grpc.aio.AioRpcError as error:
                delay = budget.delay_before_retry(error.code())
                if delay is None:
                    raise from_rpc_error(error, attempts=budget.attempts) from error
                await asyncio.sleep(delay)
                if last_id is not None:
                    query = query.after(last_id, received)
            finally:
                # Also runs when the caller stops iterating early: the server stops streaming.
                stream.cancel()

    def _metadata(self) -> Sequence[tuple[str, str]] | None:
        return tuple(self.settings.metadata) or None

    async def _unary(
        self,
        method: Callable[..., Awaitable[Response]],
        request: Any,
        retry_codes: frozenset[grpc.StatusCode],
        timeout_s: float | None,
        idempotency_key: str | None = None,
    ) -> Response:
        budget = RetryBudget(self.settings.retry, retry_codes)
        while True:
            deadline = budget.attempt_timeout(timeout_s or self.settings.timeout_s)
            try:
                return await method(request, timeout=deadline, metadata=self._metadata())
            except grpc.aio.AioRpcError as error:
                delay = budget.delay_before_retry(error.code())
                if delay is None:
                    raise from_rpc_error(error, idempotency_key=idempotency_key, attempts=budget.attempts) from error
                await asyncio.sleep(delay)
