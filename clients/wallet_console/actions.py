"""The console's actions: each reads its form, says what it will do in words, and does it once.

Every action is a form posted to /customers/<id>/confirm, which answers with
the change in words ("Credit $150.00 to cus_1?") and a Confirm button; that
posts the same fields to /customers/<id>/apply. The idempotency key is fixed
when the form is first rendered, so a double click, a resubmitted form or a
retried Confirm applies once. Each action is one builder in ACTIONS and one
form in the page (Reverse sits on each entry of the history). Reading the
form's fields is wallet_console/action_forms.py's job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from wallet_client import AsyncWalletClient, Balances, EntryResult, EntryType, ReversalExceedsEntry, Wallet, WalletError
from wallet_client.money import format_money
from wallet_console.action_forms import (
    FormError,
    form_amount,
    form_key,
    form_reason,
    form_wallet,
    money,
    wallet_now,
)
from wallet_console.entries import NoSuchEntry, find_entry

# What a hold may be placed for, as the form offers it.
HOLD_TTLS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}
TTL_WORDS = {"15m": "15 minutes", "1h": "1 hour", "1d": "1 day", "7d": "7 days"}


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


def _entry_done(verb: str, result: EntryResult, wallet: Wallet, customer_id: str) -> str:
    entry = result.entry
    if result.idempotent_replay:
        return f"Already applied as entry {entry.id}; nothing new was written."
    balance = format_money(result.wallet.balance, wallet.currency, wallet.minor_unit_exponent)
    shown = money(wallet, entry.amount)
    return f"{verb} {shown} ({customer_id}, entry {entry.id}). {wallet.currency} balance: {balance}."


async def credit(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    wallet = form_wallet(form, balances)
    amount, reason, key = form_amount(form, wallet), form_reason(form), form_key(form)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.credit(customer_id, amount, wallet.currency, reason, key)
        return _entry_done("Credited", result, wallet, customer_id)

    return Plan("credit", f"Credit {money(wallet, amount)} to {customer_id}?", form, run, wallet_now(wallet))


async def debit(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    wallet = form_wallet(form, balances)
    amount, reason, key = form_amount(form, wallet), form_reason(form), form_key(form)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.debit(customer_id, amount, wallet.currency, reason, key)
        return _entry_done("Debited", result, wallet, customer_id)

    return Plan("debit", f"Debit {money(wallet, amount)} from {customer_id}?", form, run, wallet_now(wallet))


async def hold(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    wallet = form_wallet(form, balances)
    amount, reason, key = form_amount(form, wallet), form_reason(form), form_key(form)
    ttl = form.get("ttl", "15m")
    if ttl not in HOLD_TTLS:
        raise FormError("ttl", f"Choose how long the hold lasts: {', '.join(TTL_WORDS.values())}.")

    async def run(client: AsyncWalletClient) -> str:
        result = await client.hold(
            customer_id, amount, wallet.currency, ttl=HOLD_TTLS[ttl], reason=reason, idempotency_key=key
        )
        if result.idempotent_replay:
            return f"Already applied as hold {result.hold.id}; nothing new was written."
        return f"Held {money(wallet, amount)} of {customer_id}'s {wallet.currency} wallet (hold {result.hold.id})."

    question = f"Hold {money(wallet, amount)} of {customer_id}'s {wallet.currency} wallet for {TTL_WORDS[ttl]}?"
    return Plan("hold", question, form, run, wallet_now(wallet))


async def threshold(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    wallet = form_wallet(form, balances)
    amount = form_amount(form, wallet, zero_ok=True)

    async def run(client: AsyncWalletClient) -> str:
        await client.set_low_balance_threshold(customer_id, wallet.currency, amount)
        if not amount:
            return f"Low-balance alerts are off for {customer_id}'s {wallet.currency} wallet."
        return f"{customer_id}'s {wallet.currency} wallet now counts as low below {money(wallet, amount)}."

    if amount:
        question = f"Set {customer_id}'s {wallet.currency} wallet to count as low below {money(wallet, amount)}?"
    else:
        question = f"Switch off low-balance alerts for {customer_id}'s {wallet.currency} wallet?"
    return Plan("threshold", question, form, run, wallet_now(wallet))


async def capture(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    hold_id = form.get("hold_id", "")
    found = await client.get_hold(customer_id, hold_id)
    wallet = form_wallet({"currency": found.currency}, balances)
    amount = form_amount(form, wallet) if form.get("amount", "").strip() else 0
    reason = form_reason(form, required=False)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.capture(customer_id, hold_id, amount, reason=reason)
        spent = money(wallet, result.hold.captured_amount)
        if result.idempotent_replay:
            return f"Already captured: hold {hold_id} was captured for {spent}; nothing new was written."
        return f"Captured {spent} of hold {hold_id} (debit entry {result.entry.id})."

    held = money(wallet, found.amount)
    question = (
        f"Capture {money(wallet, amount)} of hold {hold_id} ({held}) from {customer_id}?"
        if amount
        else f"Capture all {held} of hold {hold_id} from {customer_id}?"
    )
    return Plan("capture", question, form, run, wallet_now(wallet))


async def release(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    hold_id = form.get("hold_id", "")
    found = await client.get_hold(customer_id, hold_id)
    wallet = form_wallet({"currency": found.currency}, balances)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.release(customer_id, hold_id)
        if result.idempotent_replay:
            return f"Already released: hold {hold_id}; nothing new was written."
        return f"Released hold {hold_id}: {money(wallet, found.amount)} is available again."

    question = f"Release hold {hold_id}, returning {money(wallet, found.amount)} to {customer_id}'s available balance?"
    return Plan("release", question, form, run, wallet_now(wallet))


async def reverse(customer_id: str, form: Mapping[str, str], balances: Balances, client: AsyncWalletClient) -> Plan:
    """A refund of a debit or a reclaim of a credit: the amount typed, or (empty) all that may be reversed."""
    entry_id = form.get("entry_id", "")
    try:
        entry = await find_entry(client, customer_id, entry_id)
    except NoSuchEntry:
        raise FormError("form", f"{entry_id!r} is not one of {customer_id}'s entries.") from None
    wallet = form_wallet({"currency": entry.currency}, balances)
    amount = form_amount(form, wallet, zero_ok=True) if form.get("amount", "").strip() else 0
    reason, key = form_reason(form), form_key(form)
    refund = entry.entry_type is EntryType.DEBIT
    left = money(wallet, entry.amount - entry.reversed_amount)

    async def run(client: AsyncWalletClient) -> str:
        result = await client.reverse(customer_id, entry_id, amount, reason=reason, idempotency_key=key)
        if result.idempotent_replay:
            return f"Already applied as entry {result.entry.id}; nothing new was written."
        done = "Refunded" if refund else "Reclaimed"
        balance = money(wallet, result.wallet.balance)
        return (
            f"{done} {money(wallet, result.entry.amount)} of {entry_id} ({customer_id}, entry {result.entry.id}). "
            f"{wallet.currency} balance: {balance}."
        )

    def explain(error: WalletError) -> str:
        if isinstance(error, ReversalExceedsEntry):
            return f"{error.message} (minor units). What may be reversed now: {money(wallet, error.reversible)}."
        return error.message

    if refund:
        shown = money(wallet, amount) if amount else f"all {left} left"
        question = f"Refund {shown} of {entry_id} to {customer_id}?"
    else:
        shown = money(wallet, amount) if amount else f"all that is unspent (at most {left})"
        question = f"Reclaim {shown} of {entry_id} from {customer_id}?"
    so_far = f"{money(wallet, entry.reversed_amount)} {'refunded' if refund else 'reclaimed'} so far"
    about = f"{entry_id} is a {entry.entry_type.value} of {money(wallet, entry.amount)} ({entry.reason}); {so_far}. "
    return Plan("reverse", question, form, run, about + wallet_now(wallet), explain)


ACTIONS: dict[str, Builder] = {
    "credit": credit,
    "debit": debit,
    "hold": hold,
    "threshold": threshold,
    "capture": capture,
    "release": release,
    "reverse": reverse,
}
