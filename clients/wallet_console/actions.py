"""The console's actions: each reads its form, says what it will do in words, and does it once.

Every action is a form posted to /customers/<id>/confirm, which answers with
the change in words ("Credit $150.00 to cus_1?") and a Confirm button; that
posts the same fields to /customers/<id>/apply. The idempotency key is fixed
when the form is first rendered, so a double click, a resubmitted form or a
retried Confirm applies once. Each action is one builder in ACTIONS and one
form in the page (Reverse sits on each entry of the history).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from wallet_client import AsyncWalletClient, Balances, EntryResult, EntryType, ReversalExceedsEntry, Wallet, WalletError
from wallet_client.money import AmountError, format_money, parse_amount
from wallet_console.entries import NoSuchEntry, find_entry

# What a hold may be placed for, as the form offers it.
HOLD_TTLS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}
TTL_WORDS = {"15m": "15 minutes", "1h": "1 hour", "1d": "1 day", "7d": "7 days"}
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


@dataclass(frozen=True)
class Plan:
    """A checked action: the question to confirm, the fields to send again, and what doing it takes."""

    action: str
    question: str
    fields: Mapping[str, str]
    run: Callable[[AsyncWalletClient], Awaitable[str]]
    # The wallet as it stands, for the confirmation to show beside the question.
    now: str = ""
    # A refusal of the service in its own words, and what the console adds to it (money as a person writes it).
    explain: Callable[[WalletError], str] = lambda error: error.message


Builder = Callable[[str, Mapping[str, str], Balances, AsyncWalletClient], Awaitable[Plan]]


def _wallet(form: Mapping[str, str], balances: Balances) -> Wallet:
    currency = form.get("currency", "").strip().upper()
    for wallet in balances:
        if wallet.currency == currency:
            return wallet
    known = ", ".join(w.currency for w in balances)
    raise FormError("currency", f"Choose one of the service's currencies ({known}).")


def _amount(form: Mapping[str, str], wallet: Wallet, *, zero_ok: bool = False) -> int:
    text = form.get("amount", "").strip()
    if not text:
        raise FormError("amount", "Enter an amount, e.g. 150.00.")
    try:
        return parse_amount(text, wallet.minor_unit_exponent, wallet.currency, zero_allowed=zero_ok)
    except AmountError as error:
        raise FormError("amount", f"{error}.") from None


def _reason(form: Mapping[str, str], required: bool = True) -> str:
    reason = form.get("reason", "").strip()
    if required and not reason:
        raise FormError("reason", "A reason is required: it stays in the customer's history.")
    if len(reason) > REASON_MAX:
        raise FormError("reason", f"Keep the reason under {REASON_MAX} characters.")
    return reason


def _key(form: Mapping[str, str]) -> str:
    key = form.get("idempotency_key", "")
    if not key:
        raise FormError("idempotency_key", "The form lost its idempotency key: reload the page.")
    return key


def _show(wallet: Wallet, minor: int) -> str:
    return format_money(minor, wallet.currency, wallet.minor_unit_exponent)


def _now(wallet: Wallet) -> str:
    return (
        f"{wallet.currency} wallet now: balance {_show(wallet, wallet.balance)}, "
        f"held {_show(wallet, wallet.held_balance)}, available {_show(wallet, wallet.available_balance)}."
    )


def _entry_done(verb: str, result: EntryResult, wallet: Wallet, customer_id: str) -> str:
    entry = result.entry
    if result.idempotent_replay:
        return f"Already applied as entry {entry.id}; nothing new was written."
    balance = format_money(result.wallet.balance, wallet.currency, wallet.minor_unit_exponent)
    shown = _show(wallet, entry.amount)
    return f"{verb} {shown} ({customer_id}, entry {entry.id}). {wallet.currency} balance: {balance}."


async def credit(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    wallet = _wallet(form, balances)
    amount, reason, key = _amount(form, wallet), _reason(form), _key(form)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.credit(customer_id, amount, wallet.currency, reason, key)
        return _entry_done("Credited", result, wallet, customer_id)

    return Plan("credit", f"Credit {_show(wallet, amount)} to {customer_id}?", form, run, _now(wallet))


async def debit(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    wallet = _wallet(form, balances)
    amount, reason, key = _amount(form, wallet), _reason(form), _key(form)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.debit(customer_id, amount, wallet.currency, reason, key)
        return _entry_done("Debited", result, wallet, customer_id)

    return Plan("debit", f"Debit {_show(wallet, amount)} from {customer_id}?", form, run, _now(wallet))


async def hold(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    wallet = _wallet(form, balances)
    amount, reason, key = _amount(form, wallet), _reason(form), _key(form)
    ttl = form.get("ttl", "15m")
    if ttl not in HOLD_TTLS:
        raise FormError("ttl", f"Choose how long the hold lasts: {', '.join(TTL_WORDS.values())}.")

    async def run(client: AsyncWalletClient) -> str:
        result = await client.hold(
            customer_id, amount, wallet.currency, ttl=HOLD_TTLS[ttl], reason=reason, idempotency_key=key
        )
        if result.idempotent_replay:
            return f"Already applied as hold {result.hold.id}; nothing new was written."
        return f"Held {_show(wallet, amount)} of {customer_id}'s {wallet.currency} wallet (hold {result.hold.id})."

    question = f"Hold {_show(wallet, amount)} of {customer_id}'s {wallet.currency} wallet for {TTL_WORDS[ttl]}?"
    return Plan("hold", question, form, run, _now(wallet))


async def threshold(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    wallet = _wallet(form, balances)
    amount = _amount(form, wallet, zero_ok=True)

    async def run(client: AsyncWalletClient) -> str:
        await client.set_low_balance_threshold(customer_id, wallet.currency, amount)
        if not amount:
            return f"Low-balance alerts are off for {customer_id}'s {wallet.currency} wallet."
        return f"{customer_id}'s {wallet.currency} wallet now counts as low below {_show(wallet, amount)}."

    if amount:
        question = f"Set {customer_id}'s {wallet.currency} wallet to count as low below {_show(wallet, amount)}?"
    else:
        question = f"Switch off low-balance alerts for {customer_id}'s {wallet.currency} wallet?"
    return Plan("threshold", question, form, run, _now(wallet))


async def capture(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    hold_id = form.get("hold_id", "")
    found = await client.get_hold(customer_id, hold_id)
    wallet = _wallet({"currency": found.currency}, balances)
    amount = _amount(form, wallet) if form.get("amount", "").strip() else 0
    reason = _reason(form, required=False)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.capture(customer_id, hold_id, amount, reason=reason)
        spent = _show(wallet, result.hold.captured_amount)
        if result.idempotent_replay:
            return f"Already captured: hold {hold_id} was captured for {spent}; nothing new was written."
        return f"Captured {spent} of hold {hold_id} (debit entry {result.entry.id})."

    held = _show(wallet, found.amount)
    question = (
        f"Capture {_show(wallet, amount)} of hold {hold_id} ({held}) from {customer_id}?"
        if amount
        else f"Capture all {held} of hold {hold_id} from {customer_id}?"
    )
    return Plan("capture", question, form, run, _now(wallet))


async def release(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    hold_id = form.get("hold_id", "")
    found = await client.get_hold(customer_id, hold_id)
    wallet = _wallet({"currency": found.currency}, balances)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.release(customer_id, hold_id)
        if result.idempotent_replay:
            return f"Already released: hold {hold_id}; nothing new was written."
        return f"Released hold {hold_id}: {_show(wallet, found.amount)} is available again."

    question = f"Release hold {hold_id}, returning {_show(wallet, found.amount)} to {customer_id}'s available balance?"
    return Plan("release", question, form, run, _now(wallet))


async def reverse(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    """A refund of a debit or a reclaim of a credit: the amount typed, or (empty) all that may be reversed."""
    entry_id = form.get("entry_id", "")
    try:
        entry = await find_entry(client, customer_id, entry_id)
    except NoSuchEntry:
        raise FormError("form", f"{entry_id!r} is not one of {customer_id}'s entries.") from None
    wallet = _wallet({"currency": entry.currency}, balances)
    amount = _amount(form, wallet, zero_ok=True) if form.get("amount", "").strip() else 0
    reason, key = _reason(form), _key(form)
    refund = entry.entry_type is EntryType.DEBIT
    left = _show(wallet, entry.amount - entry.reversed_amount)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.reverse(customer_id, entry_id, amount, reason=reason, idempotency_key=key)
        if result.idempotent_replay:
            return f"Already applied as entry {result.entry.id}; nothing new was written."
        done = "Refunded" if refund else "Reclaimed"
        balance = _show(wallet, result.wallet.balance)
        return (
            f"{done} {_show(wallet, result.entry.amount)} of {entry_id} ({customer_id}, entry {result.entry.id}). "
            f"{wallet.currency} balance: {balance}."
        )

    def explain(error: WalletError) -> str:
        if isinstance(error, ReversalExceedsEntry):
            return f"{error.message} (minor units). What may be reversed now: {_show(wallet, error.reversible)}."
        return error.message

    if refund:
        shown = _show(wallet, amount) if amount else f"all {left} left"
        question = f"Refund {shown} of {entry_id} to {customer_id}?"
    else:
        shown = _show(wallet, amount) if amount else f"all that is unspent (at most {left})"
        question = f"Reclaim {shown} of {entry_id} from {customer_id}?"
    so_far = f"{_show(wallet, entry.reversed_amount)} {'refunded' if refund else 'reclaimed'} so far"
    about = f"{entry_id} is a {entry.entry_type.value} of {_show(wallet, entry.amount)} ({entry.reason}); {so_far}. "
    return Plan("reverse", question, form, run, about + _now(wallet), explain)


ACTIONS: dict[str, Builder] = {
    "credit": credit,
    "debit": debit,
    "hold": hold,
    "threshold": threshold,
    "capture": capture,
    "release": release,
    "reverse": reverse,
}
