"""The console as an ASGI application (Starlette): its routes, static files and security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wallet_client import WalletError
from wallet_console import pages, streams
from wallet_console.settings import ConsoleSettings
from wallet_console.state import HERE, Console, Forbidden

# Nothing is loaded from anywhere but the console itself; no page may frame it.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(settings: ConsoleSettings, console: Console | None = None) -> Starlette:
    console = console or Console(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        console.open()
        try:
            yield
        finally:
            await console.close()

    customer = "/customers/{customer_id}"
    app = Starlette(
        routes=[
            Route("/", pages.home),
            Route("/lookup", pages.lookup),
            Route("/signin", pages.signin, methods=["GET", "POST"]),
            Route("/signout", pages.signout, methods=["POST"]),
            Route(customer, pages.customer),
            Route(customer + "/confirm", pages.confirm, methods=["POST"]),
            Route(customer + "/apply", pages.apply, methods=["POST"]),
            Route(customer + "/entries/{entry_id}", pages.entry),
            Route(customer + "/history.{fmt}", streams.download),
            Route(customer + "/live", streams.live),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={Forbidden: pages.forbidden, WalletError: pages.unavailable},
        lifespan=lifespan,
    )
    app.state.console = console
    return app
