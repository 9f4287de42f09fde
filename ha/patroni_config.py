"""The Patroni configuration of one node, and the settings that make an acknowledged write survive its primary.

Written as JSON, which is YAML too: no YAML library needed here. The DCS
settings are the drill's tuned timings (docs/high-availability.md has the
production defaults next to them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCOPE = "wallet"
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "wallet-ha-superuser"
REPLICATION_USER = "replicator"
REPLICATION_PASSWORD = "wallet-ha-replication"
DATABASE = "wallet"

# Tuned for one machine: a dead PostgreSQL under a living Patroni is failed over at
# once (primary_start_timeout 0); a dead node when its leader key expires (ttl).
DCS_TIMINGS = {"ttl": 20, "loop_wait": 1, "retry_timeout": 5, "primary_start_timeout": 0}


@dataclass(frozen=True)
class NodePorts:
    name: str
    pg_port: int
    api_port: int


def dcs_settings() -> dict[str, Any]:
    """What the cluster stores in etcd at bootstrap: timings, synchronous replication, rewind."""
    return {
        **DCS_TIMINGS,
        # Patroni keeps one standby synchronous and never promotes a standby that is not
        # (it might lack acknowledged writes). Not strict: with the standby gone, the
        # primary keeps taking writes alone, and then no standby is promotable.
        "synchronous_mode": True,
        "synchronous_mode_strict": False,
        "synchronous_node_count": 1,
        "maximum_lag_on_failover": 16 * 1024 * 1024,
        "postgresql": {
            "use_pg_rewind": True,
            "use_slots": True,
            "parameters": {
                "wal_level": "replica",
                "hot_standby": "on",
                "synchronous_commit": "on",
                "wal_log_hints": "on",
                "max_wal_senders": 10,
                "max_replication_slots": 10,
                "wal_keep_size": "256MB",
                "max_connections": 100,
                "shared_buffers": "64MB",
            },
        },
    }


def node_config(node: NodePorts, base: Path, etcd_port: int, bin_dir: Path) -> dict[str, Any]:
    """The whole Patroni configuration of `node`, its files under `base/node.name`."""
    home = base / node.name
    return {
        "scope": SCOPE,
        "name": node.name,
        "log": {"level": os.environ.get("WALLET_HA_LOG_LEVEL", "INFO")},
        "restapi": {"listen": f"127.0.0.1:{node.api_port}", "connect_address": f"127.0.0.1:{node.api_port}"},
        "etcd3": {"hosts": [f"127.0.0.1:{etcd_port}"]},
        "bootstrap": {
            "dcs": dcs_settings(),
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, "data-checksums"],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{node.pg_port}",
            "connect_address": f"127.0.0.1:{node.pg_port}",
            "data_dir": str(home / "data"),
            "bin_dir": str(bin_dir),
            "pgpass": str(home / "pgpass"),
            "authentication": {
                "superuser": {"username": SUPERUSER, "password": SUPERUSER_PASSWORD},
                "replication": {"username": REPLICATION_USER, "password": REPLICATION_PASSWORD},
                "rewind": {"username": SUPERUSER, "password": SUPERUSER_PASSWORD},
            },
            "parameters": {"unix_socket_directories": str(home)},
            # One machine, loopback only: password authentication (scram) on TCP.
            "pg_hba": [
                "local all all trust",
                f"host replication {REPLICATION_USER} 127.0.0.1/32 scram-sha-256",
                "host all all 127.0.0.1/32 scram-sha-256",
            ],
            # A rejoining old primary is rewound; if that fails, it is cloned again from the primary.
            "remove_data_directory_on_rewind_failure": True,
            "remove_data_directory_on_diverged_timelines": True,
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }


def service_database_url(nodes: list[NodePorts]) -> str:
    """The service's multi-host URL: libpq tries each node and keeps the one that takes writes."""
    hosts = ",".join(f"127.0.0.1:{node.pg_port}" for node in nodes)
    return f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@{hosts}/{DATABASE}?target_session_attrs=read-write"
