"""Refunds and reclaims from the console: Reverse on an entry of the history, confirmed in words, applied once."""

from __future__ import annotations

import json
import re

from playwright.async_api import Locator, Page, expect

from tests.console.conftest import DESKTOP, PHONE, READER_TOKEN, WRITER_TOKEN, screenshot
from tests.console.test_sign_in import sign_in
from wallet_client import AsyncWalletClient, LedgerEntry


async def entries_of(aclient: AsyncWalletClient, customer_id: str) -> list[LedgerEntry]:
    return [e async for e in aclient.iter_entries(customer_id)]


async def open_reverse(page: Page, entry_id: str) -> Locator:
    """The Reverse form of one entry of the history, opened."""
    row = page.locator(f"#entry-{entry_id}")
    await row.get_by_text("Reverse…").click()
    return row.locator("form.reverse-form")


async def test_part_of_a_debit_is_refunded_and_the_history_balances_chart_and_downloads_show_it(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD", reason="top-up")
    debit = (await aclient.debit(customer_id, 4_000, "USD", reason="API usage", metadata={"request_id": "r1"})).entry
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = await open_reverse(page, debit.id)
    await expect(form).to_contain_text("Empty: all $40.00 left to refund.")
    await form.get_by_label("Amount").fill("12.34")
    await form.get_by_label("Reason").fill("Failed API call")
    await form.get_by_role("button", name="Reverse").click()
    await expect(page.locator(".question")).to_have_text(f"Refund $12.34 of {debit.id} to {customer_id}?")
    await expect(page.locator(".confirm")).to_contain_text("Reason: “Failed API call”")
    await expect(page.locator(".confirm")).to_contain_text(f"{debit.id} is a debit of $40.00 (API usage)")
    await screenshot(page, "confirm-reverse")
    await page.set_viewport_size(PHONE)
    await screenshot(page, "confirm-reverse")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.set_viewport_size(DESKTOP)
    await page.get_by_role("button", name="Confirm").click()
    await expect(page).to_have_url(re.compile(f"/customers/{customer_id}$"))
    await expect(page.locator(".flash")).to_contain_text(f"Refunded $12.34 of {debit.id}")

    usd = page.locator("#wallets").get_by_role("row", name=re.compile("USD"))
    await expect(usd).to_contain_text("$72.34")
    refund_row = page.locator("#history-rows tr").first
    await expect(refund_row).to_contain_text("refund")
    await expect(refund_row).to_contain_text(f"reverses {debit.id}")
    await expect(refund_row).to_contain_text("+$12.34")
    await expect(refund_row.get_by_text("Reverse…")).to_have_count(0)  # a reversal is not reversed
    debit_row = page.locator(f"#entry-{debit.id}")
    await expect(debit_row).to_contain_text("reversed $12.34")
    await expect(debit_row).to_contain_text("Empty: all $27.66 left to refund.")
    await refund_row.get_by_role("link", name=debit.id).click()
    await expect(page).to_have_url(re.compile(f"#entry-{debit.id}$"))

    found = await entries_of(aclient, customer_id)
    refund = found[-1]
    assert (refund.entry_type.value, refund.amount, refund.reverses_entry_id) == ("credit", 1_234, debit.id)
    assert refund.reason == "Failed API call" and refund.metadata["request_id"] == "r1"
    assert found[1].reversed_amount == 1_234

    # The chart draws the refund as its own series, and says it on hover.
    today = page.locator("svg.chart.wide .bucket").last
    assert float(await today.locator("rect.bar.refunded").get_attribute("height") or 0) > 0
    await today.hover()
    await expect(page.locator("#chart-tip")).to_contain_text("Refunded $12.34, Reclaimed $0.00")

    async with page.expect_download() as jsonl_download:
        await page.get_by_role("link", name="Download JSONL").click()
    lines = (await (await jsonl_download.value).path()).read_text().splitlines()
    records = {r["id"]: r for r in map(json.loads, lines)}
    assert records[refund.id]["reverses_entry_id"] == debit.id and records[debit.id]["reversed_amount"] == 1_234
    async with page.expect_download() as csv_download:
        await page.get_by_role("link", name="Download CSV").click()
    header = (await (await csv_download.value).path()).read_text().splitlines()[0]
    assert header.endswith(",reverses_entry_id,reversed_amount")

    # The history with a refund and a Reverse form open, for docs/console/.
    await open_reverse(page, debit.id)
    await page.locator(f"#entry-{debit.id}").get_by_label("Amount").fill("5.00")
    await page.evaluate("window.scrollTo(0, document.querySelector('#history').offsetTop - 8)")
    await screenshot(page, "history")
    await page.set_viewport_size(PHONE)
    await page.evaluate("window.scrollTo(0, document.querySelector('#history-table').offsetTop - 8)")
    await screenshot(page, "history")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.set_viewport_size(DESKTOP)


async def test_a_refund_beyond_what_is_left_is_refused_in_the_services_words_and_the_form_is_kept(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD", reason="top-up")
    debit = (await aclient.debit(customer_id, 1_000, "USD", reason="API usage")).entry
    await aclient.reverse(customer_id, debit.id, 400, reason="first refund")
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = await open_reverse(page, debit.id)
    await expect(form).to_contain_text("Empty: all $6.00 left to refund.")
    await form.get_by_label("Amount").fill("7.00")
    await form.get_by_label("Reason").fill("Refund the rest")
    await form.get_by_role("button", name="Reverse").click()
    await expect(page.locator(".question")).to_have_text(f"Refund $7.00 of {debit.id} to {customer_id}?")
    async with page.expect_response(re.compile("/apply$")) as answer:
        await page.get_by_role("button", name="Confirm").click()
    assert (await answer.value).status == 409
    form = page.locator(f"#entry-{debit.id} form.reverse-form")
    refusal = form.locator(".refusal")
    await expect(refusal).to_contain_text(f"exceeds what entry {debit.id} has left to reverse: 600")
    await expect(refusal).to_contain_text("What may be reversed now: $6.00.")
    await expect(form.get_by_label("Amount")).to_have_value("7.00")
    await expect(form.get_by_label("Reason")).to_have_value("Refund the rest")
    await expect(form.get_by_label("Amount")).to_be_focused()
    assert [e.amount for e in await entries_of(aclient, customer_id)] == [10_000, 1_000, 400]

    # Corrected, the same form applies: the service stored its refusal under the old key, the form has a new one.
    await form.get_by_label("Amount").fill("6.00")
    await form.get_by_role("button", name="Reverse").click()
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.locator(".flash")).to_contain_text(f"Refunded $6.00 of {debit.id}")
    await expect(page.locator(f"#entry-{debit.id}")).to_contain_text("reversed $10.00 (all)")
    await expect(page.locator(f"#entry-{debit.id}").get_by_text("Reverse…")).to_have_count(0)
    assert [e.amount for e in await entries_of(aclient, customer_id)] == [10_000, 1_000, 400, 600]


async def test_a_double_clicked_confirm_on_reverse_applies_once(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD", reason="top-up")
    debit = (await aclient.debit(customer_id, 2_500, "USD", reason="API usage")).entry
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = await open_reverse(page, debit.id)
    await form.get_by_label("Reason").fill("Outage credit")
    await form.get_by_role("button", name="Reverse").click()
    await expect(page.locator(".question")).to_have_text(f"Refund all $25.00 left of {debit.id} to {customer_id}?")
    await page.get_by_role("button", name="Confirm").dblclick()
    await expect(page).to_have_url(re.compile(f"/customers/{customer_id}$"))
    await expect(page.locator(".flash")).to_contain_text(re.compile("Refunded \\$25.00|Already applied"))
    reversals = [e for e in await entries_of(aclient, customer_id) if e.reverses_entry_id]
    assert [(e.amount, e.reverses_entry_id) for e in reversals] == [(2_500, debit.id)]
    await expect(page.locator("#wallets").get_by_role("row", name=re.compile("USD"))).to_contain_text("$100.00")


async def test_a_credit_is_reclaimed_with_its_words_and_a_link_to_an_entry_opens_the_history_at_it(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    credit = (await aclient.credit(customer_id, 5_000, "USD", reason="Goodwill by mistake")).entry
    await aclient.debit(customer_id, 1_000, "USD", reason="API usage")
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = await open_reverse(page, credit.id)
    await expect(form).to_contain_text("Empty: all of it still unspent (at most $50.00).")
    await form.get_by_label("Reason").fill("Credited the wrong customer")
    await form.get_by_role("button", name="Reverse").click()
    question = f"Reclaim all that is unspent (at most $50.00) of {credit.id} from {customer_id}?"
    await expect(page.locator(".question")).to_have_text(question)
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.locator(".flash")).to_contain_text(f"Reclaimed $40.00 of {credit.id}")
    await expect(page.locator("#history-rows tr").first).to_contain_text("reclaim")
    await expect(page.locator(f"#entry-{credit.id}")).to_contain_text("reversed $40.00")
    assert (await aclient.get_balances(customer_id))["USD"].balance == 0

    await page.goto(f"{console_url}/customers/{customer_id}/entries/{credit.id}")
    await expect(page.locator("#history-rows tr").first).to_have_id(f"entry-{credit.id}")
    await expect(page.locator("#history-rows tr")).to_have_count(1)
    answer = await page.goto(f"{console_url}/customers/{customer_id}/entries/le_nothere")
    assert answer is not None and answer.status == 404


async def test_a_read_only_caller_sees_no_reverse_and_cannot_post_one(
    page: Page, auth_console_url: str, auth_server: str, customer_id: str
) -> None:
    async with AsyncWalletClient(auth_server, metadata=(("authorization", f"Bearer {WRITER_TOKEN}"),)) as client:
        await client.credit(customer_id, 5_000, "USD", reason="top-up")
        debit = (await client.debit(customer_id, 1_000, "USD", reason="API usage")).entry
    customer_url = f"{auth_console_url}/customers/{customer_id}"
    await page.goto(customer_url)
    await sign_in(page, customer_url, READER_TOKEN)
    await expect(page.locator("#history-rows tr")).to_have_count(2)
    await expect(page.get_by_text("Reverse…")).to_have_count(0)
    await expect(page.get_by_role("button", name="Reverse")).to_have_count(0)
    await expect(page.locator("#history-table th", has_text="Actions")).to_have_count(0)
    token = await page.locator(".who input[name=csrf]").input_value()
    fields: dict[str, str | float | bool] = {
        "csrf": token,
        "action": "reverse",
        "entry_id": debit.id,
        "reason": "x",
        "idempotency_key": "k1",
    }
    answer = await page.request.post(customer_url + "/apply", form=fields, headers={"origin": auth_console_url})
    assert answer.status == 403
    async with AsyncWalletClient(auth_server, metadata=(("authorization", f"Bearer {READER_TOKEN}"),)) as client:
        assert not [e async for e in client.iter_entries(customer_id) if e.reverses_entry_id]


async def test_a_reverse_form_being_filled_in_survives_a_live_update(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD", reason="top-up")
    debit = (await aclient.debit(customer_id, 1_000, "USD", reason="API usage")).entry
    await page.goto(f"{console_url}/customers/{customer_id}")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))  # the watch is live
    form = await open_reverse(page, debit.id)
    await form.get_by_label("Amount").fill("3.00")
    await form.get_by_label("Reason").fill("Half typed")
    await aclient.credit(customer_id, 500, "USD", reason="made elsewhere")
    await expect(page.locator("#wallets").get_by_role("row", name=re.compile("USD"))).to_contain_text("$95.00")
    form = page.locator(f"#entry-{debit.id} form.reverse-form")
    await expect(form.get_by_label("Amount")).to_have_value("3.00")
    await expect(form.get_by_label("Reason")).to_have_value("Half typed")


async def test_a_refusal_of_an_entry_no_longer_on_its_page_is_shown_with_its_form_above_the_history(
    page: Page, console_url: str, customer_id: str, aclient: AsyncWalletClient
) -> None:
    await aclient.credit(customer_id, 10_000, "USD", reason="top-up")
    debit = (await aclient.debit(customer_id, 1_000, "USD", reason="API usage")).entry
    await page.goto(f"{console_url}/customers/{customer_id}")
    form = await open_reverse(page, debit.id)
    # As if the page had moved on: the history page the form comes back to no longer holds the entry.
    await form.locator("input[name=page]").evaluate(f"e => e.value = 'after={debit.id}'")
    await form.get_by_label("Amount").fill("99.00")
    await form.get_by_label("Reason").fill("Too much")
    await form.get_by_role("button", name="Reverse").click()
    await page.get_by_role("button", name="Confirm").click()
    orphan = page.locator(".orphan")
    await expect(orphan).to_contain_text(debit.id)
    await expect(orphan.locator(".refusal")).to_contain_text("What may be reversed now: $10.00.")
    await expect(orphan.get_by_label("Amount")).to_have_value("99.00")
    await expect(page.locator("#history-rows tr")).to_have_count(1)  # the top-up only
