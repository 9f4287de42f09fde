"""Reserve the worst-case cost of a job, run it, then charge what it really cost.

    WALLET_ADDR=127.0.0.1:50051 python clients/examples/reserve_then_charge.py [CUSTOMER_ID]

A render job is billed by the minute, so its price is known only at the
end. Reserving the worst case first (a hold) means the job never starts
on money the customer does not have, and no other charge can spend that
money meanwhile. At the end, capturing the real cost charges exactly that
and returns the rest to the available balance; a job that fails releases
the hold and costs nothing. Keyed by the job id, a retried start reserves
once; a capture or release repeated after a timeout is replayed, not
applied twice. A hold left behind by a crashed worker expires by itself.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from datetime import timedelta

from wallet_client import InsufficientBalance, Wallet, WalletClient, format_money

CENTS_PER_MINUTE = 25
MINUTES_MAX = 20  # the job is stopped at 20 minutes: its worst case is $5.00


def show(wallet: Wallet) -> str:
    def usd(cents: int) -> str:
        return format_money(cents, "USD", wallet.minor_unit_exponent)

    return f"balance {usd(wallet.balance)}, held {usd(wallet.held_balance)}, available {usd(wallet.available_balance)}"


def run_billed_job(wallet: WalletClient, customer_id: str, job_id: str, job: Callable[[], int]) -> str:
    """Runs `job` (which returns the minutes it used) if the customer can pay its worst case."""
    worst_case = MINUTES_MAX * CENTS_PER_MINUTE
    try:
        hold = wallet.hold(
            customer_id,
            worst_case,
            "USD",
            ttl=timedelta(minutes=MINUTES_MAX + 5),  # a little longer than the job may run
            reason=f"Render job {job_id}",
            idempotency_key=f"job:{job_id}",
            metadata={"job_id": job_id},
        ).hold
    except InsufficientBalance as refused:
        short = format_money(refused.amount - refused.available_balance, "USD", 2)
        return f"job {job_id}: not started, {short} short of the worst case {format_money(worst_case, 'USD', 2)}"
    try:
        minutes = job()
    except Exception as failure:
        released = wallet.release(customer_id, hold.id)
        return f"job {job_id}: failed ({failure}), nothing charged; {show(released.wallet)}"
    cost = min(minutes, MINUTES_MAX) * CENTS_PER_MINUTE
    captured = wallet.capture(customer_id, hold.id, cost, metadata={"minutes": str(minutes)})
    returned = format_money(hold.amount - cost, "USD", 2)
    return (
        f"job {job_id}: charged {format_money(cost, 'USD', 2)} for {minutes} min, {returned} returned; "
        f"{show(captured.wallet)}"
    )


def failing_job() -> int:
    raise RuntimeError("out of GPU memory")


def main(customer_id: str | None = None) -> int:
    customer_id = customer_id or f"cus_demo_{uuid.uuid4().hex[:8]}"
    with WalletClient() as wallet:
        wallet.credit(customer_id, 800, "USD", reason="Prepaid credits")  # $8.00
        print(run_billed_job(wallet, customer_id, f"{customer_id}-a", lambda: 7))  # 7 minutes: $1.75
        print(run_billed_job(wallet, customer_id, f"{customer_id}-b", failing_job))
        # $6.25 left: enough for one more worst case, not for two at once.
        second = wallet.hold(customer_id, 500, "USD", reason="Another job, running")
        print(run_billed_job(wallet, customer_id, f"{customer_id}-c", lambda: 1))
        wallet.release(customer_id, second.hold.id)
        print(f"{customer_id}: {show(wallet.get_balances(customer_id)['USD'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
