"""Charging for API usage, answering like HTTP 402 Payment Required when the wallet runs dry.

    WALLET_ADDR=127.0.0.1:50051 python clients/examples/charge_api_usage.py [CUSTOMER_ID]

The debit is refused atomically by the service when the balance is too low
(nothing is written), so there is no read-then-write race to guard against.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from wallet_client import InsufficientBalance, WalletClient, format_money

PRICE_PER_CALL_CENTS = 2  # $0.02


def charge_usage(wallet: WalletClient, customer_id: str, calls: int, batch_id: str) -> tuple[int, dict[str, Any]]:
    """Charges `calls` API calls; returns an HTTP-like (status, body) for the API gateway."""
    amount = calls * PRICE_PER_CALL_CENTS
    try:
        result = wallet.debit(
            customer_id,
            amount,
            "USD",
            reason=f"API usage: {calls} calls",
            # One key per usage batch: a gateway retrying the same batch is charged once.
            idempotency_key=f"usage:{batch_id}",
            metadata={"calls": str(calls)},
        )
    except InsufficientBalance as refused:
        return 402, {
            "error": "insufficient_balance",
            "balance": format_money(refused.balance, refused.currency, 2),
            "required": format_money(refused.amount, refused.currency, 2),
        }
    return 200, {
        "charged": format_money(amount, "USD", 2),
        "balance": format_money(result.wallet.balance, "USD", 2),
    }


def main(customer_id: str | None = None) -> int:
    customer_id = customer_id or f"cus_demo_{uuid.uuid4().hex[:8]}"
    with WalletClient() as wallet:
        wallet.credit(customer_id, 100, "USD", reason="Prepaid credits")  # $1.00
        for batch in ("batch-1", "batch-2"):  # 30 calls each: $0.60, then $0.60 more than is left
            status, body = charge_usage(wallet, customer_id, 30, f"{customer_id}:{batch}")
            print(status, body)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
