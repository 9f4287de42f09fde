"""Fixtures of the console's browser tests: Debian's Chromium driven by Playwright, a console process per service.

The browser is the system's Chromium (`make browser` installs it), never a
download; without it these tests fail, saying what is missing. Each console
runs as `python -m wallet_console` would for a person, on a port the system
picks, against the real gRPC server of the test session.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright, expect

from server.api.auth import hash_token
from server.app import create_server
from server.config import Settings
from wallet_client import AsyncWalletClient

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)
WRITER_TOKEN = "console-writer-token-0123456789"
READER_TOKEN = "console-reader-token-9876543210"
# A safety bound only: every wait ends as soon as what it waits for is there.
START_PATIENCE_S = 60.0
# Waits of the page's assertions: bounds for a loaded 2-core machine, not delays (the live test sets its own).
expect.set_options(timeout=15_000)


def chromium_path() -> str:
    """The system's Chromium (WALLET_CHROMIUM overrides); fails, naming the fix, when there is none."""
    for name in (os.environ.get("WALLET_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name) if name else None
        if found:
            return found
    pytest.fail(
        "The console's browser tests need Chromium, and none is installed: run `make browser` "
        "(apt-get install chromium, as root) or set WALLET_CHROMIUM to a Chromium binary.",
        pytrace=False,
    )


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        await launched.close()


class ConsoleProcess:
    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url.rstrip("/")


async def start_console(target: str, *extra_env: tuple[str, str]) -> ConsoleProcess:
    env = {**os.environ, "WALLET_ADDR": target, "WALLET_CONSOLE_ADDR": "127.0.0.1:0", **dict(extra_env)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wallet_console",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), START_PATIENCE_S)).decode()
    if not line.startswith("Console on "):
        assert process.stderr is not None
        problem = (await process.stderr.read()).decode()
        raise AssertionError(f"the console did not start: {line}{problem}")
    return ConsoleProcess(process, line.split()[2])


async def stop_console(console: ConsoleProcess) -> None:
    if console.process.returncode is None:
        console.process.terminate()
        await asyncio.wait_for(console.process.wait(), START_PATIENCE_S)


@pytest_asyncio.fixture(scope="session")
async def console_server(settings: Settings, database_url: str) -> AsyncIterator[str]:
    """A server of the console's own on the session's database: its clock is the real time's, as the console's is.

    The session's `wallet_server` is shared with tests that move its clock forward
    (tests.waiting.move_past); holds it placed would look further from expiry to the
    console, which counts their time left on the real clock.
    """
    server, port = await create_server(settings, database_url)
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(1.0)


@pytest_asyncio.fixture(scope="session")
async def console_url(console_server: str) -> AsyncIterator[str]:
    """The console against its own server (caller authentication off)."""
    console = await start_console(console_server)
    yield console.url
    await stop_console(console)


@pytest.fixture(scope="session")
def console_auth_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("console-auth") / "callers.json"
    callers = [
        {"name": "support-agent", "scopes": ["wallet.read", "wallet.write"], "token_sha256": hash_token(WRITER_TOKEN)},
        {"name": "auditor", "scopes": ["wallet.read"], "token_sha256": hash_token(READER_TOKEN)},
    ]
    path.write_text(json.dumps({"callers": callers}))
    return str(path)


@pytest_asyncio.fixture(scope="session")
async def auth_server(settings: Settings, database_url: str, console_auth_file: str) -> AsyncIterator[str]:
    server, port = await create_server(replace(settings, auth_file=console_auth_file), database_url)
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


@pytest_asyncio.fixture(scope="session")
async def auth_console_url(auth_server: str) -> AsyncIterator[str]:
    """The console against a server that authenticates its callers."""
    console = await start_console(auth_server)
    yield console.url
    await stop_console(console)


@pytest_asyncio.fixture
async def aclient(console_server: str) -> AsyncIterator[AsyncWalletClient]:
    """A client of the console's server: what it writes is stamped with the same clock as the console's writes."""
    async with AsyncWalletClient(console_server) as client:
        yield client


@pytest_asyncio.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context(viewport=DESKTOP, accept_downloads=True)
    made.set_default_timeout(15_000)
    yield made
    await made.close()


@pytest_asyncio.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def screenshot(page: Page, name: str) -> None:
    """Writes docs/console/NAME-WxH.png of the page as it is (the viewport, not the whole page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    assert size is not None
    await page.screenshot(path=str(SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"))
