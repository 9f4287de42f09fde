"""`wallet import`: the keys derived for lines without one, the strict amounts, and the --retry-refused walk.

The walk is checked against a small in-memory stand-in for the server's
idempotency (§1 of issue 18: a keyed refusal is stored and replayed with
`replayed` = `true`); tests/clients/test_cli_import_keys.py runs the same
cases against the real server and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import grpc
import pytest

from wallet.v1 import wallet_pb2
from wallet_client import errors
from wallet_client.batch_calls import BatchEntryResult
from wallet_client.cli.import_apply import RETRY_KEYS_MAX, Tally, apply_batch, retry_key
from wallet_client.cli.import_file import Line, read_lines
from wallet_client.models import EntryResult


def entry(amount: object, entry_type: str = "credit", customer: str = "cus_1", **more: object) -> dict[str, object]:
    return {"customer_id": customer, "amount": amount, "currency": "USD", "entry_type": entry_type, **more}


def write(path: Path, *lines: dict[str, object] | str) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def keys(path: Path, namespace: str | None = None) -> list[str]:
    lines = list(read_lines(path, path.name if namespace is None else namespace))
    return [line.request.idempotency_key if line.request else line.problem for line in lines]


def test_the_same_file_gets_the_same_keys_and_identical_lines_get_different_ones(tmp_path: Path) -> None:
    source = write(tmp_path / "day.jsonl", entry(100), entry(100), entry(250, "debit"))
    first = keys(source)
    assert first == keys(source)
    assert len(set(first)) == 3 and all(key.startswith("import-") for key in first)


def test_fixing_one_line_in_place_changes_only_its_key(tmp_path: Path) -> None:
    before = keys(write(tmp_path / "day.jsonl", entry(100), entry(900, "debit"), entry(50)))
    after = keys(write(tmp_path / "day.jsonl", entry(100), entry(90, "debit"), entry(50)))
    assert (before[0], before[2]) == (after[0], after[2]) and before[1] != after[1]


def test_inserting_or_deleting_other_lines_changes_no_other_key(tmp_path: Path) -> None:
    a, b, c = entry(100), entry(200), entry(300)
    before = keys(write(tmp_path / "day.jsonl", a, b))
    inserted = keys(write(tmp_path / "day.jsonl", c, a, b))
    assert inserted[1:] == before
    deleted = keys(write(tmp_path / "day.jsonl", b))
    assert deleted == before[1:]
    # An identical line inserted before its twin takes the first key: the set grows by exactly one key.
    doubled = keys(write(tmp_path / "day.jsonl", a, a, b))
    assert set(before) < set(doubled) and len(set(doubled) - set(before)) == 1


def test_the_same_line_in_files_of_other_names_or_namespaces_gets_other_keys(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    one = keys(write(tmp_path / "a.jsonl", entry(100)))
    other_name = keys(write(tmp_path / "b.jsonl", entry(100)))
    same_name_elsewhere = keys(write(tmp_path / "other" / "a.jsonl", entry(100)))
    assert one != other_name and one == same_name_elsewhere
    assert keys(tmp_path / "other" / "a.jsonl", namespace="2026-12") != one


def test_the_key_follows_the_request_not_its_spelling(tmp_path: Path) -> None:
    spelled = keys(write(tmp_path / "a.jsonl", entry(150, metadata={"a": "1", "b": "2"})))
    respelled = keys(
        write(
            tmp_path / "a.jsonl",
            '{ "metadata": {"b": "2", "a": "1"}, "entryType": "ENTRY_TYPE_CREDIT", "currency": "USD", '
            '"amount": "150", "customerId": "cus_1", "refusal": "line 1: old" }',
        )
    )
    assert spelled == respelled
    csv_file = tmp_path / "a.csv"
    csv_file.write_text(
        'customer_id,amount,currency,entry_type,metadata\ncus_1,150,USD,credit,"{""a"": ""1"", ""b"": ""2""}"\n'
    )
    # Another file name is another namespace; the same content under one name gets the same key.
    assert keys(csv_file, namespace="a.jsonl") == spelled


def test_a_line_with_its_own_key_keeps_it(tmp_path: Path) -> None:
    assert keys(write(tmp_path / "a.jsonl", entry(100, idempotency_key="pay_1"))) == ["pay_1"]


@pytest.mark.parametrize(
    "amount", ["1e3", 150.0, 1.5, "15.0", "١٥", "１５", "+5", " 15", "1_000", "1,500", "0x10", True]
)
def test_an_amount_in_a_file_is_whole_minor_units_in_ascii_digits_or_the_line_is_unreadable(
    tmp_path: Path, amount: object
) -> None:
    (line,) = read_lines(write(tmp_path / "a.jsonl", entry(amount)), "a")
    assert line.request is None
    assert line.problem.startswith("amount ") and "minor units" in line.problem


def test_a_negative_amount_in_a_file_says_amounts_are_positive(tmp_path: Path) -> None:
    for amount in (-5, "-5"):
        (line,) = read_lines(write(tmp_path / "a.jsonl", entry(amount, "debit")), "a")
        assert line.request is None and "amounts are positive" in line.problem


def test_whole_minor_units_read_as_written(tmp_path: Path) -> None:
    lines = list(read_lines(write(tmp_path / "a.jsonl", entry(150), entry("150"), entry("0")), "a"))
    assert [line.request.amount if line.request else None for line in lines] == [150, 150, 0]


class StoredOutcomes:
    """The server's idempotency as §1 has it: applied keys replay, refused keys replay their refusal."""

    def __init__(self) -> None:
        self.balance = 0
        self.keys: dict[str, tuple[bool, bytes]] = {}  # key -> (applied, request)
        self.writes = 0

    def send(self, requests: Sequence[wallet_pb2.CreateLedgerEntryRequest], atomic: bool) -> list[BatchEntryResult]:
        balance, stored = self.balance, dict(self.keys)
        results = []
        for index, request in enumerate(requests):
            key = request.idempotency_key
            known = stored.get(key)
            if known is None:
                applies = request.entry_type == wallet_pb2.ENTRY_TYPE_CREDIT or balance >= request.amount
                known = stored[key] = (applies, request.SerializeToString(deterministic=True))
                if applies:
                    balance += request.amount if request.entry_type == wallet_pb2.ENTRY_TYPE_CREDIT else -request.amount
                    self.writes += 1
                replay = False
            else:
                replay = True
            if known[0]:
                response = wallet_pb2.CreateLedgerEntryResponse(
                    idempotent_replay=replay, entry=wallet_pb2.LedgerEntry(entry_type=request.entry_type)
                )
                results.append(BatchEntryResult(key, result=EntryResult.from_proto(response)))
                continue
            metadata = {"balance": str(balance), "amount": str(request.amount), "currency": "USD"}
            if replay:
                metadata["replayed"] = "true"
            if atomic:
                self.keys[key] = known  # only the refusing item's key is stored
                cause = errors.InsufficientBalance(
                    "insufficient funds",
                    code=grpc.StatusCode.FAILED_PRECONDITION,
                    reason="INSUFFICIENT_WALLET_FUNDS",
                    metadata={**metadata, "index": str(index)},
                    balance=balance,
                    amount=request.amount,
                    currency="USD",
                )
                raise errors.AtomicBatchRefused(cause)
            error = errors.InsufficientBalance(
                "insufficient funds",
                code=grpc.StatusCode.FAILED_PRECONDITION,
                reason="INSUFFICIENT_WALLET_FUNDS",
                metadata=metadata,
                balance=balance,
                amount=request.amount,
                currency="USD",
            )
            results.append(BatchEntryResult(key, error=error))
        self.balance, self.keys = balance, stored
        return results


def run(server: StoredOutcomes, lines: list[Line], *, retry: bool = False, atomic: bool = False) -> Tally:
    tally = Tally()
    apply_batch(server.send, lines, atomic=atomic, retry_refused=retry, tally=tally)
    return tally


@pytest.mark.parametrize("atomic", [False, True])
def test_a_line_refused_earlier_stays_refused_until_retry_refused_then_applies_once(
    tmp_path: Path, atomic: bool
) -> None:
    lines = list(read_lines(write(tmp_path / "a.jsonl", entry(500, "debit")), "a.jsonl"))
    server = StoredOutcomes()
    first = run(server, lines, atomic=atomic)
    assert (first.refused, first.refused_earlier) == (1, 0)
    server.balance = 1_000  # a top-up
    again = run(server, lines, atomic=atomic)
    assert (again.applied, again.refused, again.refused_earlier) == (0, 1, 1)
    assert again.refusals[0][1].startswith("refused earlier with this key (import-")
    retried = run(server, lines, retry=True, atomic=atomic)
    assert (retried.applied, retried.retried, retried.refused) == (1, 1, 0)
    assert server.balance == 500
    twice = run(server, lines, retry=True, atomic=atomic)
    assert (twice.applied, twice.replayed, twice.refused) == (0, 1, 0)
    assert (server.balance, server.writes) == (500, 1)
    assert retry_key(lines[0].request.idempotency_key if lines[0].request else "", 1) in server.keys


def test_each_retry_run_still_refused_adds_one_key_and_the_line_applies_once_when_money_comes(tmp_path: Path) -> None:
    lines = list(read_lines(write(tmp_path / "a.jsonl", entry(500, "debit"), entry(100)), "a.jsonl"))
    server = StoredOutcomes()
    run(server, lines)  # the credit applies: 100; the debit is refused
    for _ in range(3):
        tally = run(server, lines, retry=True)
        assert (tally.applied, tally.replayed, tally.refused, tally.refused_earlier) == (0, 1, 1, 0)
    assert sum(1 for applied, _ in server.keys.values() if not applied) == 4  # the key and 3 retry keys
    server.balance += 1_000
    assert run(server, lines, retry=True).applied == 1
    assert run(server, lines, retry=True).applied == 0
    assert server.balance == 600 and server.writes == 2


def test_a_line_with_its_own_key_is_not_retried_under_another(tmp_path: Path) -> None:
    lines = list(read_lines(write(tmp_path / "a.jsonl", entry(500, "debit", idempotency_key="pay_1")), "a"))
    server = StoredOutcomes()
    run(server, lines)
    server.balance = 1_000
    tally = run(server, lines, retry=True)
    assert (tally.applied, tally.refused_earlier, tally.retried) == (0, 1, 0)
    assert server.writes == 0


def test_the_walk_stops_after_the_most_retry_keys(tmp_path: Path) -> None:
    lines = list(read_lines(write(tmp_path / "a.jsonl", entry(500, "debit")), "a"))
    server = StoredOutcomes()
    base = lines[0].request.idempotency_key if lines[0].request else ""
    for retry in range(RETRY_KEYS_MAX + 1):
        server.keys[retry_key(base, retry)] = (False, b"")
    tally = run(server, lines, retry=True)
    assert (tally.applied, tally.refused_earlier) == (0, 1)
    assert f"-r{RETRY_KEYS_MAX})" in tally.refusals[0][1]
