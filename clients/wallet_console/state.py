"""What the running console shares between requests, and what each request starts from.

`Console` holds the settings, the sessions and one gRPC channel to the
service; a request's `Visit` is its session and the caller it acts as. With
authentication off, every visitor acts as the service's anonymous caller
(every scope); with it on, as the caller whose token the session holds, and a
visitor without one is sent to sign in.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import grpc
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from wallet_client import AsyncWalletClient, CallerInfo, WalletError
from wallet_client.connection import ClientSettings, open_aio_channel
from wallet_client.retry import RetryPolicy
from wallet_console.format import install_filters
from wallet_console.sessions import COOKIE, Session, SessionStore
from wallet_console.settings import ConsoleSettings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
install_filters(templates.env)

# A page waits at most a few seconds for an unreachable service, then says so.
PAGE_RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.1, max_backoff_s=1.0, total_timeout_s=5.0)


class Forbidden(Exception):
    """A post that did not come from this console's own page (another origin, or no valid form token)."""


class Console:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.sessions = SessionStore(settings.session_idle_s, settings.sessions_max)
        self._channel: grpc.aio.Channel | None = None
        # The service's answer to a caller without a credential, once learned: None until then.
        self._anonymous: CallerInfo | None = None
        self.auth_enabled: bool | None = None

    def open(self) -> None:
        self._channel = open_aio_channel(ClientSettings(target=self.settings.target))

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    def client(self, token: str | None = None) -> AsyncWalletClient:
        """A client on the shared channel that acts with `token` (none: anonymous)."""
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        return AsyncWalletClient(
            self.settings.target,
            channel=self._channel,
            metadata=metadata,
            timeout_s=self.settings.timeout_s,
            retry=PAGE_RETRY,
        )

    async def learn_auth(self) -> bool:
        """Whether the service authenticates callers (asked once, then remembered)."""
        if self.auth_enabled is None:
            try:
                self._anonymous = await self.client().caller_info()
                self.auth_enabled = self._anonymous.auth_enabled
            except WalletError as error:
                if error.code is not grpc.StatusCode.UNAUTHENTICATED:
                    raise
                self.auth_enabled = True
        return self.auth_enabled

    @property
    def anonymous(self) -> CallerInfo | None:
        return self._anonymous


@dataclass
class Visit:
    """One request: its session (new ones get a cookie), the caller it acts as and that caller's client."""

    request: Request
    console: Console
    session: Session
    new_session: bool
    caller: CallerInfo
    auth_enabled: bool

    def client(self) -> AsyncWalletClient:
        return self.console.client(self.session.token)

    def render(self, template: str, status_code: int = 200, **values: object) -> Response:
        context = {
            "visit": self,
            "caller": self.caller,
            "auth_enabled": self.auth_enabled,
            "csrf": self.session.csrf,
            "flash": self.session.take_flash(),
            **values,
        }
        return self.finish(templates.TemplateResponse(self.request, template, context, status_code=status_code))

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        if self.new_session:
            set_cookie(response, self.session)
        return response


def set_cookie(response: Response, session: Session) -> None:
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", path="/")


def session_of(request: Request, console: Console) -> tuple[Session, bool]:
    found = console.sessions.get(request.cookies.get(COOKIE))
    return (found, False) if found is not None else (console.sessions.create(), True)


async def visit(request: Request, console: Console, *, signed_in: bool = True) -> Visit | Response:
    """The request's Visit; a redirect to sign in when the service wants a caller token and there is none."""
    session, new = session_of(request, console)
    auth = await console.learn_auth()
    caller = session.caller if auth else console.anonymous
    if caller is None:
        if not signed_in:
            caller = CallerInfo(name="", scopes=frozenset(), auth_enabled=True)
        else:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
            if new:
                set_cookie(response, session)
            return response
    return Visit(request, console, session, new, caller, auth)


def check_post(request: Request, session: Session, form_token: str) -> None:
    """Refuses a post from another origin, or without this session's form token (Forbidden)."""
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None and origin != own:
        raise Forbidden(f"a form posted from {origin}, not from this console")
    referer = request.headers.get("referer")
    if origin is None and referer is not None:
        parts = urlsplit(referer)
        if f"{parts.scheme}://{parts.netloc}" != own:
            raise Forbidden("a form posted from another site")
    if not form_token or not hmac.compare_digest(session.csrf.encode(), form_token.encode()):
        raise Forbidden("the form is not one this console gave this session (reload the page and try again)")
