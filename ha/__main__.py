"""`python -m ha run|status`: the highly available setup of `make run-ha` and `make ha-status`.

`run` starts etcd, two Patroni nodes (a primary and a synchronous standby)
and the wallet service on the multi-host DATABASE_URL, all under
WALLET_HA_DIR (default `.data/ha/`), and stops all of it on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ha.binaries import ROOT
from ha.cluster import HaCluster
from ha.status import SERVICE_FILE, print_status


def run(base: Path) -> int:
    cluster = HaCluster(base)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    service: subprocess.Popen[bytes] | None = None
    try:
        print(f"starting etcd and two Patroni nodes under {cluster.base} ...", flush=True)
        cluster.start()
        print(f"primary {cluster.primary()}, synchronous standby {cluster.sync_standby()}", flush=True)
        addr = os.environ.get("WALLET_LISTEN_ADDR", "127.0.0.1:50051")
        env = {**os.environ, "DATABASE_URL": cluster.database_url, "WALLET_LISTEN_ADDR": addr}
        service = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env, start_new_session=True)
        (cluster.base / SERVICE_FILE).write_text(json.dumps({"addr": addr, "pid": service.pid}) + "\n")
        print(f"wallet service pid {service.pid} on {addr}; `make ha-status` shows the nodes", flush=True)
        while not stop.is_set() and service.poll() is None:
            stop.wait(0.5)
        return 0 if stop.is_set() else (service.returncode or 1)
    finally:
        if service is not None and service.poll() is None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.kill()
        (cluster.base / SERVICE_FILE).unlink(missing_ok=True)
        print("stopping the cluster ...", flush=True)
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m ha", description=__doc__)
    parser.add_argument("command", choices=("run", "status"))
    args = parser.parse_args()
    base = Path(os.environ.get("WALLET_HA_DIR", str(ROOT / ".data" / "ha")))
    if args.command == "run":
        return run(base)
    return print_status(base)


if __name__ == "__main__":
    sys.exit(main())
