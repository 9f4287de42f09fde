"""What the command prints: money tables, and one clear sentence (plus an exit code) per error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import grpc

from wallet_client import errors, hold_errors
from wallet_client.cli.reversal_messages import REVERSAL_REFUSALS, reversal_message
from wallet_client.models import Wallet
from wallet_client.money import format_money

# Exit codes, documented in docs/clients.md.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # also what Typer uses for bad arguments
EXIT_REFUSED = 3  # the ledger refused the entry: insufficient balance, overflow
EXIT_KEY_REUSED = 4
EXIT_UNAVAILABLE = 5  # the service did not answer; a write may be retried with its key
EXIT_NOT_FOUND = 6  # no such hold or entry
EXIT_INTERRUPTED = 130

# Exponent assumed for a currency the server did not describe (it always does for its own).
FALLBACK_EXPONENT = 2


@dataclass
class Attempt:
    """What a command is doing, so that its failure can be explained; filled in as the command learns it.

    `write` names the write ("entry", "hold", "capture", "release"; "" for a
    read); `again` is what to add to the command, beside the idempotency key,
    so that running it again repeats the very same request.
    """

    exponents: dict[str, int] = field(default_factory=dict)
    write: str = ""
    again: str = ""
    # The currency of the hold a capture or release is about, once known.
    currency: str = ""


def money(minor_units: int, currency: str, exponents: Mapping[str, int]) -> str:
    return format_money(minor_units, currency, exponents.get(currency, FALLBACK_EXPONENT))


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "never"


def wallet_money(wallet: Wallet, minor_units: int) -> str:
    return format_money(minor_units, wallet.currency, wallet.minor_unit_exponent)


def wallet_line(wallet: Wallet) -> str:
    """`USD balance: $100.00, held $12.00, available $88.00 (8800 minor units)`."""
    held = wallet_money(wallet, wallet.held_balance)
    available = wallet_money(wallet, wallet.available_balance)
    return (
        f"{wallet.currency} balance: {wallet_money(wallet, wallet.balance)}, held {held}, "
        f"available {available} ({wallet.available_balance} minor units)"
    )


@dataclass(frozen=True)
class Failure:
    """What to tell the user about an error, and the exit code."""

    message: str
    exit_code: int


def describe_error(error: errors.WalletError, attempt: Attempt, target: str) -> Failure:
    """One or two sentences a person can act on; never a traceback."""
    failure = _describe(error, attempt, target)
    if not error.replayed:
        return failure
    key = f" ({error.idempotency_key})" if error.idempotency_key else ""
    return Failure(
        f"{failure.message}: refused earlier with this key{key}, and nothing was written. The same key gets the "
        "same answer whatever changed since; to try again (after a top-up, say), use a new --idempotency-key",
        failure.exit_code,
    )


def _describe(error: errors.WalletError, attempt: Attempt, target: str) -> Failure:
    exponents = attempt.exponents
    if isinstance(error, errors.InsufficientBalance):
        has = money(error.balance, error.currency, exponents)
        needs = money(error.amount, error.currency, exponents)
        if error.held_balance:
            available = money(error.available_balance, error.currency, exponents)
            held = money(error.held_balance, error.currency, exponents)
            message = f"Insufficient balance: {available} available ({has} less {held} held), needs {needs}"
            return Failure(message, EXIT_REFUSED)
        return Failure(f"Insufficient balance: has {has}, needs {needs}", EXIT_REFUSED)
    if isinstance(error, errors.BalanceOverflow):
        has = money(error.balance, error.currency, exponents)
        return Failure(f"Balance overflow: the {error.currency} wallet holds {has}, it cannot take more", EXIT_REFUSED)
    if isinstance(error, errors.IdempotencyKeyReused):
        original = f"hold {error.hold_id}" if error.hold_id else f"entry {error.entry_id}"
        return Failure(
            f"Idempotency key {error.idempotency_key!r} was already used for a different request "
            f"({original}); repeat that request exactly, or use a new key",
            EXIT_KEY_REUSED,
        )
    if isinstance(error, hold_errors.HoldNotFound):
        return Failure(f"No hold {error.hold_id}: the customer has no hold with this id", EXIT_NOT_FOUND)
    if isinstance(error, hold_errors.HoldNotActive):
        status = error.hold_status.value if error.hold_status else "closed"
        return Failure(
            f"Hold {error.hold_id} is already {status}: only an active hold can be captured or released", EXIT_REFUSED
        )
    if isinstance(error, hold_errors.CaptureExceedsHold):
        if attempt.currency:
            asked, held = (money(m, attempt.currency, exponents) for m in (error.amount, error.hold_amount))
        else:
            asked, held = (f"{m} minor units" for m in (error.amount, error.hold_amount))
        return Failure(f"Capture of {asked} exceeds hold {error.hold_id} of {held}", EXIT_REFUSED)
    if isinstance(error, REVERSAL_REFUSALS):
        code = EXIT_NOT_FOUND if error.code is grpc.StatusCode.NOT_FOUND else EXIT_REFUSED
        return Failure(reversal_message(error, attempt.currency, exponents), code)
    if isinstance(error, errors.CursorExpired):
        return Failure(
            f"Cursor {error.cursor} has expired: the events after it are no longer kept (the oldest kept follow "
            f"{error.oldest_cursor}); watch again with --from-oldest, knowing some events were missed",
            EXIT_REFUSED,
        )
    if isinstance(error, errors.InvalidRequest):
        problems = "; ".join(f"{v.field} {v.description}" for v in error.violations) or error.message
        return Failure(f"Invalid request: {problems}", EXIT_USAGE)
    if isinstance(error, errors.WalletUnavailable):
        message = (
            f"Wallet service unavailable at {target} ({error.code.name}: {error.message}); "
            f"gave up after {error.attempts} attempt{'s' if error.attempts != 1 else ''}"
        )
        if error.idempotency_key:
            message += (
                f". The {attempt.write or 'write'} may or may not have been applied: run the same command again "
                f"with --idempotency-key {error.idempotency_key}{attempt.again} to retry it safely"
            )
        elif attempt.write in ("capture", "release"):
            message += (
                f". The {attempt.write} may or may not have been applied: running the same command again is "
                f"safe, a repeated {attempt.write} is applied once"
            )
        return Failure(message, EXIT_UNAVAILABLE)
    return Failure(f"Wallet error ({error.code.name}): {error.message}", EXIT_ERROR)
