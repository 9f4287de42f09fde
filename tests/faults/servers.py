"""The wallet server as a real process for fault tests: start, kill, restart on the same port, measure.

Unlike `tests.processes.running_server`, the server's output goes to a file,
not a pipe: a loaded server logs a line per call and would block on a full
pipe nobody reads. The log file is also the evidence when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.processes import ROOT, free_port

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

# Clients of fault tests reconnect quickly to a restarted server instead of
# backing off for up to two minutes (gRPC's default).
FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]


def health_status(address: str, timeout_s: float = 1.0) -> int | None:
    """The server's overall health status, or None when it does not answer."""
    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout_s
            )
        except grpc.RpcError:
            return None
        return int(response.status)


def wait_for_health(address: str, status: int, timeout_s: float) -> float:
    """Polls health until it reports `status`; returns the seconds it took (fails after `timeout_s`)."""
    started = time.monotonic()
    with grpc.insecure_channel(address, options=FAST_RECONNECT) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                response = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if response.status == status:
                    return time.monotonic() - started
            except grpc.RpcError:
                pass
            if time.monotonic() - started > timeout_s:
                name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
                raise TimeoutError(f"server at {address} did not report {name} within {timeout_s}s")
            time.sleep(0.05)  # real time: returns how long recovery took


def wait_until_refusing_calls(channel: grpc.Channel, timeout_s: float = 30.0) -> None:
    """Waits until the server of `channel`, stopping, refuses new calls on it (health turns NOT_SERVING before)."""
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server still took calls {timeout_s}s later")
        time.sleep(0.02)  # polls a server process that is stopping (SIGTERM), in real time


class ServerProcess:
    """`python -m server` on a fixed address; can be killed and started again on the same address."""

    def __init__(self, database_url: str, log_path: Path, **env: str) -> None:
        self.database_url = database_url
        self.address = f"127.0.0.1:{free_port()}"
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = 60.0) -> None:
        """Starts the process and waits until it reports SERVING."""
        assert self.process is None or self.process.poll() is not None, "already running"
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "WALLET_LISTEN_ADDR": self.address,
                "WALLET_REFLECTION": "off",
                # A port the system picks: several servers (and a developer's `make run`) never collide.
                "WALLET_METRICS_ADDR": "127.0.0.1:0",
                "PYTHONUNBUFFERED": "1",
                **self.env,
            }
        )
        if self._log is not None:
            self._log.close()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server"], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        started = time.monotonic()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode} while starting:\n{self.log()}")
            if health_status(self.address, timeout_s=0.5) == SERVING:
                return
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"server at {self.address} did not become SERVING:\n{self.log()}")
            time.sleep(0.05)  # polls a starting server process, in real time

    def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-call, without any cleanup."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM: the process drains its calls and exits on its own (wait for it with `wait`)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def rss_bytes(self) -> int:
        """Resident memory of the server process (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc status")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20_000:]
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, *, count: int = 1, timeout_s: float) -> None:
        """Waits until the server's log holds `text` at least `count` times (fails after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                seen = self.log_path.read_text(errors="replace").count(text)
            except FileNotFoundError:
                seen = 0
            if seen >= count:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} logged {seen} of {count} times in {timeout_s}s:\n{self.log()}")
            time.sleep(0.05)  # polls a server process's log file, in real time

    def stop(self) -> None:
        """Whatever state it is in: SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def server_process(database_url: str, log_path: Path, **env: str) -> Iterator[ServerProcess]:
    """A started server process, stopped (and killed if need be) at the end of the block."""
    server = ServerProcess(database_url, log_path, **env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
