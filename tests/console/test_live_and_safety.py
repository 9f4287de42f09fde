"""The console's live page, its history paging and downloads, scripts off, and what it refuses."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time

from playwright.async_api import Browser, Page, expect

from server.app import WalletServer
from tests.console.conftest import DESKTOP, START_PATIENCE_S, start_console, stop_console
from wallet_client import AsyncWalletClient


async def test_a_credit_made_elsewhere_appears_within_a_second_without_a_reload(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 1_000, "USD", reason="first")
    await page.goto(f"{console_url}/customers/{customer_id}")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))  # the watch is live
    marker = await page.evaluate("window.__marker = Math.random()")
    started = time.monotonic()
    await aclient.credit(customer_id, 4_321, "USD", reason="made by the billing system")
    usd = page.locator("#wallets").get_by_role("row", name=re.compile("USD"))
    await expect(usd).to_contain_text("$53.21", timeout=1_000)
    await expect(page.locator("#history-rows tr").first).to_contain_text("made by the billing system", timeout=1_000)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    assert await page.evaluate("window.__marker") == marker, "the page was reloaded"


async def test_an_amount_being_typed_into_a_capture_survives_a_live_refresh_and_is_the_one_confirmed(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD", reason="top-up")
    held = await aclient.hold(customer_id, 3_000, "USD", reason="render job")
    await page.goto(f"{console_url}/customers/{customer_id}")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    amount = page.locator(f"#capture-{held.hold.id}")
    await amount.fill("12.5")
    refreshed = await page.locator("#live").get_attribute("data-refreshed")
    # Money arriving from elsewhere refreshes the wallets and the holds while the amount is half typed.
    await aclient.credit(customer_id, 100, "USD", reason="made by the billing system")
    usd = page.locator("#wallets").get_by_role("row", name=re.compile("USD"))
    await expect(usd).to_contain_text("$71.00")
    await expect(page.locator("#live")).not_to_have_attribute("data-refreshed", refreshed or "")
    await expect(amount).to_have_value("12.5")
    await expect(amount).to_be_focused()
    await amount.press("End")
    await amount.type("0")
    await page.locator("#holds").get_by_role("button", name="Capture").first.click()
    await expect(page.locator(".question")).to_contain_text(f"Capture $12.50 of hold {held.hold.id}")


async def test_history_pages_by_cursor_filters_and_downloads_what_is_filtered(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    for n in range(1, 31):
        await aclient.credit(customer_id, n, "USD" if n % 3 else "INR", reason=f"credit {n}")
    await page.goto(f"{console_url}/customers/{customer_id}")
    rows = page.locator("#history-rows tr")
    await expect(rows).to_have_count(25)
    await expect(rows.first).to_contain_text("credit 30")
    await page.get_by_role("link", name="Load more").click()
    await expect(rows).to_have_count(30)
    await expect(rows.last).to_contain_text("credit 1")
    await expect(page.get_by_role("link", name="Load more")).to_have_count(0)

    history = page.locator("#history")
    await history.get_by_label("Currency").select_option("INR")
    await history.get_by_label("Entry type").select_option("credit")
    await history.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(10)
    async with page.expect_download() as csv_download:
        await page.get_by_role("link", name="Download CSV").click()
    lines = (await (await csv_download.value).path()).read_text().splitlines()
    assert lines[0].startswith("id,created_at,customer_id,currency") and len(lines) == 11
    async with page.expect_download() as jsonl_download:
        await page.get_by_role("link", name="Download JSONL").click()
    records = [json.loads(line) for line in (await (await jsonl_download.value).path()).read_text().splitlines()]
    assert sorted(r["amount"] for r in records) == [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    assert {r["currency"] for r in records} == {"INR"}


async def test_with_scripts_off_every_form_and_the_history_paging_still_work(
    browser: Browser, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    for n in range(1, 28):
        await aclient.credit(customer_id, n, "USD", reason=f"credit {n}")
    context = await browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(f"{console_url}/")
        await page.get_by_label("Customer").first.fill(customer_id)
        await page.get_by_role("button", name="Look up").first.click()
        await expect(page.locator("#history-rows tr")).to_have_count(25)
        await page.get_by_role("link", name="Load more").click()
        await expect(page.locator("#history-rows tr")).to_have_count(2)
        await expect(page.locator("#history-rows tr").last).to_contain_text("credit 1")
        form = page.locator("#form-debit")
        await form.get_by_label("Amount").fill("1.00")
        await form.get_by_label("Reason").fill("Scripts off")
        await form.get_by_role("button", name="Debit").click()
        await page.get_by_role("button", name="Confirm").click()
        await expect(page.locator(".flash")).to_contain_text("Debited $1.00")
    finally:
        await context.close()
    assert (await aclient.get_balances(customer_id))["USD"].balance == sum(range(1, 28)) - 100


async def test_a_form_posted_from_another_site_is_refused_and_writes_nothing(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await page.goto(f"{console_url}/customers/{customer_id}")  # the browser holds a session of the console
    token = await page.locator("#form-credit input[name=csrf]").input_value()
    key = await page.locator("#form-credit input[name=idempotency_key]").input_value()
    attack = f"""<html><body><form id="f" method="post" action="{console_url}/customers/{customer_id}/apply">
      <input name="action" value="credit"><input name="amount" value="1000"><input name="currency" value="USD">
      <input name="reason" value="free money"><input name="idempotency_key" value="{key}">
      <input name="csrf" value="{token}"></form><script>document.getElementById("f").submit()</script></body></html>"""
    await page.route("http://attacker.test/**", lambda route: route.fulfill(body=attack, content_type="text/html"))
    async with page.expect_response(re.compile("/apply$")) as answer:
        await page.goto("http://attacker.test/page")
    assert not 200 <= (await answer.value).status < 300
    assert [e async for e in aclient.iter_entries(customer_id)] == []


async def test_pages_are_reachable_by_keyboard_and_every_input_has_a_label(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 1_000, "USD", reason="top-up")
    await aclient.hold(customer_id, 100, "USD", reason="held")
    await page.goto(f"{console_url}/customers/{customer_id}")
    unlabelled = await page.evaluate(
        """Array.from(document.querySelectorAll("input:not([type=hidden]), select"))
             .filter(e => e.labels.length === 0).map(e => e.outerHTML)"""
    )
    assert unlabelled == []
    focusable = await page.evaluate(
        """Array.from(document.querySelectorAll("a[href], button, input:not([type=hidden]), select"))
             .filter(e => e.tabIndex < 0 && e.type !== "radio").map(e => e.outerHTML)"""
    )
    assert focusable == []
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await expect(page.locator(":focus")).to_have_attribute("href", "/")
    await page.locator("#credit-amount").focus()
    await page.keyboard.type("2")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await page.keyboard.type("By keyboard")
    await page.keyboard.press("Enter")
    await expect(page.locator(".question")).to_contain_text("to " + customer_id)


async def test_with_authentication_off_it_refuses_to_listen_beyond_loopback_unless_told_to(
    wallet_server: tuple[WalletServer, str],
) -> None:
    env = {**os.environ, "WALLET_ADDR": wallet_server[1], "WALLET_CONSOLE_ADDR": "0.0.0.0:0"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wallet_console", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), START_PATIENCE_S)
    assert process.returncode == 2 and stdout == b""
    assert "authenticates no caller" in stderr.decode() and "WALLET_CONSOLE_ALLOW_REMOTE=1" in stderr.decode()


async def test_a_request_sent_the_moment_the_console_prints_its_url_is_answered_not_refused(
    console_server: str,
) -> None:
    console = await start_console(console_server)
    try:
        host, port = console.url.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), START_PATIENCE_S)
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 200"), status_line
    finally:
        await stop_console(console)


async def test_text_from_the_ledger_is_shown_as_text_never_as_markup(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    reason = '<script>window.__owned = 1</script><b onmouseover="x()">bold</b>'
    await aclient.credit(customer_id, 100, "USD", reason=reason, metadata={"<i>key</i>": "<img src=x>"})
    await page.goto(f"{console_url}/customers/{customer_id}?key=%3Cb%3E&tz=%3Cscript%3E")
    row = page.locator("#history-rows tr").first
    await expect(row).to_contain_text(reason)
    await expect(row).to_contain_text("<i>key</i>=<img src=x>")
    assert await page.evaluate("window.__owned") is None
    assert await page.locator("#history-rows b, #history-rows img, #history-rows i").count() == 0
