"""Low-balance check: find the customers whose wallet fell under a threshold, to remind them to top up.

WALLET_ADDR=127.0.0.1:50051 python clients/examples/low_balance_check.py [CUSTOMER_ID...]
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable

from wallet_client import WalletClient, format_money

LOW_BALANCE_CENTS = 500  # $5.00


def customers_running_low(wallet: WalletClient, customer_ids: Iterable[str], currency: str = "USD") -> list[str]:
    low = []
    for customer_id in customer_ids:
        balance = wallet.get_balances(customer_id)[currency].balance
        if balance < LOW_BALANCE_CENTS:
            low.append(customer_id)
    return low


def main(customer_ids: list[str] | None = None) -> int:
    with WalletClient() as wallet:
        if not customer_ids:
            # Demo data: one customer with $20.00, one with $3.00.
            rich, poor = f"cus_demo_{uuid.uuid4().hex[:8]}", f"cus_demo_{uuid.uuid4().hex[:8]}"
            wallet.credit(rich, 2_000, "USD", reason="Prepaid credits")
            wallet.credit(poor, 300, "USD", reason="Prepaid credits")
            customer_ids = [rich, poor]
        threshold = format_money(LOW_BALANCE_CENTS, "USD", 2)
        for customer_id in customers_running_low(wallet, customer_ids):
            print(f"{customer_id} is below {threshold}: send a top-up reminder")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
