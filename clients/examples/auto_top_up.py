"""Auto top-up: credit a wallet as soon as it runs low, once per BALANCE_LOW event, even when events replay.

    WALLET_ADDR=127.0.0.1:50051 python clients/examples/auto_top_up.py [--after CURSOR] [CUSTOMER_ID]

The top-up credit's idempotency key is made of the event's cursor. A
consumer that crashed after the credit but before storing its cursor sees
the same event again when it restarts; the credit with the same key is then
answered from the ledger (`idempotent_replay`) and nothing is credited twice.
Without a CUSTOMER_ID it runs a demo: a wallet runs low, is topped up, and
the same event, replayed, tops up nothing.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import uuid

from wallet_client import EventType, WalletClient, WalletEvent, format_money

TOP_UP_CENTS = 2_000  # $20.00


def top_up(wallet: WalletClient, event: WalletEvent) -> str:
    """Credits the wallet the event found low; the event's cursor makes it happen at most once."""
    result = wallet.credit(
        event.customer_id,
        TOP_UP_CENTS,
        event.currency,
        reason="Automatic top-up",
        idempotency_key=f"auto-top-up:{event.cursor}",
        metadata={"event": event.cursor},
    )
    if result.idempotent_replay:
        return f"{event.customer_id}: event {event.cursor} replayed, already topped up by {result.entry.id}"
    added = format_money(TOP_UP_CENTS, event.currency, result.wallet.minor_unit_exponent)
    return f"{event.customer_id}: low, topped up {added} by {result.entry.id}"


def run(wallet: WalletClient, customer_id: str, after: str = "", stop_after: int = 0) -> str:
    """Tops up on each BALANCE_LOW after `after` (from the oldest kept if ""); returns the last cursor handled."""
    events = wallet.watch_events(customer_id, [EventType.BALANCE_LOW], after, from_oldest=not after)
    for event in itertools.islice(events, stop_after or None):
        print(top_up(wallet, event))
        after = event.cursor  # a real service stores it here, after the top-up
    return after


def demo(wallet: WalletClient) -> None:
    customer = f"cus_demo_{uuid.uuid4().hex[:8]}"
    wallet.credit(customer, 1_000, "USD", reason="Prepaid credits")
    wallet.set_low_balance_threshold(customer, "USD", 500)  # low under $5.00
    wallet.debit(customer, 800, "USD", reason="API usage")  # $2.00 left: low
    run(wallet, customer, stop_after=1)
    # A crash before the cursor was stored: the restarted service starts over and meets the same event.
    run(wallet, customer, stop_after=1)
    usd = wallet.get_balances(customer)["USD"]
    print(f"{customer} USD balance: {format_money(usd.balance, 'USD', usd.minor_unit_exponent)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customer_id", nargs="?", default="", help="only this customer (default: a demo)")
    parser.add_argument("--after", default="", help="start right after this cursor")
    args = parser.parse_args(argv)
    with WalletClient() as wallet:
        if args.customer_id:
            run(wallet, args.customer_id, args.after)
        else:
            demo(wallet)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(0)
