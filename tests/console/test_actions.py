"""Changing a wallet from the console: each action confirmed in words, applied once, refused in the service's words."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.console.conftest import PHONE, screenshot
from wallet_client import AsyncWalletClient


async def entries_of(aclient: AsyncWalletClient, customer_id: str) -> list[tuple[str, int, str]]:
    return [(e.entry_type.value, e.amount, e.reason) async for e in aclient.iter_entries(customer_id)]


async def test_a_credit_is_confirmed_in_words_and_a_double_clicked_confirm_applies_it_once(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = page.locator("#form-credit")
    await form.get_by_label("Amount").fill("150.00")
    await form.get_by_label("Currency").select_option("USD")
    await form.get_by_label("Reason").fill("Goodwill credit")
    await form.get_by_role("button", name="Credit").click()
    await expect(page.locator(".question")).to_have_text(f"Credit $150.00 to {customer_id}?")
    await screenshot(page, "confirm")
    await page.set_viewport_size(PHONE)
    await screenshot(page, "confirm")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Both clicks land before the page changes; scripts off or on, the second one applies nothing new.
    await page.get_by_role("button", name="Confirm").dblclick()
    await expect(page).to_have_url(re.compile(f"/customers/{customer_id}$"))
    await expect(page.locator(".flash")).to_contain_text("$150.00")
    assert await entries_of(aclient, customer_id) == [("credit", 15_000, "Goodwill credit")]
    await expect(page.locator("#history-rows tr")).to_have_count(1)
    await expect(page.locator("#wallets")).to_contain_text("$150.00")


async def test_the_same_confirmation_posted_twice_applies_once(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    """A resubmitted form (back, then Confirm again; or two tabs) carries the same idempotency key."""
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = page.locator("#form-credit")
    await form.get_by_label("Amount").fill("20")
    await form.get_by_label("Currency").select_option("USD")
    await form.get_by_label("Reason").fill("Refund of order 17")
    await form.get_by_role("button", name="Credit").click()
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.locator(".flash")).to_contain_text("Credited $20.00")
    await page.go_back()
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.locator(".flash")).to_contain_text("Already applied")
    assert await entries_of(aclient, customer_id) == [("credit", 2_000, "Refund of order 17")]


async def test_a_refused_debit_is_shown_in_the_services_words_and_the_form_keeps_what_was_typed(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 1_000, "USD", reason="top-up")
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = page.locator("#form-debit")
    await form.get_by_label("Amount").fill("25.00")
    await form.get_by_label("Reason").fill("Manual charge")
    await form.get_by_role("button", name="Debit").click()
    await expect(page.locator(".question")).to_have_text(f"Debit $25.00 from {customer_id}?")
    async with page.expect_response(re.compile("/apply$")) as answer:
        await page.get_by_role("button", name="Confirm").click()
    assert (await answer.value).status == 409
    refusal = page.locator("#form-debit .refusal")
    await expect(refusal).to_contain_text(re.compile("[Ii]nsufficient"))
    form = page.locator("#form-debit")
    await expect(form.get_by_label("Amount")).to_have_value("25.00")
    await expect(form.get_by_label("Reason")).to_have_value("Manual charge")
    assert await entries_of(aclient, customer_id) == [("credit", 1_000, "top-up")]
    # The service keeps its refusal under the key it was sent with; the kept form carries a new key, so once
    # the wallet is topped up the same form, sent again, is decided afresh and applies.
    await aclient.credit(customer_id, 2_000, "USD", reason="second top-up")
    await form.get_by_role("button", name="Debit").click()
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.locator(".flash")).to_contain_text("Debited $25.00")
    assert (await aclient.get_balances(customer_id))["USD"].balance == 500


async def test_a_reason_is_required_and_a_bad_amount_is_named_next_to_its_field(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = page.locator("#form-credit")
    await form.get_by_label("Amount").fill("1.005")
    await form.get_by_label("Reason").fill("x")
    await form.get_by_role("button", name="Credit").click()
    await expect(page.locator("#credit-amount-error")).to_contain_text("decimal places")
    await expect(page.locator("#form-credit").get_by_label("Amount")).to_have_value("1.005")
    assert await entries_of(aclient, customer_id) == []


async def test_a_hold_is_placed_captured_in_part_and_another_released(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD", reason="top-up")
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = page.locator("#form-hold")
    await form.get_by_label("Amount").fill("30")
    await form.get_by_label("Reason").fill("Render job 7")
    await form.get_by_label("Expires after").select_option("1h")
    await form.get_by_role("button", name="Place hold").click()
    await expect(page.locator(".question")).to_have_text(f"Hold $30.00 of {customer_id}'s USD wallet for 1 hour?")
    await page.get_by_role("button", name="Confirm").click()
    # About an hour: the service's clock (moved ahead by earlier tests of the session) stamps the hold,
    # the console counts from the wall clock.
    await expect(page.locator("#holds")).to_contain_text(re.compile(r"(59m \d\ds|1h \d\dm) left"))
    await expect(page.locator("#wallets").get_by_role("row", name=re.compile("USD"))).to_contain_text("$70.00")
    holds = page.locator("#holds")
    await holds.get_by_label("Amount").first.fill("12.50")
    await holds.get_by_role("button", name="Capture").first.click()
    await expect(page.locator(".question")).to_contain_text("Capture $12.50 of hold hd_")
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.locator(".flash")).to_contain_text("Captured $12.50")
    second = await aclient.hold(customer_id, 500, "USD", reason="second")
    await page.reload()
    row = page.locator("#holds tr", has_text=second.hold.id)
    await row.get_by_role("button", name="Release").click()
    await expect(page.locator(".question")).to_contain_text(f"Release hold {second.hold.id}")
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.locator(".flash")).to_contain_text(f"Released hold {second.hold.id}")
    statuses = sorted([h.status.value async for h in aclient.list_holds(customer_id)])
    assert statuses == ["captured", "released"]
    assert (await aclient.get_balances(customer_id))["USD"].balance == 10_000 - 1_250


async def test_a_threshold_is_set_and_the_wallet_shows_low(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 300, "USD", reason="top-up")
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = page.locator("#form-threshold")
    await form.get_by_label("Low below").fill("5.00")
    await form.get_by_role("button", name="Set threshold").click()
    await expect(page.locator(".question")).to_have_text(f"Set {customer_id}'s USD wallet to count as low below $5.00?")
    await page.get_by_role("button", name="Confirm").click()
    usd = page.locator("#wallets").get_by_role("row", name=re.compile("USD"))
    await expect(usd.locator(".badge.low")).to_have_text("low")
    assert (await aclient.get_balances(customer_id))["USD"].low_balance_threshold == 500
