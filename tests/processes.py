"""Runs `python -m server` as a real process for tests, and waits for it to serve."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.waiting import eventually_blocking

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# What `python -m server` logs once it listens, with the port it was given (any, for port 0).
_LISTENING = re.compile(r"WalletService listening on \S+:(\d+)")


def listening_port(output: str) -> int | None:
    """The port a server reported in `output` that it listens on (the last report), if any."""
    ports = _LISTENING.findall(output)
    return int(ports[-1]) if ports else None


def wait_listening(process: subprocess.Popen[Any], output: Callable[[], str], timeout_s: float = 120.0) -> int:
    """Waits until the server process logs the port it listens on; fails at once if it exits first.

    Starting includes migrations, and for a private PostgreSQL initdb and
    pg_ctl: on a loaded machine that takes a while, hence the generous bound.
    """

    def listening() -> bool:
        if listening_port(output()) is None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} while starting:\n{output()[-10_000:]}")
        return listening_port(output()) is not None

    eventually_blocking(listening, timeout_s, "the server to log the port it listens on", poll_s=0.05)
    port = listening_port(output())
    assert port is not None
    return port


def wait_serving(address: str, timeout_s: float = 60.0) -> None:
    """Blocks until the health service at `address` says SERVING."""
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            try:
                response = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
            except grpc.RpcError:
                return False
            return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

        eventually_blocking(serving, timeout_s, f"the server at {address} to say SERVING", poll_s=0.1)


def start_server(
    env_overrides: dict[str, str], *, database_url: str | None, output: IO[str] | int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """Starts `python -m server`; its output goes to a pipe (read it with `communicate`) or to `output`."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    # Metrics on a port the system picks: several servers (and a developer's `make run`) never collide.
    env["WALLET_METRICS_ADDR"] = "127.0.0.1:0"
    env.update(env_overrides)
    return subprocess.Popen(
        [sys.executable, "-m", "server"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextlib.contextmanager
def running_server(
    database_url: str | None, **env: str
) -> Iterator[tuple[subprocess.Popen[str], str, Callable[[], str]]]:
    """A served process, its address, and a function returning its output so far.

    It listens on a port the system picks when it binds (a port picked here
    beforehand could be taken meanwhile) and reports. SIGTERM and reaped at the
    end of the block. The output goes to a file, not a pipe: the server logs a
    line per call, and once a pipe nobody reads is full (about 500 calls) every
    write to it, so the whole server, would block.
    """
    with tempfile.TemporaryFile("w+", prefix="wallet-server-", suffix=".log") as log:

        def output() -> str:
            log.seek(0)
            return log.read()

        process = start_server({"WALLET_LISTEN_ADDR": "127.0.0.1:0", **env}, database_url=database_url, output=log)
        try:
            address = f"127.0.0.1:{wait_listening(process, output)}"
            wait_serving(address)
            yield process, address, output
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
