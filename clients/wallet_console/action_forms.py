"""Reading the fields of a console action's form: each checked, or a FormError naming the field to fix.

Also the money and the wallet in words, as the actions' questions and answers show them.
"""

from __future__ import annotations

from collections.abc import Mapping

from wallet_client import Balances, Wallet
from wallet_client.money import AmountError, format_money, parse_amount

# Fields an action form may carry; anything else is ignored.
# `page`: the query string of the history page a Reverse form was on, to show it again with a refusal.
FIELDS = ("action", "amount", "currency", "reason", "ttl", "hold_id", "entry_id", "page", "idempotency_key")
REASON_MAX = 500


class FormError(Exception):
    """A field of the form that cannot be used; shown next to it, the form kept as it was."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def form_wallet(form: Mapping[str, str], balances: Balances) -> Wallet:
    currency = form.get("currency", "").strip().upper()
    for wallet in balances:
        if wallet.currency == currency:
            return wallet
    known = ", ".join(w.currency for w in balances)
    raise FormError("currency", f"Choose one of the service's currencies ({known}).")


def form_amount(form: Mapping[str, str], wallet: Wallet, *, zero_ok: bool = False) -> int:
    text = form.get("amount", "").strip()
    if not text:
        raise FormError("amount", "Enter an amount, e.g. 150.00.")
    try:
        return parse_amount(text, wallet.minor_unit_exponent, wallet.currency, zero_allowed=zero_ok)
    except AmountError as error:
        raise FormError("amount", f"{error}.") from None


def form_reason(form: Mapping[str, str], required: bool = True) -> str:
    reason = form.get("reason", "").strip()
    if required and not reason:
        raise FormError("reason", "A reason is required: it stays in the customer's history.")
    if len(reason) > REASON_MAX:
        raise FormError("reason", f"Keep the reason under {REASON_MAX} characters.")
    return reason


def form_key(form: Mapping[str, str]) -> str:
    key = form.get("idempotency_key", "")
    if not key:
        raise FormError("idempotency_key", "The form lost its idempotency key: reload the page.")
    return key


def money(wallet: Wallet, minor: int) -> str:
    """`minor` units as a person writes the amount in the wallet's currency."""
    return format_money(minor, wallet.currency, wallet.minor_unit_exponent)


def wallet_now(wallet: Wallet) -> str:
    """The wallet as it stands, in words, for a confirmation to show."""
    return (
        f"{wallet.currency} wallet now: balance {money(wallet, wallet.balance)}, "
        f"held {money(wallet, wallet.held_balance)}, available {money(wallet, wallet.available_balance)}."
    )
