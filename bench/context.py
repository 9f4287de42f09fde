"""What every scenario runs in: the mode's durations, the shared constants, and the run's `Context`."""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import pgbench
from bench.infra import REPO, CpuMeter, Database, ServerProcess, process_group
from bench.loadgen import Hooks, LoadResult, LoadSpec, run_load
from bench.profile import PySpy, flamegraph_svg, summarise

RESULTS = REPO / "bench" / "results"
CUSTOMERS = 10_000
HOT_SVC = "hot-svc-1"
HOT_PGB = "hot-pgb-1"
EXPORT_CUSTOMER = "export-1"
REPORT_CUSTOMER = "report-1"
# Scenario 8's customers and scenario 9's hot wallet.
BATCH_PREFIX = "sc-"
HOT_BATCH = "hot-bat-1"
# CPU used outside the benchmark's own processes above which a measurement is flagged as noisy
# (the kernel's loopback work alone accounts for up to about 0.3 core).
NOISE_CORES = 0.5


@dataclass(frozen=True)
class Mode:
    warmup_s: float
    duration_s: float
    pgbench_s: int
    pgbench_mix_clients: tuple[int, ...]
    pgbench_hot_clients: tuple[int, ...]
    pgbench_batches: tuple[int, ...]
    export_entries: int
    target_rate_run: bool = True
    scenarios: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
    # Scenario 6: one customer's year of entries, summarised and read as of instants.
    report_entries: int = 1_000_000


MODES = {
    "quick": Mode(
        warmup_s=1.0,
        duration_s=5.0,
        pgbench_s=3,
        pgbench_mix_clients=(4, 8, 16),
        pgbench_hot_clients=(1, 4, 16),
        pgbench_batches=(10,),
        export_entries=250_000,
        report_entries=250_000,
    ),
    "full": Mode(
        warmup_s=5.0,
        duration_s=30.0,
        pgbench_s=10,
        pgbench_mix_clients=(2, 4, 8, 16, 32, 64),
        pgbench_hot_clients=(1, 2, 4, 8, 16, 32, 64),
        pgbench_batches=(10, 50),
        export_entries=1_000_000,
    ),
    "profile": Mode(
        warmup_s=3.0,
        duration_s=20.0,
        pgbench_s=5,
        pgbench_mix_clients=(8,),
        pgbench_hot_clients=(4,),
        pgbench_batches=(),
        export_entries=250_000,
        target_rate_run=False,
        scenarios=("1", "2", "3", "4"),
    ),
}


@dataclass
class Context:
    args: argparse.Namespace
    mode: Mode
    db: Database
    stack: contextlib.ExitStack
    log_dir: Path
    server: ServerProcess | None = None
    # The servers' environment (WALLET_* of this one, then the observability variant).
    server_env: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    pgbench_mix: pgbench.PgbenchBest | None = None
    # The echo baseline of each write load (by LoadSpec.kind), run at most once per run.
    echo_writes: dict[str, LoadResult] = field(default_factory=dict)
    s1_throughput: float | None = None
    # What was seeded for scenario 4 (the export customer's balance) and 6 (the year: its start, its entries).
    export_balance: int = 0
    report_year: tuple[Any, int] = (None, 0)

    def spec(self, kind: str, targets: list[str], **overrides: Any) -> LoadSpec:
        values: dict[str, Any] = {
            "kind": kind,
            "targets": tuple(targets),
            "processes": self.args.client_processes,
            "concurrency": self.args.concurrency // self.args.client_processes,
            "warmup_s": self.mode.warmup_s,
            "duration_s": self.mode.duration_s,
            "max_requests": self.args.max_requests,
        }
        values.update(overrides)
        return LoadSpec(**values)

    def load(self, spec: LoadSpec, servers: list[ServerProcess], profile_as: str | None = None) -> LoadResult:
        """Runs one load with CPU accounting (and py-spy on the first server when profiling)."""
        hooks = _Measure(self, servers, profile_as, spec.duration_s)
        result = run_load(spec, hooks)
        result.cpu = hooks.cpu
        hooks.finish()
        return result

    def profile_as(self, name: str) -> str | None:
        """The profile's name for a scenario's load when profiling, else None."""
        return name if self.args.profile else None


def write_profile(ctx: Context, name: str, spy: PySpy) -> None:
    out_dir = ctx.args.profile_dir
    title = f"wallet server during {name}"
    (out_dir / f"{name}.summary.txt").write_text(summarise(spy.output, title))
    (out_dir / f"{name}.flamegraph.svg").write_text(flamegraph_svg(spy.output, title))
    print(f"  profile: {out_dir.relative_to(REPO)}/{name}.{{collapsed.txt,summary.txt,flamegraph.svg}}")


class _Measure(Hooks):
    def __init__(self, ctx: Context, servers: list[ServerProcess], profile_as: str | None, duration_s: float):
        self._ctx = ctx
        self._client_pids: list[int] = []
        server_pids = [s.pid for s in servers]
        self._meter = CpuMeter(
            {
                "server": lambda: process_group(server_pids),
                "clients": lambda: process_group(self._client_pids),
                "postgres": ctx.db.postgres_processes,
            }
        )
        self._profile_as = profile_as
        self._duration_s = duration_s
        self._spy: PySpy | None = None
        self._server_pid = server_pids[0] if server_pids else None
        self.cpu: dict[str, float] = {}

    def window_started(self, pids: list[int]) -> None:
        self._client_pids = pids
        self._meter.start()
        if self._profile_as and self._server_pid:
            out = self._ctx.args.profile_dir / f"{self._profile_as}.collapsed.txt"
            self._spy = PySpy(self._server_pid, self._duration_s, out, native=self._ctx.args.native)

    def window_ended(self) -> None:
        self.cpu = self._meter.stop()

    def finish(self) -> None:
        if self._spy is None or self._profile_as is None:
            return
        self._spy.wait()
        write_profile(self._ctx, self._profile_as, self._spy)
