"""The use cases of the wallet: read balances, apply entries, read history.

Each write is one transaction, begun once at the top of `apply_batch`: lock,
decide every request in arrival order, write, commit. A batch holds one or
many requests (the coalescer gathers concurrent ones); each request keeps its
own outcome exactly as if it had run alone. No gRPC here, and no SQL: that is
`server.repository`.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server import repository
from server.config import Currency
from server.db import database_errors
from server.errors import FieldViolation, IdempotencyKeyReused, InvalidArgument, WalletError
from server.model import Applied, Entry, EntryRequest, EntryType, Wallet, balance_after

logger = logging.getLogger(__name__)

# Rows read per history query: large enough to amortise the round trip, small
# enough that one batch never holds much memory.
HISTORY_BATCH_ROWS = 1_000
_SEQ_END = 2**63 - 1

Outcome = Applied | WalletError


# Entry ids need uniqueness, not secrecy: a generator seeded once from the OS
# spares every id a getrandom system call. 80 random bits per millisecond make a
# collision negligible, and the (customer_id, id) unique key would refuse one.
_id_random = random.Random(secrets.randbits(128))


def new_entry_id() -> str:
    """A unique, time-ordered entry id: `le_` + 12 hex digits of milliseconds + 20 random."""
    return f"le_{time.time_ns() // 1_000_000:012x}{_id_random.getrandbits(80):020x}"


@dataclass(frozen=True)
class HistoryQuery:
    """A validated ListLedgerEntries request."""

    customer_id: str
    currency: str | None
    entry_type: EntryType | None
    created_after: datetime | None
    created_before: datetime | None
    start_after_id: str | None
    limit: int
    newest_first: bool


class Ledger:
    """The wallet's use cases over one connection pool."""

    def __init__(
        self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], currencies: Mapping[str, Currency]
    ) -> None:
        self._pool = pool
        self.currencies = currencies

    async def get_balances(self, customer_id: str) -> list[Wallet]:
        """Every supported currency's wallet (zero if never written) plus any other the customer holds."""
        result = (await self.get_balances_batch([customer_id]))[0]
        assert not isinstance(result, WalletError)
        return result

    async def get_balances_batch(self, customer_ids: Sequence[str]) -> list[list[Wallet] | WalletError]:
        """get_balances for many customers in one query (the read coalescer gathers them)."""
        with database_errors():
            async with self._pool.connection() as conn:
                stored = await repository.select_wallets(conn, sorted(set(customer_ids)))
        by_customer: dict[str, dict[str, Wallet]] = {customer_id: {} for customer_id in customer_ids}
        for wallet in stored:
            by_customer[wallet.customer_id][wallet.currency] = wallet
        results: list[list[Wallet] | WalletError] = []
        for customer_id in customer_ids:
            held = by_customer[customer_id]
            for code in self.currencies:
                if code not in held:
                    held[code] = Wallet(customer_id, code, 0, None, None)
            results.append([held[code] for code in sorted(held)])
        return results

    async def apply_batch(self, requests: Sequence[EntryRequest]) -> list[Outcome]:
        """Applies the requests in order in one transaction; returns one outcome per request."""
        assert requests
        with database_errors():
            # Pipeline mode lets BEGIN travel with the locking reads and COMMIT
            # with nothing to wait for: three round trips per batch in all.
            async with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                outcomes, written = await self._decide_and_write(conn, requests)
                if not written:
                    # Only refusals and replays: leave no trace, not even a lock row.
                    raise psycopg.Rollback()
        return outcomes

    async def _decide_and_write(
        self, conn: psycopg.AsyncConnection[Any], requests: Sequence[EntryRequest]
    ) -> tuple[list[Outcome], bool]:
        customer_ids = sorted({r.customer_id for r in requests})
        wallet_keys = sorted({(r.customer_id, r.currency) for r in requests})
        key_pairs = sorted({(r.customer_id, r.idempotency_key) for r in requests if r.idempotency_key})
        # The head lock serialises each customer's writers; the wallet row lock
        # is the contract's row-level lock on the balance itself.
        locked = await repository.lock_batch(conn, customer_ids, wallet_keys, key_pairs)
        heads, now, wallets, prior = locked.heads, locked.now, locked.wallets, locked.prior

        positions = {c: heads[c][0] for c in customer_ids}
        outcomes: list[Outcome] = []
        new_entries: list[Entry] = []
        for request in requests:
            try:
                outcome = self._decide(request, wallets, prior, positions, heads, now)
            except WalletError as error:
                outcomes.append(error)
                continue
            outcomes.append(outcome)
            if not outcome.idempotent_replay:
                new_entries.append(outcome.entry)
        if not new_entries:
            return outcomes, False
        touched = {(e.customer_id, e.currency) for e in new_entries}
        wallet_states = [wallets[k] for k in sorted(touched)]
        # Entries are in history order, so each customer's last new entry carries its newest time.
        last_entry_at = {e.customer_id: e.created_at for e in new_entries}
        head_states = [(c, positions[c], at) for c, at in last_entry_at.items()]
        await repository.write_batch(conn, new_entries, wallet_states, head_states)
        return outcomes, True

    def _decide(
        self,
        request: EntryRequest,
        wallets: dict[repository.WalletKey, Wallet],
        prior: dict[tuple[str, str], Entry],
        positions: dict[str, int],
        heads: Mapping[str, tuple[int, datetime | None]],
        now: datetime,
    ) -> Applied:
        """Decides one request against the state left by the requests before it (mutates the state)."""
        key = (request.customer_id, request.currency)
        wallet = wallets.get(key) or Wallet(request.customer_id, request.currency, 0, None, None)
        if request.idempotency_key:
            earlier = prior.get((request.customer_id, request.idempotency_key))
            if earlier is not None:
                if not request.same_parameters_as(earlier):
                    raise IdempotencyKeyReused(idempotency_key=request.idempotency_key, entry_id=earlier.id)
                as_it_stood = Wallet(
                    request.customer_id,
                    earlier.currency,
                    earlier.after_balance,
                    wallet.created_at or earlier.created_at,
                    earlier.created_at,
                )
                return Applied(earlier, as_it_stood, idempotent_replay=True)
        after = balance_after(wallet.balance, request)
        seq = positions[request.customer_id] + 1
        positions[request.customer_id] = seq
        # The clock was read after the locks were taken; never step back behind
        # the customer's last entry even if the database clock did.
        last_entry_at = heads[request.customer_id][1]
        created_at = now if last_entry_at is None or now >= last_entry_at else last_entry_at
        entry = Entry(
            id=new_entry_id(),
            customer_id=request.customer_id,
            seq=seq,
            currency=request.currency,
            entry_type=request.entry_type,
            amount=request.amount,
            before_balance=wallet.balance,
            after_balance=after,
            reason=request.reason,
            idempotency_key=request.idempotency_key,
            metadata=dict(request.metadata),
            created_at=created_at,
            created_by=request.created_by,
        )
        new_wallet = wallet._replace(balance=after, created_at=wallet.created_at or created_at, updated_at=created_at)
        assert new_wallet.balance >= 0
        wallets[key] = new_wallet
        if request.idempotency_key:
            prior[(request.customer_id, request.idempotency_key)] = entry
        return Applied(entry, new_wallet, idempotent_replay=False)

    async def history(self, query: HistoryQuery) -> AsyncIterator[list[Entry]]:
        """Yields the customer's matching entries in order, one database batch at a time.

        Each batch is its own short read, so a slow reader holds no connection
        and no transaction between batches.
        """
        cursor_seq = _SEQ_END if query.newest_first else 0
        if query.start_after_id is not None:
            with database_errors():
                async with self._pool.connection() as conn:
                    seq = await repository.select_entry_seq(conn, query.customer_id, query.start_after_id)
            if seq is None:
                raise InvalidArgument([FieldViolation("start_after_id", "is not an entry of this customer")])
            cursor_seq = seq
        statement = repository.list_entries_statement(
            currency=query.currency,
            entry_type=query.entry_type,
            created_after=query.created_after,
            created_before=query.created_before,
            newest_first=query.newest_first,
        )
        params: dict[str, object] = {
            "customer_id": query.customer_id,
            "currency": query.currency,
            "entry_type": query.entry_type.value if query.entry_type else None,
            "created_after": query.created_after,
            "created_before": query.created_before,
        }
        remaining = query.limit if query.limit > 0 else None
        while remaining is None or remaining > 0:
            batch_size = HISTORY_BATCH_ROWS if remaining is None else min(HISTORY_BATCH_ROWS, remaining)
            with database_errors():
                async with self._pool.connection() as conn:
                    cursor = await conn.execute(
                        statement, {**params, "cursor_seq": cursor_seq, "batch_size": batch_size}
                    )
                    rows = await cursor.fetchall()
            if not rows:
                return
            entries = [repository.entry_from_row(row) for row in rows]
            yield entries
            cursor_seq = entries[-1].seq
            if remaining is not None:
                remaining -= len(entries)
            if len(entries) < batch_size:
                return
