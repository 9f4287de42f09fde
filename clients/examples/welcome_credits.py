"""Welcome credits: give every new customer $10.00 once, however often the signup hook fires.

    WALLET_ADDR=127.0.0.1:50051 python clients/examples/welcome_credits.py [CUSTOMER_ID]

The idempotency key is derived from the customer ("welcome:<id>"), so a
signup event delivered twice still grants the bonus once.
"""

from __future__ import annotations

import sys
import uuid

from wallet_client import WalletClient, format_money

WELCOME_BONUS_CENTS = 1_000  # $10.00


def grant_welcome_bonus(wallet: WalletClient, customer_id: str) -> bool:
    """Credits the bonus; returns False if this customer already had it."""
    result = wallet.credit(
        customer_id,
        WELCOME_BONUS_CENTS,
        "USD",
        reason="Welcome bonus",
        idempotency_key=f"welcome:{customer_id}",
        metadata={"campaign": "welcome"},
    )
    return not result.idempotent_replay


def main(customer_id: str | None = None) -> int:
    customer_id = customer_id or f"cus_demo_{uuid.uuid4().hex[:8]}"
    with WalletClient() as wallet:  # target from WALLET_ADDR
        for delivery in (1, 2):  # the signup event arrives twice
            granted = grant_welcome_bonus(wallet, customer_id)
            print(f"signup event #{delivery}: {'bonus granted' if granted else 'already granted, nothing done'}")
        usd = wallet.get_balances(customer_id)["USD"]
        print(f"{customer_id} USD balance: {format_money(usd.balance, 'USD', usd.minor_unit_exponent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
