"""Refund as a wallet credit: give back a charge, linked to the entry it refunds.

    WALLET_ADDR=127.0.0.1:50051 python clients/examples/refund.py [CUSTOMER_ID]

The ledger is append-only: a refund is a new credit, never an edit of the
debit. Keying it by the refunded entry makes a double click refund once.
"""

from __future__ import annotations

import sys
import uuid

from wallet_client import LedgerEntry, WalletClient, format_money


def refund(wallet: WalletClient, charge: LedgerEntry, why: str) -> LedgerEntry:
    result = wallet.credit(
        charge.customer_id,
        charge.amount,
        charge.currency,
        reason=f"Refund: {why}",
        idempotency_key=f"refund:{charge.id}",
        metadata={"refund_of": charge.id},
    )
    return result.entry


def main(customer_id: str | None = None) -> int:
    customer_id = customer_id or f"cus_demo_{uuid.uuid4().hex[:8]}"
    with WalletClient() as wallet:
        wallet.credit(customer_id, 5_000, "USD", reason="Prepaid credits")
        charge = wallet.debit(customer_id, 1_999, "USD", reason="Report export").entry
        first = refund(wallet, charge, "export failed")
        second = refund(wallet, charge, "export failed")  # clicked twice
        assert first.id == second.id
        print(f"refunded {format_money(charge.amount, 'USD', 2)} of {charge.id} as entry {first.id}")
        usd = wallet.get_balances(customer_id)["USD"]
        print(f"{customer_id} USD balance: {format_money(usd.balance, 'USD', usd.minor_unit_exponent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
