"""The console in front of a service that authenticates its callers: sign in with a caller token, act as that caller."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.console.conftest import READER_TOKEN, WRITER_TOKEN
from wallet_client import AsyncWalletClient


async def sign_in(page: Page, url: str, token: str) -> None:
    await page.get_by_label("Caller token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(re.escape(url) + "$"))


async def test_the_console_asks_for_a_caller_token_and_acts_as_that_caller(
    page: Page, auth_console_url: str, auth_server: str, customer_id: str
) -> None:
    customer_url = f"{auth_console_url}/customers/{customer_id}"
    await page.goto(customer_url)
    await expect(page).to_have_url(re.compile("/signin"))
    await expect(page.get_by_text("Caller authentication is off")).to_have_count(0)
    before = {c["name"]: c["value"] for c in await page.context.cookies()}["wallet_console_session"]
    await page.get_by_label("Caller token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#signin-error")).to_be_visible()
    await sign_in(page, customer_url, WRITER_TOKEN)
    await expect(page.locator(".who")).to_contain_text("support-agent")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "wallet_console_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and WRITER_TOKEN not in cookie["value"]
    assert cookie["value"] != before, "signing in starts a new session"

    form = page.locator("#form-credit")
    await form.get_by_label("Amount").fill("12.00")
    await form.get_by_label("Currency").select_option("USD")
    await form.get_by_label("Reason").fill("Goodwill")
    await form.get_by_role("button", name="Credit").click()
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.locator("#history-rows tr").first).to_contain_text("by support-agent")
    async with AsyncWalletClient(auth_server, metadata=(("authorization", f"Bearer {WRITER_TOKEN}"),)) as client:
        assert [e.created_by async for e in client.iter_entries(customer_id)] == ["support-agent"]

    await page.get_by_role("button", name="Sign out").click()
    await page.goto(customer_url)
    await expect(page).to_have_url(re.compile("/signin"))


async def test_a_read_only_caller_sees_no_write_forms_and_cannot_post_one(
    page: Page, auth_console_url: str, auth_server: str, customer_id: str
) -> None:
    async with AsyncWalletClient(auth_server, metadata=(("authorization", f"Bearer {WRITER_TOKEN}"),)) as client:
        await client.credit(customer_id, 5_000, "USD", reason="top-up")
        await client.hold(customer_id, 100, "USD", reason="held")
    customer_url = f"{auth_console_url}/customers/{customer_id}"
    await page.goto(customer_url)
    await sign_in(page, customer_url, READER_TOKEN)
    await expect(page.locator(".who")).to_contain_text("auditor")
    await expect(page.locator("#wallets")).to_contain_text("$50.00")
    await expect(page.locator("#history-rows tr")).to_have_count(1)
    await expect(page.locator("form.action")).to_have_count(0)
    writes = re.compile("^(Credit|Debit|Place hold|Set threshold|Capture|Release)$")
    await expect(page.get_by_role("button", name=writes)).to_have_count(0)
    token = await page.locator(".who input[name=csrf]").input_value()
    answer = await page.request.post(
        customer_url + "/apply",
        form={
            "csrf": token,
            "action": "debit",
            "amount": "1",
            "currency": "USD",
            "reason": "x",
            "idempotency_key": "1",
        },
        headers={"origin": auth_console_url},
    )
    assert answer.status == 403
    async with AsyncWalletClient(auth_server, metadata=(("authorization", f"Bearer {READER_TOKEN}"),)) as client:
        assert len([e async for e in client.iter_entries(customer_id)]) == 1
