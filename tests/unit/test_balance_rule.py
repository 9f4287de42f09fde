"""The pure rule of one entry: debits never overdraw, credits never overflow."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.entry_rules import balance_after
from server.domain.errors import BalanceOverflow, InsufficientFunds
from server.domain.limits import AMOUNT_MAX, BALANCE_MAX
from server.domain.model import EntryRequest, EntryType


def request(entry_type: EntryType, amount: int) -> EntryRequest:
    return EntryRequest("cus_1", "USD", entry_type, amount, "", "", {})


def test_a_debit_of_the_whole_balance_leaves_zero() -> None:
    assert balance_after(500, request(EntryType.DEBIT, 500)) == 0


def test_a_debit_beyond_the_balance_is_insufficient_funds() -> None:
    with pytest.raises(InsufficientFunds):
        balance_after(499, request(EntryType.DEBIT, 500))


def test_a_credit_up_to_the_int64_maximum_is_allowed_and_one_more_overflows() -> None:
    assert balance_after(BALANCE_MAX - 10, request(EntryType.CREDIT, 10)) == BALANCE_MAX
    with pytest.raises(BalanceOverflow):
        balance_after(BALANCE_MAX - 10, request(EntryType.CREDIT, 11))


@given(
    balance=st.integers(min_value=0, max_value=BALANCE_MAX),
    amount=st.integers(min_value=1, max_value=AMOUNT_MAX),
    entry_type=st.sampled_from([EntryType.CREDIT, EntryType.DEBIT]),
)
def test_a_balance_after_any_entry_stays_within_zero_and_int64(
    balance: int, amount: int, entry_type: EntryType
) -> None:
    try:
        after = balance_after(balance, request(entry_type, amount))
    except (InsufficientFunds, BalanceOverflow):
        return
    assert 0 <= after <= BALANCE_MAX
    assert after - balance == (amount if entry_type is EntryType.CREDIT else -amount)
