"""The tables of `wallet balances`, `holds` and `history`: which columns, and how they give way when narrow."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from rich.console import Console

from wallet_client.cli.display import money, wallet_money, when
from wallet_client.cli.fit import Column, print_fitted
from wallet_client.models import Balances, Hold, LedgerEntry, Wallet

Row = TypeVar("Row")

# Rows per printed table: a listing stays in constant memory however long it is.
TABLE_PAGE_ROWS = 500


def balances_layouts(balances: Balances) -> list[list[Column[Wallet]]]:
    """Currency, balance, held and available always; minor units, threshold and last update as room allows."""

    def amount(header: str, pick: Callable[[Wallet], int]) -> Column[Wallet]:
        return Column(header, lambda w: wallet_money(w, pick(w)), right=True)

    def low(wallet: Wallet) -> str:
        # The threshold in force (the wallet's own, or the service's default); low while available is below it.
        if not wallet.low_balance_threshold:
            return "off"
        badge = " (low)" if wallet.available_balance < wallet.low_balance_threshold else ""
        return wallet_money(wallet, wallet.low_balance_threshold) + badge

    return [
        [
            Column("Currency", lambda w: w.currency),
            amount("Balance", lambda w: w.balance),
            amount("Held", lambda w: w.held_balance),
            amount("Available", lambda w: w.available_balance),
            Column(
                "Minor units (balance/held/available)",
                lambda w: f"{w.balance}/{w.held_balance}/{w.available_balance}",
                right=True,
                drop=2,
            ),
            Column("Low below", low, right=True, drop=1),
            Column("Updated (UTC)", lambda w: when(w.updated_at).removesuffix(" UTC"), drop=3),
        ]
    ]


def print_balances(balances: Balances, as_of: datetime | None = None) -> None:
    # Held is money reserved by active holds (still in the balance); available = balance - held.
    title = f"Wallets of {balances.customer_id}" + (f" as of {when(as_of.astimezone(UTC))}" if as_of else "")
    print_fitted(Console(soft_wrap=True), balances_layouts(balances), list(balances), title)


def print_tables(rows: Iterator[Row], layouts: Sequence[Sequence[Column[Row]]], title: str, empty: str) -> None:
    """Prints `rows` as tables of TABLE_PAGE_ROWS rows each, titled `title` (page 2, ...); `empty` if none."""
    console = Console(soft_wrap=True)
    page_number = 0
    while page := list(itertools.islice(rows, TABLE_PAGE_ROWS)):
        page_number += 1
        print_fitted(console, layouts, page, title + (f" (page {page_number})" if page_number > 1 else ""))
    if page_number == 0:
        console.print(empty)


def _time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def holds_layouts(exponents: Mapping[str, int]) -> list[list[Column[Hold]]]:
    """Wide: one column per field. Narrow: the creation time under the id, the captured amount under the status."""

    def amount(hold: Hold) -> str:
        return money(hold.amount, hold.currency, exponents)

    def captured(hold: Hold) -> str:
        return money(hold.captured_amount, hold.currency, exponents) if hold.capture_entry_id else ""

    def ends(hold: Hold) -> str:
        return _time(hold.closed_at or hold.expire_time)

    reason: Column[Hold] = Column("Reason", lambda h: h.reason, drop=1, text=True)
    return [
        [
            Column("Created (UTC)", lambda h: _time(h.created_at)),
            Column("Hold id", lambda h: h.id),
            Column("Amount", amount, right=True),
            Column("Status", lambda h: h.status.value),
            Column("Captured", captured, right=True),
            Column("Expires / closed (UTC)", ends),
            reason,
        ],
        [
            Column("Hold id\nCreated (UTC)", lambda h: f"{h.id}\n{_time(h.created_at)}"),
            Column("Amount", amount, right=True),
            Column("Status\nCaptured", lambda h: f"{h.status.value}\n{captured(h)}".rstrip(), right=True),
            Column("Expires / closed (UTC)", ends, drop=2),
            reason,
        ],
    ]


def history_layouts(exponents: Mapping[str, int]) -> list[list[Column[LedgerEntry]]]:
    """Wide: one column per field. Narrow: the entry id under its time. Money and ids are never cut or wrapped."""

    def signed(entry: LedgerEntry) -> str:
        return "+" if entry.entry_type.value == "credit" else "-"

    def amount(entry: LedgerEntry) -> str:
        return signed(entry) + money(entry.amount, entry.currency, exponents)

    def after(entry: LedgerEntry) -> str:
        return money(entry.after_balance, entry.currency, exponents)

    def ids(entry: LedgerEntry) -> str:
        """The entry's id, then what links it to reversals: the entry it reverses, or how much of it was reversed."""
        lines = [entry.id]
        if entry.reverses_entry_id:
            lines += ["reverses", entry.reverses_entry_id]  # an id is never cut: on a line of its own
        if entry.reversed_amount:
            lines.append(f"reversed {money(entry.reversed_amount, entry.currency, exponents)}")
        return "\n".join(lines)

    reason: Column[LedgerEntry] = Column("Reason", lambda e: e.reason, drop=1, text=True)
    return [
        [
            Column("Created (UTC)", lambda e: _time(e.created_at)),
            Column("Amount", amount, right=True),
            Column("Minor units", lambda e: f"{signed(e)}{e.amount}", right=True, drop=2),
            Column("Balance after", after, right=True),
            reason,
            Column("Entry id", ids),
        ],
        [
            Column("Created (UTC)\nEntry id", lambda e: f"{_time(e.created_at)}\n{ids(e)}"),
            Column("Amount", amount, right=True),
            Column("Balance after", after, right=True),
            reason,
        ],
    ]
