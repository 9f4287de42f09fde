"""The console's settings, read once from the environment (documented in docs/console.md)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from wallet_client.connection import default_target

DEFAULT_ADDR = "127.0.0.1:8080"
ADDR_ENV = "WALLET_CONSOLE_ADDR"
ALLOW_REMOTE_ENV = "WALLET_CONSOLE_ALLOW_REMOTE"


class SettingsError(ValueError):
    """A setting that cannot be used, named with what is wrong."""


@dataclass(frozen=True)
class ConsoleSettings:
    """Where the console listens, which service it calls, and its limits."""

    addr: str = DEFAULT_ADDR
    target: str = field(default_factory=default_target)
    # Listen on a non-loopback address while the service authenticates no caller.
    allow_remote: bool = False
    # A session left alone this long is forgotten (its caller token with it).
    session_idle_s: float = 8 * 3600.0
    sessions_max: int = 10_000
    # Entries per history page, holds shown.
    history_page: int = 25
    holds_shown: int = 50
    # Deadline of each call to the service.
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ConsoleSettings:
        env = dict(os.environ) if env is None else env
        allow = env.get(ALLOW_REMOTE_ENV, "").strip().lower()
        if allow not in ("", "0", "1", "true", "false", "yes", "no"):
            raise SettingsError(f"{ALLOW_REMOTE_ENV}={allow!r}: use 1 or 0")
        return cls(
            addr=env.get(ADDR_ENV) or DEFAULT_ADDR,
            target=default_target(),
            allow_remote=allow in ("1", "true", "yes"),
        )

    def host_port(self) -> tuple[str, int]:
        """The address to listen on, checked: `host:port` (IPv6 in brackets), port 0 for any free one."""
        host, sep, port = self.addr.rpartition(":")
        if not sep or not port.isdigit() or not host or int(port) > 65_535:
            raise SettingsError(f"{ADDR_ENV}={self.addr!r}: expected host:port, e.g. {DEFAULT_ADDR}")
        return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
