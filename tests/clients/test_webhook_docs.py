"""The receiver of docs/webhooks.md, run as written: it verifies signatures and handles each webhook-id once."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.domain.webhooks import new_secret, sign
from tests.processes import ROOT, free_port
from tests.waiting import eventually_blocking

DOC = ROOT / "docs" / "webhooks.md"


def _receiver_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    (code,) = [str(b) for b in blocks if "ThreadingHTTPServer" in b]
    return code


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _signed(secret: str, message_id: str, body: bytes) -> dict[str, str]:
    now = int(time.time())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, message_id, now, body),
    }


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    secret, port = new_secret(), free_port()
    script = tmp_path / "receiver.py"
    script.write_text(_receiver_code())
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={"WALLET_WEBHOOK_SECRET": secret, "PORT": str(port), "PATH": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def listening() -> bool:
        assert process.poll() is None, process.stderr
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    eventually_blocking(listening, 30, f"the documented receiver to listen on port {port}", poll_s=0.05)
    yield f"http://127.0.0.1:{port}/", secret, process
    process.kill()
    process.wait(timeout=10)


async def test_the_documented_receiver_handles_an_event_once_and_refuses_a_bad_signature(
    receiver: tuple[str, str, subprocess.Popen[str]],
) -> None:
    url, secret, process = receiver
    body = b'{"cursor": "ev_7", "eventType": "EVENT_TYPE_BALANCE_LOW", "customerId": "cus_1", "currency": "USD"}'
    headers = _signed(secret, "ev_7", body)
    assert await asyncio.to_thread(_post, url, body, headers) == 204
    assert await asyncio.to_thread(_post, url, body, headers) == 204  # a retry: answered, not handled again
    forged = _signed(new_secret(), "ev_8", body.replace(b"ev_7", b"ev_8"))
    assert await asyncio.to_thread(_post, url, body.replace(b"ev_7", b"ev_8"), forged) == 400
    process.kill()
    output, _ = process.communicate(timeout=10)
    assert output.splitlines() == ["EVENT_TYPE_BALANCE_LOW cus_1 USD"]
