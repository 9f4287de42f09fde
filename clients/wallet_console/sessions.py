"""Sessions kept on the server: the caller token never leaves it; the browser holds only a random id.

The cookie is HttpOnly (no script reads it) and SameSite=Strict (no other
site's page sends it). Each session has its own CSRF token, which every form
carries; a post without it, or from another origin, is refused.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from wallet_client import CallerInfo

COOKIE = "wallet_console_session"


@dataclass
class Session:
    id: str
    csrf: str
    # The caller token the console acts with (None with authentication off, or before sign-in).
    token: str | None = None
    caller: CallerInfo | None = None
    # One message shown once, on the next page (what the last action did).
    flash: str = ""
    last_seen: float = field(default_factory=time.monotonic)

    def signed_in(self) -> bool:
        return self.caller is not None

    def take_flash(self) -> str:
        message, self.flash = self.flash, ""
        return message

    def csrf_matches(self, sent: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), sent.encode())


class SessionStore:
    """The sessions in memory, least recently used first; idle or surplus ones are forgotten."""

    def __init__(self, idle_s: float, limit: int) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._idle_s = idle_s
        self._limit = limit

    def get(self, session_id: str | None) -> Session | None:
        now = time.monotonic()
        session = self._sessions.get(session_id or "")
        if session is None:
            return None
        if now - session.last_seen > self._idle_s:
            del self._sessions[session.id]
            return None
        session.last_seen = now
        self._sessions.move_to_end(session.id)
        return session

    def create(self) -> Session:
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32))
        self._sessions[session.id] = session
        while len(self._sessions) > self._limit:
            self._sessions.popitem(last=False)
        return session

    def forget(self, session: Session) -> None:
        self._sessions.pop(session.id, None)
