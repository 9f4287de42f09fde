"""`wallet console`: serve the console with uvicorn on WALLET_CONSOLE_ADDR, against the service at WALLET_ADDR."""

from __future__ import annotations

import asyncio
import socket
import sys

import uvicorn

from wallet_client import WalletError
from wallet_console.app import create_app
from wallet_console.settings import ALLOW_REMOTE_ENV, ConsoleSettings, SettingsError, is_loopback
from wallet_console.state import Console

# How long the console waits for the service at start (`make run` starts both at once).
SERVICE_WAIT_S = 120.0
# Connections waiting to be accepted (uvicorn's own default).
BACKLOG = 2048


async def _wait_for_auth(console: Console) -> bool:
    """Whether the service authenticates callers, asked until it answers (SERVICE_WAIT_S at most)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SERVICE_WAIT_S
    while True:
        try:
            return await console.learn_auth()
        except WalletError as error:
            if loop.time() > deadline:
                target = console.settings.target
                raise SettingsError(f"the wallet service at {target} did not answer: {error}") from None
            await asyncio.sleep(0.5)


async def serve(settings: ConsoleSettings) -> None:
    host, port = settings.host_port()
    console = Console(settings)
    console.open()
    try:
        auth = await _wait_for_auth(console)
    finally:
        await console.close()
    if not auth and not is_loopback(host) and not settings.allow_remote:
        raise SettingsError(
            f"the service at {settings.target} authenticates no caller, so the console would let anyone who "
            f"reaches {host} change wallets; listen on 127.0.0.1, turn on WALLET_AUTH_FILE, "
            f"or set {ALLOW_REMOTE_ENV}=1"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    bound_port = listener.getsockname()[1]
    # Listening before the URL is printed: a browser (or script) that connects at once waits in the backlog
    # until uvicorn accepts, instead of being refused while uvicorn is still starting.
    listener.listen(BACKLOG)
    shown = f"[{host}]" if ":" in host else host
    mode = "" if auth else " (caller authentication is off)"
    print(f"Console on http://{shown}:{bound_port}/ for the wallet service at {settings.target}{mode}", flush=True)
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        timeout_graceful_shutdown=2,
        backlog=BACKLOG,
        proxy_headers=False,
        server_header=False,
    )
    await uvicorn.Server(config).serve(sockets=[listener])


def main(settings: ConsoleSettings | None = None) -> None:
    try:
        asyncio.run(serve(settings or ConsoleSettings.from_env()))
    except SettingsError as error:
        print(f"wallet console: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
