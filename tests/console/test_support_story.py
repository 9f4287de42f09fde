"""The support story in a real browser: find a customer, read their wallets, chart, holds and history, act.

Each test drives Chromium against the console process and the real server,
and checks what was written through the typed client, never through the page
alone. The screenshots in docs/console/ are written here.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, expect

from tests.console.conftest import DESKTOP, PHONE, screenshot
from tests.seeding import SeededEntry, seed_history
from wallet_client import AsyncWalletClient


async def seed(aclient: AsyncWalletClient, customer_id: str) -> None:
    await aclient.credit(customer_id, 250_000, "USD", reason="Annual plan top-up")
    await aclient.credit(customer_id, 1_500_000, "INR", reason="Rupee top-up")
    for n, model in enumerate(["large", "small", "large", "small", "large"]):
        await aclient.debit(customer_id, 1_250 + n * 100, "USD", reason="API usage", metadata={"model": model})
    await aclient.hold(customer_id, 5_000, "USD", reason="Render job 7")
    await aclient.set_low_balance_threshold(customer_id, "INR", 2_000_000)


async def open_customer(page: Page, console_url: str, customer_id: str) -> None:
    await page.goto(console_url + "/")
    await page.get_by_label("Customer").first.fill(customer_id)
    await page.get_by_role("button", name="Look up").first.click()
    await expect(page).to_have_url(re.compile(f"/customers/{customer_id}$"))


async def test_a_customer_is_found_by_id_and_their_page_shows_wallets_chart_holds_and_history(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await seed(aclient, customer_id)
    await open_customer(page, console_url, customer_id)
    await expect(page.get_by_role("note")).to_contain_text("Caller authentication is off")
    wallets = page.locator("#wallets")
    usd = wallets.get_by_role("row", name=re.compile("USD"))
    await expect(usd).to_contain_text("$2,427.50")  # 2500.00 - 72.50 of debits, the hold still in it
    await expect(usd).to_contain_text("$50.00")  # held
    await expect(usd).to_contain_text("$2,377.50")  # available
    await expect(usd.locator("data[value='242750']").first).to_have_attribute("title", "242750 minor units")
    inr = wallets.get_by_role("row", name=re.compile("INR"))
    await expect(inr).to_contain_text("₹15,000.00")
    await expect(inr.locator(".badge.low")).to_have_text("low")
    await expect(page.locator("svg.chart.wide .bucket")).to_have_count(30)
    await expect(page.locator("#holds")).to_contain_text(re.compile(r"1[45]m \d\ds left"))
    rows = page.locator("#history-rows tr")
    await expect(rows).to_have_count(7)
    await expect(rows.nth(0)).to_contain_text("-$16.50")  # newest first
    await expect(rows.nth(0)).to_contain_text("model=large")
    await screenshot(page, "customer")
    await page.set_viewport_size(PHONE)
    await screenshot(page, "customer")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the phone page scrolls sideways ({width}px wide)"
    await page.set_viewport_size(DESKTOP)


def month_of_usage(days: int = 30) -> list[SeededEntry]:
    """A month of daily top-ups and usage by model, ending today, so every bar of the chart has something."""
    start = datetime.now(UTC) - timedelta(days=days - 1, minutes=30)
    entries: list[SeededEntry] = [(start - timedelta(days=10), "credit", 150_000, {})]
    for day in range(days):
        moment = start + timedelta(days=day)
        if day % 7 == 3:
            entries.append((moment, "credit", 20_000 + 1_000 * day, {}))
        entries.append((moment + timedelta(minutes=1), "debit", 3_000 + 700 * (day % 5), {"model": "large"}))
        entries.append((moment + timedelta(minutes=2), "debit", 1_000 + 300 * (day % 3), {"model": "small"}))
    return entries


async def show_section(page: Page, selector: str) -> None:
    await page.evaluate(f"window.scrollTo(0, document.querySelector('{selector}').offsetTop - 8)")


async def test_the_chart_switches_period_and_zone_breaks_debits_down_and_shows_a_bars_numbers(
    page: Page, console_url: str, customer_id: str, database_url: str, aclient: AsyncWalletClient
) -> None:
    await asyncio.to_thread(seed_history, database_url, customer_id, month_of_usage())
    # Today, a refund of the last debit and a reclaim of the last credit: series of their own.
    latest = [e async for e in aclient.iter_entries(customer_id, newest_first=True, limit=10)]
    last_debit = next(e for e in latest if e.entry_type.value == "debit")
    await aclient.reverse(customer_id, last_debit.id, 1_500, reason="Failed call")
    credits = [e async for e in aclient.iter_entries(customer_id, entry_type="credit", newest_first=True, limit=2)]
    last_credit = next(e for e in credits if not e.reverses_entry_id)
    await aclient.reverse(customer_id, last_credit.id, 5_000, reason="Goodwill withdrawn")
    await page.goto(f"{console_url}/customers/{customer_id}")
    await expect(page.locator("svg.chart.wide .bucket")).to_have_count(30)
    chart = page.locator("#chart")
    await chart.get_by_text("Week", exact=True).click()
    await chart.get_by_label("Time zone").fill("Asia/Kolkata")
    await chart.get_by_label("Break debits down by metadata key").fill("model")
    await chart.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"period=week.*tz=Asia%2FKolkata.*key=model"))
    await expect(page.locator("svg.chart.wide .bucket")).to_have_count(12)
    breakdown = page.locator("table.breakdown")
    await expect(breakdown).to_contain_text("large")
    await expect(breakdown).to_contain_text("small")
    last = page.locator("svg.chart.wide .bucket").last
    await last.hover()
    await expect(page.locator("#chart-tip")).to_contain_text(re.compile(r"Credited \$[\d,.]+, Debited \$[\d,.]+"))
    await expect(page.locator("#chart-tip")).to_contain_text(re.compile(r"Refunded \$15\.00, Reclaimed \$50\.00"))
    await expect(last.locator("title")).to_contain_text("closing balance $")
    await page.get_by_label("Time zone").fill("Mars/Olympus")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#chart-figure .error")).to_contain_text("Mars/Olympus")
    await page.go_back()
    await last.hover()
    await show_section(page, "#chart")
    await screenshot(page, "chart")
    await page.set_viewport_size(PHONE)
    await show_section(page, "#chart")
    await screenshot(page, "chart")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Filtering the history keeps the chart as it was chosen.
    await page.locator("#history").get_by_label("Entry type").select_option("debit")
    await page.locator("#history").get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"period=week.*type=debit|type=debit.*period=week"))
    await expect(page.locator("svg.chart.wide .bucket")).to_have_count(12)
