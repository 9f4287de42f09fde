"""Who is calling, and may they call this method.

Callers are other services. Each is configured in the file named by
WALLET_AUTH_FILE with the scopes it holds, and proves who it is with a bearer
token (`authorization: Bearer <token>` metadata) whose SHA-256 the file
stores, or with its mTLS client certificate (matched on the subject common
name). The file holds no usable secret: only token hashes. Tokens are compared
in constant time and never logged.

Reads (GetBalances, ListLedgerEntries, GetHold, ListHolds, WatchEvents,
SummarizeLedger) need `wallet.read`; writes (CreateLedgerEntry,
BatchCreateLedgerEntries, CreateHold, CaptureHold, ReleaseHold,
SetLowBalanceThreshold, ReverseLedgerEntry) need `wallet.write`; the
WebhookService needs `webhooks.admin`; GetCallerInfo any valid credential
(METHOD_SCOPES). A unit test holds every method to a scope. Health checking
and reflection stay open.

The interceptor authorizes each call before its handler runs and records the
caller's name for the duration of the call; the servicer reads it once with
`authenticated_caller()` and passes it on explicitly (entries keep it as
`created_by`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from server.domain.errors import PermissionDenied, Unauthenticated

READ_SCOPE = "wallet.read"
WRITE_SCOPE = "wallet.write"
WEBHOOKS_SCOPE = "webhooks.admin"
KNOWN_SCOPES = frozenset({READ_SCOPE, WRITE_SCOPE, WEBHOOKS_SCOPE})
# A method any authenticated caller may call, whatever its scopes.
ANY_CALLER = ""

METHOD_SCOPES: Mapping[str, str] = {
    "/wallet.v1.WalletService/GetBalances": READ_SCOPE,
    "/wallet.v1.WalletService/ListLedgerEntries": READ_SCOPE,
    "/wallet.v1.WalletService/CreateLedgerEntry": WRITE_SCOPE,
    "/wallet.v1.WalletService/BatchCreateLedgerEntries": WRITE_SCOPE,
    "/wallet.v1.WalletService/CreateHold": WRITE_SCOPE,
    "/wallet.v1.WalletService/CaptureHold": WRITE_SCOPE,
    "/wallet.v1.WalletService/ReleaseHold": WRITE_SCOPE,
    "/wallet.v1.WalletService/GetHold": READ_SCOPE,
    "/wallet.v1.WalletService/ListHolds": READ_SCOPE,
    "/wallet.v1.WalletService/WatchEvents": READ_SCOPE,
    "/wallet.v1.WalletService/SetLowBalanceThreshold": WRITE_SCOPE,
    "/wallet.v1.WalletService/SummarizeLedger": READ_SCOPE,
    "/wallet.v1.WalletService/ReverseLedgerEntry": WRITE_SCOPE,
    # Any authenticated caller, whatever its scopes: it only tells the caller about itself.
    "/wallet.v1.WalletService/GetCallerInfo": ANY_CALLER,
    # Endpoints receive every event of every customer: their own scope.
    "/wallet.v1.WebhookService/CreateWebhookEndpoint": WEBHOOKS_SCOPE,
    "/wallet.v1.WebhookService/GetWebhookEndpoint": WEBHOOKS_SCOPE,
    "/wallet.v1.WebhookService/ListWebhookEndpoints": WEBHOOKS_SCOPE,
    "/wallet.v1.WebhookService/DeleteWebhookEndpoint": WEBHOOKS_SCOPE,
    "/wallet.v1.WebhookService/RotateWebhookSecret": WEBHOOKS_SCOPE,
    "/wallet.v1.WebhookService/ListWebhookDeliveries": WEBHOOKS_SCOPE,
}
_BEARER = "bearer "

# The authorized caller of the RPC running in this task ("" when auth is off).
_caller: ContextVar[str] = ContextVar("wallet_caller", default="")
# ... and the scopes it holds.
_scopes: ContextVar[frozenset[str]] = ContextVar("wallet_caller_scopes", default=frozenset())


def authenticated_caller() -> str:
    """The name of the authorized caller of the current RPC, or "" when authentication is off."""
    return _caller.get()


def authenticated_scopes() -> frozenset[str]:
    """The scopes of the authorized caller of the current RPC (empty when authentication is off)."""
    return _scopes.get()


def record_caller(name: str, scopes: frozenset[str] = frozenset()) -> None:
    """Called by the interceptor once it has authorized the current RPC."""
    _caller.set(name)
    _scopes.set(scopes)


class AuthConfigError(ValueError):
    """The auth file is missing, malformed, or grants unknown scopes."""


@dataclass(frozen=True)
class Caller:
    """A configured calling service."""

    name: str
    scopes: frozenset[str]
    token_sha256: bytes | None = None
    certificate_common_name: str | None = None


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as the auth file stores it."""
    return hashlib.sha256(token.encode()).hexdigest()


def load_callers(path: str) -> list[Caller]:
    """Reads `{"callers": [{"name", "scopes", "token_sha256" | "certificate_common_name"}]}`."""
    try:
        document = json.loads(Path(path).read_text())
        entries = document["callers"]
        callers = []
        for entry in entries:
            scopes = frozenset(entry["scopes"])
            if not scopes <= KNOWN_SCOPES:
                raise AuthConfigError(f"{entry['name']}: unknown scopes {sorted(scopes - KNOWN_SCOPES)}")
            token_hash = entry.get("token_sha256")
            common_name = entry.get("certificate_common_name")
            if not token_hash and not common_name:
                raise AuthConfigError(f"{entry['name']}: needs token_sha256 or certificate_common_name")
            callers.append(
                Caller(
                    name=str(entry["name"]),
                    scopes=scopes,
                    token_sha256=bytes.fromhex(token_hash) if token_hash else None,
                    certificate_common_name=common_name,
                )
            )
    except (OSError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, AuthConfigError):
            raise
        raise AuthConfigError(f"WALLET_AUTH_FILE {path}: {error}") from error
    return callers


class Authenticator:
    """Decides, per call, which configured caller is calling and whether it may."""

    def __init__(self, callers: Sequence[Caller]) -> None:
        self._token_callers = [c for c in callers if c.token_sha256 is not None]
        self._certificate_callers = {c.certificate_common_name: c for c in callers if c.certificate_common_name}
        self._scopes = {c.name: c.scopes for c in callers}

    def authorize(
        self, method: str, metadata: Sequence[tuple[str, str | bytes]], certificate_common_names: Sequence[str]
    ) -> str | None:
        """The caller's name if it may call `method`; None for open methods (health, reflection).

        Raises Unauthenticated without a known credential and PermissionDenied
        without the method's scope.
        """
        scope = METHOD_SCOPES.get(method)
        if scope is None:
            return None
        caller = self._by_token(metadata) or self._by_certificate(certificate_common_names)
        if caller is None:
            raise Unauthenticated("A valid credential is required: a bearer token or a client certificate")
        if scope != ANY_CALLER and scope not in caller.scopes:
            raise PermissionDenied(f"Caller {caller.name} lacks the {scope} scope", {"scope": scope})
        return caller.name

    def scopes_of(self, name: str) -> frozenset[str]:
        """The scopes of the configured caller named `name`."""
        return self._scopes.get(name, frozenset())

    def _by_token(self, metadata: Sequence[tuple[str, str | bytes]]) -> Caller | None:
        token = next((v for k, v in metadata if k == "authorization" and isinstance(v, str)), None)
        if token is None or not token.lower().startswith(_BEARER):
            return None
        digest = hashlib.sha256(token[len(_BEARER) :].strip().encode()).digest()
        found = None
        # Compare against every caller, in constant time each, so timing reveals nothing.
        for caller in self._token_callers:
            assert caller.token_sha256 is not None
            if hmac.compare_digest(digest, caller.token_sha256):
                found = caller
        return found

    def _by_certificate(self, common_names: Sequence[str]) -> Caller | None:
        for name in common_names:
            caller = self._certificate_callers.get(name)
            if caller is not None:
                return caller
        return None
