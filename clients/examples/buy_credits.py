"""Buying credits: the payment provider's webhook credits the wallet, keyed by the payment id.

    WALLET_ADDR=127.0.0.1:50051 python clients/examples/buy_credits.py [CUSTOMER_ID]

Payment webhooks are delivered at least once. Using the payment id as the
idempotency key makes a redelivered (or retried) webhook a no-op.
"""

from __future__ import annotations

import sys
import uuid

from wallet_client import WalletClient, format_money


def on_payment_succeeded(wallet: WalletClient, customer_id: str, payment_id: str, amount_cents: int) -> str:
    result = wallet.credit(
        customer_id,
        amount_cents,
        "USD",
        reason="Credits purchase",
        idempotency_key=payment_id,
        metadata={"payment_id": payment_id},
    )
    if result.idempotent_replay:
        return f"payment {payment_id} already credited (entry {result.entry.id})"
    return f"credited {format_money(amount_cents, 'USD', 2)} for payment {payment_id} (entry {result.entry.id})"


def main(customer_id: str | None = None) -> int:
    customer_id = customer_id or f"cus_demo_{uuid.uuid4().hex[:8]}"
    payment_id = f"pi_{uuid.uuid4().hex[:12]}"
    with WalletClient() as wallet:
        for _delivery in range(2):  # the provider delivers the same webhook twice
            print(on_payment_succeeded(wallet, customer_id, payment_id, 5_000))
        usd = wallet.get_balances(customer_id)["USD"]
        print(f"{customer_id} USD balance: {format_money(usd.balance, 'USD', usd.minor_unit_exponent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
