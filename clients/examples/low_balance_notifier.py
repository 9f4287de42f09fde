"""Low-balance notifier: remind a customer to top up as soon as a wallet falls under its threshold.

    WALLET_ADDR=127.0.0.1:50051 python clients/examples/low_balance_notifier.py \
        [--cursor-file FILE] [--stop-after N] (CUSTOMER_ID | --all)

It watches BALANCE_LOW events (of one customer, or of all) and remembers in
FILE the cursor of the last event it handled, so that after a restart it
carries on right after it: no reminder lost, none sent twice. The cursor is
written only once the reminder is sent; a crash in between sends that one
reminder again rather than never. Without CUSTOMER_ID or --all it runs a demo:
a customer goes low, the notifier stops, the customer goes low again, and the
restarted notifier sends only the new reminder.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import uuid
from pathlib import Path

from wallet_client import EventType, WalletClient, WalletEvent, format_money


def read_cursor(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


def write_cursor(path: Path, cursor: str) -> None:
    # Write then rename: a crash leaves the old cursor or the new one, never half of one.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(cursor + "\n")
    os.replace(partial, path)


def send_reminder(event: WalletEvent) -> None:
    """Stands for an e-mail or a push notification; must not fail silently."""
    wallet = event.wallet
    available = format_money(wallet.available_balance, wallet.currency, wallet.minor_unit_exponent)
    threshold = format_money(event.threshold, wallet.currency, wallet.minor_unit_exponent)
    print(f"{event.customer_id}: {wallet.currency} available {available} is below {threshold}: reminder sent")


def notify(wallet: WalletClient, customer_id: str, cursor_file: Path, stop_after: int = 0) -> None:
    """Sends a reminder for each BALANCE_LOW after the stored cursor; forever, or for `stop_after` events."""
    cursor = read_cursor(cursor_file)
    # The first run has no cursor: it starts with the oldest event the service keeps.
    events = wallet.watch_events(customer_id, [EventType.BALANCE_LOW], cursor, from_oldest=not cursor)
    for event in itertools.islice(events, stop_after or None):
        send_reminder(event)
        write_cursor(cursor_file, event.cursor)  # only now is the event handled


def demo(wallet: WalletClient, cursor_file: Path) -> None:
    customer = f"cus_demo_{uuid.uuid4().hex[:8]}"
    wallet.credit(customer, 2_000, "USD", reason="Prepaid credits")
    wallet.set_low_balance_threshold(customer, "USD", 500)  # low under $5.00
    wallet.debit(customer, 1_700, "USD", reason="API usage")  # $3.00 left: low
    notify(wallet, customer, cursor_file, stop_after=1)
    print(f"notifier stopped at {read_cursor(cursor_file)}")
    wallet.credit(customer, 2_000, "USD", reason="Top-up")  # $23.00: recovered
    wallet.debit(customer, 2_100, "USD", reason="API usage")  # $2.00 left: low again
    notify(wallet, customer, cursor_file, stop_after=1)  # the first reminder is not sent again


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customer_id", nargs="?", default="", help="only this customer (default: a demo)")
    parser.add_argument("--all", action="store_true", help="every customer")
    parser.add_argument("--cursor-file", type=Path, help="where the cursor is kept")
    parser.add_argument("--stop-after", type=int, default=0, help="stop after N events (default: never)")
    args = parser.parse_args(argv)
    with WalletClient() as wallet, tempfile.TemporaryDirectory() as scratch:
        watching = args.customer_id or args.all
        cursor_file = args.cursor_file or Path("." if watching else scratch) / "low_balance.cursor"
        if watching:
            notify(wallet, args.customer_id, cursor_file, args.stop_after)
        else:
            demo(wallet, cursor_file)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(0)  # the cursor file already says where to carry on
