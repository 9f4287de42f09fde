"""What every fault and concurrency test ends with: the ledger verifier (`wallet-admin verify`) over the whole database.

`server.verify` checks every wallet from SQL alone: each balance equals the sum
of its entries, each entry starts where the previous one of its wallet ended,
positions run 1..n per customer with the head row at n, and no idempotency key
was applied twice; held balances equal the active holds, each expiring credit's
lot its amount less its draws (never negative), versions count the changes, and
every change since events began has exactly its events. It names the first bad entry.
"""

from __future__ import annotations

from server.verify import verify


class LedgerInconsistent(AssertionError):
    """The ledger breaks one of its invariants; the message names the first bad row."""


def ledger_problems(database_url: str) -> list[str]:
    """Every problem the ledger verifier finds, first bad entry first."""
    return verify(database_url).problems


def assert_ledger_consistent(database_url: str) -> None:
    """Fails with the verifier's report unless every wallet of the database is consistent."""
    problems = ledger_problems(database_url)
    if problems:
        raise LedgerInconsistent("ledger inconsistent:\n" + "\n".join(problems))
