"""INR and USD customers: each wallet counts in its own currency's minor unit (paise, cents).

WALLET_ADDR=127.0.0.1:50051 python clients/examples/multi_currency.py
"""

from __future__ import annotations

import sys
import uuid

from wallet_client import WalletClient, format_money


def main() -> int:
    indian, american = f"cus_in_{uuid.uuid4().hex[:8]}", f"cus_us_{uuid.uuid4().hex[:8]}"
    with WalletClient() as wallet:
        wallet.credit(indian, 1_500_000, "INR", reason="Annual plan")  # ₹15,000.00 = 1,500,000 paise
        wallet.credit(american, 10_000, "USD", reason="Annual plan")  # $100.00 = 10,000 cents
        for customer_id, currency in ((indian, "INR"), (american, "USD")):
            held = wallet.get_balances(customer_id)[currency]
            shown = format_money(held.balance, currency, held.minor_unit_exponent)
            print(f"{customer_id}: {shown} ({held.balance} minor units)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
