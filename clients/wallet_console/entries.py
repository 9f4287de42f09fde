"""One entry of a customer's history, found by its id through ListLedgerEntries (the API has no GetEntry).

The history is in one total order (the service's sequence), and
`start_after_id` resumes after an entry in either direction. So the entry
just older than X is the first one newest-first after X, and X is the first
one oldest-first after that older one (or the customer's first entry when
none is older): two one-entry reads, whatever the length of the history. The
entry just newer than X is the first one oldest-first after X: a page of
history newest-first after that one starts with X.
"""

from __future__ import annotations

import grpc

from wallet_client import AsyncWalletClient, LedgerEntry, WalletError


class NoSuchEntry(LookupError):
    """The id is not one of the customer's entries."""


async def _first(
    client: AsyncWalletClient, customer_id: str, after: str | None, *, newest_first: bool
) -> LedgerEntry | None:
    try:
        async for entry in client.iter_entries(customer_id, start_after_id=after, limit=1, newest_first=newest_first):
            return entry
    except WalletError as error:
        # The service names `start_after_id` when the id is not one of the customer's entries.
        if error.code is grpc.StatusCode.INVALID_ARGUMENT:
            raise NoSuchEntry(after) from None
        raise
    return None


async def find_entry(client: AsyncWalletClient, customer_id: str, entry_id: str) -> LedgerEntry:
    """The customer's entry `entry_id` as it stands now (its `reversed_amount` included); NoSuchEntry if none."""
    if not entry_id:
        raise NoSuchEntry(entry_id)
    older = await _first(client, customer_id, entry_id, newest_first=True)
    found = await _first(client, customer_id, older.id if older else None, newest_first=False)
    if found is None or found.id != entry_id:
        raise NoSuchEntry(entry_id)
    return found


async def newer_id(client: AsyncWalletClient, customer_id: str, entry_id: str) -> str:
    """The id of the entry just newer than `entry_id` ("" when it is the newest); NoSuchEntry if none."""
    newer = await _first(client, customer_id, entry_id, newest_first=False)
    return newer.id if newer else ""
