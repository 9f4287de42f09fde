"""`wallet import` against the real server: batches, a summary, refused lines with reasons, safe re-runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clients.test_cli import assert_no_traceback, wallet
from wallet_client import AsyncWalletClient


def jsonl(path: Path, *lines: dict[str, object] | str) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def entry(customer_id: str, amount: int, entry_type: str = "ENTRY_TYPE_CREDIT", **more: object) -> dict[str, object]:
    return {"customerId": customer_id, "amount": str(amount), "currency": "USD", "entryType": entry_type, **more}


async def usd(aclient: AsyncWalletClient, customer_id: str) -> int:
    return (await aclient.get_balances(customer_id))["USD"].balance


async def test_import_applies_a_jsonl_file_and_writes_refused_lines_with_reasons_beside_it(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    source = jsonl(
        tmp_path / "entries.jsonl",
        entry(customer_id, 1_000, metadata={"order": "o_1"}),
        entry(customer_id, 5_000, "ENTRY_TYPE_DEBIT"),
        "{not json",
        entry(customer_id, 0),
        {"customer_id": customer_id, "amount": 250, "currency": "USD", "entry_type": "debit"},
    )
    result = await wallet(target, "import", str(source), "--batch-size", "2")
    assert result.exit_code == 3, result.output
    assert "entries.jsonl: 2 applied, 0 replayed (applied before), 3 refused." in result.stderr
    assert await usd(aclient, customer_id) == 750
    refused = [json.loads(line) for line in (tmp_path / "entries.refused.jsonl").read_text().splitlines()]
    reasons = [line["refusal"] for line in refused]
    assert reasons[0].startswith("line 2: INSUFFICIENT_WALLET_FUNDS")
    assert reasons[1].startswith("line 3: unreadable")
    assert reasons[2].startswith("line 4: INVALID_ARGUMENT") and "amount" in reasons[2]
    assert_no_traceback(result)

    again = await wallet(target, "import", str(source), "--batch-size", "2")
    assert "entries.jsonl: 0 applied, 2 replayed (applied before), 3 refused." in again.stderr
    assert await usd(aclient, customer_id) == 750


async def test_a_fixed_refused_file_can_be_imported_in_turn(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    source = jsonl(tmp_path / "day.jsonl", entry(customer_id, 100), entry(customer_id, 900, "ENTRY_TYPE_DEBIT"))
    await wallet(target, "import", str(source))
    refused_file = tmp_path / "day.refused.jsonl"
    (line,) = [json.loads(text) for text in refused_file.read_text().splitlines()]
    line["amount"] = "90"
    refused_file.write_text(json.dumps(line) + "\n")
    result = await wallet(target, "import", str(refused_file))
    assert result.exit_code == 0, result.output
    assert "day.refused.jsonl: 1 applied, 0 replayed" in result.stderr
    assert await usd(aclient, customer_id) == 10


async def test_import_reads_csv_with_metadata_as_json(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    source = tmp_path / "entries.csv"
    source.write_text(
        "customer_id,amount,currency,entry_type,reason,metadata\n"
        f'{customer_id},300,USD,credit,top-up,"{{""order"": ""o_9""}}"\n'
        f"{customer_id},100,USD,debit,usage,\n"
    )
    result = await wallet(target, "import", str(source))
    assert result.exit_code == 0, result.output
    assert "entries.csv: 2 applied, 0 replayed (applied before), 0 refused." in result.stderr
    entries = [e async for e in aclient.iter_entries(customer_id)]
    assert [(e.amount, dict(e.metadata)) for e in entries] == [(300, {"order": "o_9"}), (100, {})]
    keys = [e.idempotency_key for e in entries]
    assert all(key.startswith("import-") for key in keys) and keys[0] != keys[1]


async def test_an_atomic_import_stops_at_the_first_refused_batch_and_applies_none_of_it(
    target: str, customer_id: str, aclient: AsyncWalletClient, tmp_path: Path
) -> None:
    source = jsonl(
        tmp_path / "atomic.jsonl",
        entry(customer_id, 100),
        entry(customer_id, 100),
        entry(customer_id, 50, "ENTRY_TYPE_DEBIT"),
        entry(customer_id, 500, "ENTRY_TYPE_DEBIT"),
        entry(customer_id, 1),
    )
    result = await wallet(target, "import", str(source), "--atomic", "--batch-size", "2")
    assert result.exit_code == 3, result.output
    assert "2 applied, 0 replayed (applied before), 2 refused." in result.stderr
    assert "Stopped: line 4 was refused (INSUFFICIENT_WALLET_FUNDS" in result.stderr
    assert await usd(aclient, customer_id) == 200
    reasons = [json.loads(t)["refusal"] for t in (tmp_path / "atomic.refused.jsonl").read_text().splitlines()]
    assert reasons == [
        "line 3: not applied: line 4 refused its batch",
        reasons[1],
    ] and reasons[1].startswith("line 4: INSUFFICIENT_WALLET_FUNDS")
