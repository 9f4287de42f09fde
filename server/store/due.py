"""What is due, in SQL: the one statement of the rule that `server.domain.settle` states in Python.

Due is what must be posted before anyone is answered: an active hold whose
`expire_time` has come, and a lot (an expiring credit) whose `expire_time`
has come while some of its money is neither spent nor held. Every statement
that asks "is anything due?" builds its condition from `hold_due` and
`lot_due`; tests/integration/test_due_rule.py checks on generated holds and
lots that PostgreSQL and `server.domain.settle.hold_is_due`/`lot_is_due` agree.

"Now" is the service clock's, in SQL (`server.store.service_time`): at the
statement for a write batch and a read, at the scan for the expirer.
"""

from __future__ import annotations

from server.store.service_time import AT_STATEMENT


def hold_due(hold: str, now: str = AT_STATEMENT) -> str:
    """The condition on the row `hold` (a holds alias) that the hold is due at `now`."""
    return f"{hold}.status = 'active' AND {hold}.expire_time <= {now}"


def lot_due(lot: str, now: str = AT_STATEMENT) -> str:
    """The condition on the row `lot` (a credit_lots alias) that the lot is due at `now`."""
    return f"{lot}.remaining > {lot}.held AND {lot}.expire_time <= {now}"


# Implied by `remaining > held` on every stored lot (0 <= held), and said besides so that a
# customer's lookup matches the partial index credit_lots_open_idx (customer_id WHERE remaining > 0).
_OPEN_LOT = "{lot}.remaining > 0"


def customer_due(customer: str) -> str:
    """Whether anything of the customer named by the SQL expression `customer` is due now."""
    return f"""(
    EXISTS (SELECT 1 FROM holds h WHERE h.customer_id = {customer} AND {hold_due("h")})
    OR EXISTS (SELECT 1 FROM credit_lots l
               WHERE l.customer_id = {customer} AND {_OPEN_LOT.format(lot="l")} AND {lot_due("l")})
)"""
