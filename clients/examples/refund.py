"""Refund a failed API call: reverse its debit, linked to it, at most once.

    WALLET_ADDR=127.0.0.1:50051 python clients/examples/refund.py [CUSTOMER_ID]

The ledger is append-only: a refund is a new credit that names the debit it
reverses (`reverses_entry_id`), never an edit of it. The service refunds a
debit at most its amount in all, so a second refund of the same call, even
under another key, is refused (ReversalExceedsEntry), and the money goes
back to the credits the call was paid with (expiring ones keep expiring).
"""

from __future__ import annotations

import sys
import uuid

from wallet_client import LedgerEntry, ReversalExceedsEntry, WalletClient, format_money


def refund_failed_call(wallet: WalletClient, charge: LedgerEntry, why: str) -> LedgerEntry:
    """Refunds all that is left of the call's charge; keyed by the charge, so a retry refunds once."""
    result = wallet.reverse(
        charge.customer_id, charge.id, reason=f"Refund: {why}", idempotency_key=f"refund:{charge.id}"
    )
    return result.entry


def main(customer_id: str | None = None) -> int:
    customer_id = customer_id or f"cus_demo_{uuid.uuid4().hex[:8]}"
    with WalletClient() as wallet:
        wallet.credit(customer_id, 5_000, "USD", reason="Prepaid credits")
        charge = wallet.debit(customer_id, 1_999, "USD", reason="Report export", metadata={"call": "c_1"}).entry
        first = refund_failed_call(wallet, charge, "export failed")
        second = refund_failed_call(wallet, charge, "export failed")  # the retry of a lost answer
        assert first.id == second.id and first.reverses_entry_id == charge.id
        try:
            wallet.reverse(customer_id, charge.id, reason="clicked twice")  # another key: nothing is left
        except ReversalExceedsEntry as refused:
            print(f"second refund refused: {refused.reversible} left to reverse")
        print(f"refunded {format_money(charge.amount, 'USD', 2)} of {charge.id} as entry {first.id}")
        usd = wallet.get_balances(customer_id)["USD"]
        print(f"{customer_id} USD balance: {format_money(usd.balance, 'USD', usd.minor_unit_exponent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
