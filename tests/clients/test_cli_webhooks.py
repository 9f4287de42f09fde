"""`wallet webhooks …` through Typer's test runner, against the real server."""

from __future__ import annotations

import json
import re

from tests.clients.test_cli import assert_explained, assert_no_traceback, wallet

# A public address literal: accepted without resolution; nothing is listening there for the test.
URL = "https://93.184.216.34/hooks/wallet"


async def test_add_list_deliveries_rotate_and_remove_an_endpoint(target: str) -> None:
    added = await wallet(target, "webhooks", "add", URL, "--events", "balance_low", "--events", "BALANCE_RECOVERED")
    assert added.exit_code == 0, added.output
    endpoint_id = re.search(r"endpoint (we_[0-9a-f]{26})", added.stdout).group(1)  # type: ignore[union-attr]
    assert re.search(r"signing secret \(shown once, keep it\): whsec_\S+", added.stdout)
    listed = await wallet(target, "webhooks", "list", "--json")
    assert listed.exit_code == 0, listed.output
    mine = [e for e in map(json.loads, listed.stdout.splitlines()) if e["id"] == endpoint_id]
    assert mine and mine[0]["eventTypes"] == ["EVENT_TYPE_BALANCE_LOW", "EVENT_TYPE_BALANCE_RECOVERED"]
    assert mine[0]["status"] == "WEBHOOK_ENDPOINT_STATUS_ACTIVE"
    table = await wallet(target, "webhooks", "list")
    assert endpoint_id in table.stdout and "balance_low, balance_recovered" in table.stdout
    deliveries = await wallet(target, "webhooks", "deliveries", endpoint_id)
    assert deliveries.exit_code == 0, deliveries.output
    rotated = await wallet(target, "webhooks", "rotate-secret", endpoint_id)
    assert rotated.exit_code == 0 and "new signing secret" in rotated.stdout
    removed = await wallet(target, "webhooks", "remove", endpoint_id)
    assert removed.exit_code == 0 and f"removed {endpoint_id}" in removed.stdout
    assert_explained(await wallet(target, "webhooks", "remove", endpoint_id), 6, f"No webhook endpoint {endpoint_id}")


async def test_a_plain_http_url_is_refused_with_the_reason(target: str) -> None:
    result = await wallet(target, "webhooks", "add", "http://93.184.216.34/hook")
    assert result.exit_code == 2, result.output
    assert "url must start with https://" in result.stderr
    assert_no_traceback(result)


async def test_an_unknown_event_type_is_a_usage_error(target: str) -> None:
    result = await wallet(target, "webhooks", "add", URL, "--events", "everything")
    assert result.exit_code == 2
    assert "everything is not an event type" in result.output
