"""Who the service takes the caller to be (GetCallerInfo), described once for both clients (see `calls`)."""

from __future__ import annotations

from dataclasses import dataclass

from wallet.v1 import wallet_pb2
from wallet_client.calls import UnaryCall
from wallet_client.retry import READ_RETRY_CODES

READ_SCOPE = "wallet.read"
WRITE_SCOPE = "wallet.write"


@dataclass(frozen=True)
class CallerInfo:
    """The caller as the service authenticated it: its name (entries' `created_by`) and its scopes.

    With authentication off, `auth_enabled` is False, `name` empty and every scope held.
    """

    name: str
    scopes: frozenset[str]
    auth_enabled: bool

    @property
    def can_read(self) -> bool:
        return READ_SCOPE in self.scopes

    @property
    def can_write(self) -> bool:
        return WRITE_SCOPE in self.scopes

    @classmethod
    def from_proto(cls, message: wallet_pb2.GetCallerInfoResponse) -> CallerInfo:
        return cls(name=message.name, scopes=frozenset(message.scopes), auth_enabled=message.auth_enabled)


def caller_info(*, timeout_s: float | None = None) -> UnaryCall[CallerInfo]:
    """The caller's name and scopes; Unauthenticated when the service does not know its credential."""
    request = wallet_pb2.GetCallerInfoRequest()
    return UnaryCall("GetCallerInfo", request, READ_RETRY_CODES, CallerInfo.from_proto, timeout_s)
