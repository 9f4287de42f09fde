"""How `wallet watch` prints an event: a table row (over whole lines when narrow) or a JSON record."""

from __future__ import annotations

from typing import Any

from wallet_client.cli import display
from wallet_client.cli.export import entry_record
from wallet_client.models import EventType, Hold, Wallet, WalletEvent

# Widths of the table's columns: time, event, customer, change, wallet after it.
ROW = "{:<19}  {:<17}  {:<20}  {:>16}  {}"
# Narrower than this, each event takes several lines (whole amounts, ids and cursors) and there is no header.
WIDE = 180


def event_row(event: WalletEvent, width: int = WIDE) -> str:
    """The event for the table: one line when `width` allows, else its parts over whole lines.

    When, what, whose and by how much come first; the wallet right after and
    the cursor follow, indented, on as few lines as fit. An amount, an id or
    a cursor is never split over two lines.
    """
    wallet = event.wallet
    if event.entry is not None:
        sign = "+" if event.entry.entry_type.value == "credit" else "-"
        change = sign + display.wallet_money(wallet, event.entry.amount)
    elif event.hold is not None:
        change = display.wallet_money(wallet, event.hold.amount)
        if event.event_type is EventType.HOLD_CAPTURED:
            change = f"{display.wallet_money(wallet, event.hold.captured_amount)} of {change}"
    else:
        below = "below" if event.event_type is EventType.BALANCE_LOW else "not below"
        change = f"{below} {display.wallet_money(wallet, event.threshold)}"
    moment = event.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
    line = ROW.format(moment, event.event_type.value, event.customer_id, change, display.wallet_line(wallet))
    line += f"  {event.cursor}"
    if len(line) <= width:
        return line
    parts = [
        f"{wallet.currency} balance {display.wallet_money(wallet, wallet.balance)},",
        f"held {display.wallet_money(wallet, wallet.held_balance)},",
        f"available {display.wallet_money(wallet, wallet.available_balance)}",
        f"({wallet.available_balance} minor units)",
        f"cursor {event.cursor}",
    ]
    head = _whole_lines([f"{moment}  {event.event_type.value}", event.customer_id, change], width, "")
    return "\n".join([*head, *_whole_lines(parts, width, "    ")])


def _whole_lines(parts: list[str], width: int, indent: str) -> list[str]:
    """`parts` joined by spaces into lines of at most `width` where they fit; a part is never split."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 1 + len(part) <= width:
            lines[-1] += " " + part
        else:
            lines.append(indent + part)
    return lines


def event_record(event: WalletEvent) -> dict[str, Any]:
    """The event as one JSON object; amounts stay integers of minor units."""
    return {
        "cursor": event.cursor,
        "event_type": event.event_type.value,
        "customer_id": event.customer_id,
        "currency": event.currency,
        "occurred_at": event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "wallet": _wallet_record(event.wallet),
        "entry": entry_record(event.entry) if event.entry is not None else None,
        "hold": _hold_record(event.hold) if event.hold is not None else None,
        "threshold": event.threshold,
    }


def _wallet_record(wallet: Wallet) -> dict[str, Any]:
    return {
        "balance": wallet.balance,
        "held_balance": wallet.held_balance,
        "available_balance": wallet.available_balance,
        "low_balance_threshold": wallet.low_balance_threshold,
        "minor_unit_exponent": wallet.minor_unit_exponent,
        "version": wallet.version,
    }


def _hold_record(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "amount": hold.amount,
        "status": hold.status.value,
        "captured_amount": hold.captured_amount,
        "reason": hold.reason,
    }
