"""Starting the cluster's processes as an unprivileged user, and killing them the hard way.

PostgreSQL refuses to run as root and Patroni with it, so as root (CI, a
fresh machine) every process of the cluster runs as `nobody` through
`setpriv`, which execs the command (nothing in between to forward signals).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

UNPRIVILEGED_USER = "nobody"


def as_unprivileged(command: Sequence[str]) -> list[str]:
    """`command`, run as `nobody` when this process is root."""
    if os.geteuid() != 0:
        return list(command)
    return ["setpriv", f"--reuid={UNPRIVILEGED_USER}", "--regid=nogroup", "--clear-groups", "--", *command]


def hand_over(path: Path) -> None:
    """Makes `path` (a directory tree) the unprivileged user's, when running as root."""
    if os.geteuid() != 0:
        return
    subprocess.run(["chown", "-R", f"{UNPRIVILEGED_USER}:nogroup", str(path)], check=True)


def start(command: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Starts `command` in a session of its own (so that its whole tree can be killed), output to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def children_of(pid: int) -> list[int]:
    """The direct children of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the fields after it are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def kill_tree(pid: int) -> list[int]:
    """SIGKILLs `pid` and every process below it, all at once (children first listed); returns their pids."""
    pids = [pid]
    index = 0
    while index < len(pids):
        pids.extend(children_of(pids[index]))
        index += 1
    for target in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)
    return pids


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILLs the process's whole session (it was started with `start`) and reaps it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_gone(pids: Sequence[int], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(alive(pid) and not _zombie(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes {list(pids)} still alive after {timeout_s}s")
        time.sleep(0.02)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
