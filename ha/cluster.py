"""The cluster's processes: one etcd and two Patroni nodes (each with its PostgreSQL) under one base directory.

`HaCluster(base)` picks free ports the first time and keeps them in
`base/cluster.json`, so a second `make run-ha` reuses the same data and
ports. `start()` returns once there is a primary and a synchronous standby.
The drill kills PostgreSQL alone (`kill_postgres`) or a node whole, its
Patroni with it (`kill_node`), and starts a node again (`start_node`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from ha import processes
from ha.binaries import ClusterError, etcd_binary, patroni_binary, postgres_bin_dir
from ha.patroni_config import (
    DATABASE,
    SUPERUSER,
    SUPERUSER_PASSWORD,
    NodePorts,
    node_config,
    service_database_url,
)

NODE_NAMES = ("pg1", "pg2")


class HaCluster:
    def __init__(self, base: Path) -> None:
        self.base = base.resolve()
        self.layout_file = self.base / "cluster.json"
        self.layout = self._load_or_pick_ports()
        self.nodes = [NodePorts(n["name"], n["pg_port"], n["api_port"]) for n in self.layout["nodes"]]
        self.etcd: subprocess.Popen[bytes] | None = None
        self.patronis: dict[str, subprocess.Popen[bytes]] = {}

    # -- layout -------------------------------------------------------------------------------

    def _load_or_pick_ports(self) -> dict[str, Any]:
        if self.layout_file.exists():
            layout: dict[str, Any] = json.loads(self.layout_file.read_text())
            return layout
        ports = iter(_distinct_free_ports(6))
        layout = {
            "etcd_client_port": next(ports),
            "etcd_peer_port": next(ports),
            "nodes": [{"name": name, "pg_port": next(ports), "api_port": next(ports)} for name in NODE_NAMES],
        }
        self.base.mkdir(parents=True, exist_ok=True)
        self.layout_file.write_text(json.dumps(layout, indent=2) + "\n")
        return layout

    @property
    def database_url(self) -> str:
        return service_database_url(self.nodes)

    def node(self, name: str) -> NodePorts:
        return next(node for node in self.nodes if node.name == name)

    def data_dir(self, name: str) -> Path:
        return self.base / name / "data"

    def node_url(self, name: str, dbname: str = DATABASE) -> str:
        port = self.node(name).pg_port
        return f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/{dbname}?connect_timeout=2"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout_s: float = 180.0) -> None:
        """Starts etcd and both nodes; returns once a primary and a synchronous standby run, and the database exists."""
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        self._start_etcd()
        for name in NODE_NAMES:
            self.start_node(name)
        primary = self.wait_for_primary(timeout_s)
        self._create_database(primary)
        self.wait_for_sync_standby(timeout_s)

    def _start_etcd(self) -> None:
        data = self.base / "etcd"
        data.mkdir(parents=True, exist_ok=True)
        processes.hand_over(data)
        client = f"http://127.0.0.1:{self.layout['etcd_client_port']}"
        peer = f"http://127.0.0.1:{self.layout['etcd_peer_port']}"
        command = [
            etcd_binary(),
            "--name=wallet-etcd",
            f"--data-dir={data}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=wallet-etcd={peer}",
            "--initial-cluster-state=new",
            "--enable-v2=false",
        ]
        self.etcd = processes.start(processes.as_unprivileged(command), self.base / "etcd.log", dict(os.environ))
        _wait(lambda: processes.port_open("127.0.0.1", self.layout["etcd_client_port"]), 30, "etcd to listen")

    def start_node(self, name: str) -> None:
        """Starts the node's Patroni, which starts (or clones, or rewinds) its PostgreSQL."""
        home = self.base / name
        home.mkdir(parents=True, exist_ok=True)
        config = home / "patroni.yml"
        config.write_text(
            json.dumps(node_config(self.node(name), self.base, self.layout["etcd_client_port"], postgres_bin_dir()))
        )
        processes.hand_over(home)
        env = {**os.environ, "HOME": str(home)}
        env.pop("DATABASE_URL", None)
        command = processes.as_unprivileged([patroni_binary(), str(config)])
        self.patronis[name] = processes.start(command, home / "patroni.log", env)

    def stop(self) -> None:
        """Stops both nodes (PostgreSQL with a fast shutdown through Patroni), then etcd."""
        for process in self.patronis.values():
            if process.poll() is None:
                process.terminate()
        for process in self.patronis.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                processes.kill_group(process)
        for name in NODE_NAMES:
            pid = self.postmaster_pid(name)
            if pid is not None and processes.alive(pid):
                processes.kill_tree(pid)
        if self.etcd is not None and self.etcd.poll() is None:
            self.etcd.terminate()
            try:
                self.etcd.wait(timeout=20)
            except subprocess.TimeoutExpired:
                processes.kill_group(self.etcd)

    def kill_postgres(self, name: str) -> float:
        """SIGKILLs the node's postmaster and all its processes (its Patroni lives on); returns when (monotonic)."""
        pid = self.postmaster_pid(name)
        if pid is None:
            raise ClusterError(f"{name} has no running postmaster")
        pids = processes.kill_tree(pid)
        killed_at = time.monotonic()
        processes.wait_gone(pids)
        return killed_at

    def kill_node(self, name: str) -> float:
        """SIGKILLs the node whole, its Patroni and its PostgreSQL, as a machine losing power; returns when."""
        pid = self.postmaster_pid(name)
        patroni = self.patronis[name]
        os.killpg(patroni.pid, signal.SIGKILL)
        pids = processes.kill_tree(pid) if pid is not None else []
        killed_at = time.monotonic()
        patroni.wait(timeout=30)
        processes.wait_gone(pids)
        return killed_at

    # -- state --------------------------------------------------------------------------------

    def postmaster_pid(self, name: str) -> int | None:
        try:
            first = (self.data_dir(name) / "postmaster.pid").read_text().split("\n", 1)[0]
        except (OSError, PermissionError):
            return None
        pid = int(first) if first.strip().isdigit() else None
        return pid if pid is not None and processes.alive(pid) else None

    def members(self) -> list[dict[str, Any]]:
        """Patroni's view of the cluster (GET /cluster on any node that answers); [] if none does."""
        for node in self.nodes:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{node.api_port}/cluster", timeout=1) as response:
                    members: list[dict[str, Any]] = json.load(response).get("members", [])
                    return members
            except OSError:
                continue
        return []

    def primary(self) -> str | None:
        for member in self.members():
            if member.get("role") in ("leader", "primary") and member.get("state") == "running":
                return str(member["name"])
        return None

    def sync_standby(self) -> str | None:
        for member in self.members():
            if member.get("role") == "sync_standby" and member.get("state") in ("streaming", "running"):
                return str(member["name"])
        return None

    def wait_for_primary(self, timeout_s: float, other_than: str | None = None) -> str:
        def found() -> str | None:
            name = self.primary()
            return name if name is not None and name != other_than and self._takes_writes(name) else None

        return str(_wait(found, timeout_s, "a primary"))

    def wait_for_sync_standby(self, timeout_s: float) -> str:
        return str(_wait(self.sync_standby, timeout_s, "a synchronous standby"))

    def _takes_writes(self, name: str) -> bool:
        try:
            with psycopg.connect(self.node_url(name, "postgres"), autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        except psycopg.Error:
            return False
        return row is not None and not row[0]

    def _create_database(self, primary: str) -> None:
        with psycopg.connect(self.node_url(primary, "postgres"), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')


def _distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(processes.free_port())
    return sorted(ports)


def _wait(probe: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ClusterError(f"no {what} after {timeout_s:.0f}s")
        time.sleep(0.1)
