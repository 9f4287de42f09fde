"""The ledger verifier and the operator's command around it (`wallet-admin verify`, `make verify`).

`ledger` proves from the stored rows alone that the books balance (balances,
before/after chains, history positions, idempotency keys) and runs the checks
of `credits` (holds, expiring credits and their lots, versions) and `events`
(the outbox: one event per change); `checks` is how each check runs; `admin`
is the command. Everything is read in one REPEATABLE READ snapshot.
"""

from server.verify.ledger import Report, verify

__all__ = ["Report", "verify"]
