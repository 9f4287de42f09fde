"""The access log's lines: an ISO 8601 UTC time and the customer id of each call."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from server.app import create_server
from server.config import Settings
from wallet_client import AsyncWalletClient


async def test_each_line_carries_an_iso_8601_utc_time_and_the_customer_id(
    settings: Settings, database_url: str, customer_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wallet.rpc")
    server, port = await create_server(replace(settings, metrics_addr=""), database_url)
    await server.start()
    before = datetime.now(UTC)
    try:
        async with AsyncWalletClient(f"127.0.0.1:{port}") as wallet:
            await wallet.credit(customer_id, 100, "USD", reason="logged")
            await wallet.get_balances(customer_id)
        server.access_log.flush()
    finally:
        await server.stop(1.0)
    lines = [json.loads(line) for r in caplog.records if r.name == "wallet.rpc" for line in r.getMessage().splitlines()]
    mine = [line for line in lines if line.get("customer_id") == customer_id]
    assert [line["method"].rsplit("/", 1)[1] for line in mine] == ["CreateLedgerEntry", "GetBalances"]
    for line in mine:
        assert line["time"].endswith("Z") and len(line["time"]) == len("2026-12-07T01:02:03.456Z")
        logged = datetime.fromisoformat(line["time"])
        assert before - timedelta(seconds=1) <= logged <= datetime.now(UTC)
        assert abs(logged.timestamp() - line["ts"]) < 0.002
