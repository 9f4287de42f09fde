"""`python -m bench`: start everything, run the scenarios against their baselines, stop everything.

Scenarios 1-3 are held against a bare grpc.aio echo service (bench/echo_server.py) driven
by the same load generator with the same load in the same run ("vs echo"); scenarios 1
and 2 also keep their pgbench ratio.

Modes: `quick` runs every scenario briefly (under 3 minutes), `full` is the
run whose results are committed, `profile` runs scenarios 1-4 with py-spy
attached to the server and writes flame graphs and text summaries.
Results go to bench/results/latest.json (and `<mode>.json`); the profile mode
writes bench/results/profile/ and profile.json instead.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import reports, seed
from bench.context import (
    BATCH_PREFIX,
    CUSTOMERS,
    EXPORT_CUSTOMER,
    HOT_BATCH,
    HOT_PGB,
    HOT_SVC,
    MODES,
    NOISE_CORES,
    REPORT_CUSTOMER,
    RESULTS,
    Context,
)
from bench.infra import REPO, fresh_database, start_wallet_server, stop_process
from bench.observability import VARIANTS
from bench.report import describe_machine, table, write_json
from bench.scenarios import SCENARIOS
from bench.scenarios.common import server_env

logger = logging.getLogger("bench")


class Interrupted(Exception):
    """SIGTERM arrived: unwind like Ctrl-C so that every process is stopped."""


def _effective_settings(env: dict[str, str]) -> dict[str, Any]:
    from server.config import Settings

    settings = Settings.from_env({**env, "DATABASE_URL": "x"})
    values = dataclasses.asdict(settings)
    values.pop("database_url", None)
    values["currencies"] = sorted(values["currencies"])
    return values


def _seed_all(ctx: Context) -> None:
    print("seeding: 3 x 10,000 customers x 2 wallets, 2 hot wallets", flush=True)
    for prefix in ("pd-", "sa-", "sb-"):
        seed.seed_customers(ctx.db.url, prefix, CUSTOMERS)
    for hot in (HOT_SVC, HOT_PGB):
        seed.seed_customers(ctx.db.url, hot[:-1], 1, seed.HOT_START_BALANCE)
    if "8" in ctx.args.scenarios:
        seed.seed_customers(ctx.db.url, BATCH_PREFIX, CUSTOMERS)
    if "9" in ctx.args.scenarios:
        seed.seed_customers(ctx.db.url, HOT_BATCH[:-1], 1, seed.HOT_START_BALANCE)
    if "4" in ctx.args.scenarios and ctx.mode.export_entries:
        print(f"seeding: {ctx.mode.export_entries:,} ledger entries of one customer", flush=True)
        ctx.export_balance = seed.seed_history(ctx.db.url, EXPORT_CUSTOMER, ctx.mode.export_entries)
    if "6" in ctx.args.scenarios:
        print(f"seeding: a year of {ctx.mode.report_entries:,} ledger entries of one customer", flush=True)
        ctx.report_year = reports.seed_year(ctx.db.url, REPORT_CUSTOMER, ctx.mode.report_entries)
    seed.events_begin_now(ctx.db.url)
    seed.vacuum_analyze(ctx.db.url)


def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = MODES[args.mode]
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        log_dir = Path(tempfile.mkdtemp(prefix="wallet-bench-logs-", dir=args.tmp_dir))
        stack.callback(lambda: None if args.keep_logs else shutil.rmtree(log_dir, ignore_errors=True))
        print(f"starting PostgreSQL ({'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded'}) ...")
        db = stack.enter_context(fresh_database(args.tmp_dir))
        env = server_env(args.observability)
        ctx = Context(args=args, mode=mode, db=db, stack=stack, log_dir=log_dir, server_env=env)
        ctx.results = {
            "mode": args.mode,
            "machine": describe_machine(db.url, db.kind),
            "config": {
                "client_processes": args.client_processes,
                "concurrency": args.concurrency,
                "warmup_s": mode.warmup_s,
                "duration_s": mode.duration_s,
                "pgbench_seconds_per_try": mode.pgbench_s,
                "customers": CUSTOMERS,
                "server_env": env,
                "server_settings": _effective_settings(env),
            },
            "scenarios": {},
        }
        _seed_all(ctx)
        print("starting the wallet server ...", flush=True)
        ctx.server = start_wallet_server(stack, db.url, log_dir, "wallet-server", env)
        for key in args.scenarios:
            print(f"scenario {key}:", flush=True)
            t0 = time.monotonic()
            produced = SCENARIOS[key].run(ctx)
            if ctx.server.proc.poll() is not None:
                raise RuntimeError(f"the wallet server died during scenario {key}:\n{ctx.server.log_tail()}")
            for name, result in produced.items():
                entry = result.as_dict()
                entry["scenario_wall_s"] = round(time.monotonic() - t0, 1)
                entry["notes"].extend(_noise_notes(entry))
                ctx.results["scenarios"][name] = entry
        stop_process(ctx.server.proc)
        ctx.results["server_log"] = _scan_logs(log_dir)
        if args.keep_logs:
            print(f"logs kept in {log_dir}")
    ctx.results["total_wall_s"] = round(time.monotonic() - started, 1)
    return ctx.results


def _noise_notes(entry: dict[str, Any]) -> list[str]:
    """A note for each measurement of the entry during which other processes kept the machine busy."""
    notes = []
    measured = [
        ("", entry.get("load", entry.get("export", {}))),
        ("echo baseline ", entry.get("echo", {})),
        ("baseline ", entry.get("baseline", {})),  # scenario 3's is the echo's load
    ]
    for what, part in measured:
        cpu = part.get("cpu", {})
        outside = cpu.get("other_processes_cores", 0) + cpu.get("unattributed_cores", 0)
        if outside > NOISE_CORES:
            notes.append(
                f"{what}noisy: {outside:.2f} of {cpu['machine_busy_cores']} busy cores were outside"
                " the benchmark's processes (other sessions' processes, kernel)"
            )
    return notes


def _scan_logs(log_dir: Path) -> dict[str, Any]:
    """Warnings and errors the servers logged (a clean run has none)."""
    found: dict[str, Any] = {"warnings": 0, "errors": 0, "first": []}
    for path in sorted(log_dir.glob("wallet-server*.log")):
        with open(path, errors="replace") as log:
            for line in log:
                if " WARNING " in line:
                    level = "warnings"
                elif " ERROR " in line or line.startswith("Traceback"):
                    level = "errors"
                else:
                    continue
                found[level] += 1
                if len(found["first"]) < 10:
                    found["first"].append(f"{path.name}: {line.strip()[:300]}")
    return found


def _on_sigterm(signum: int, frame: object) -> None:
    raise Interrupted()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="quick")
    parser.add_argument("--scenarios", help="comma-separated subset of 1-12 (default: the mode's)")
    parser.add_argument("--concurrency", type=int, default=64, help="callers in all, split over the processes")
    parser.add_argument("--client-processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="bound per load process")
    parser.add_argument("--tmp-dir", default=None, help="where the throwaway PostgreSQL lives (default: $TMPDIR)")
    parser.add_argument("--no-native", dest="native", action="store_false", help="profile without C frames")
    parser.add_argument("--keep-logs", action="store_true", help="keep server and pgbench logs")
    parser.add_argument("--output", type=Path, default=None, help="results file (default: per mode)")
    parser.add_argument(
        "--observability",
        choices=sorted(VARIANTS),
        default="metrics",
        help="metrics/tracing of the servers of scenarios 1-5 (default: metrics, as shipped); scenario 10 runs all",
    )
    args = parser.parse_args(argv)
    mode = MODES[args.mode]
    args.scenarios = args.scenarios.split(",") if args.scenarios else list(mode.scenarios)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown or args.concurrency < args.client_processes or args.client_processes < 1:
        parser.error(f"bad --scenarios {sorted(unknown)} or --concurrency/--client-processes")
    args.profile = args.mode == "profile"
    args.profile_dir = RESULTS / "profile"
    if args.profile:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        results = run(args)
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted: everything started was stopped", file=sys.stderr)
        return 130
    if args.output:
        paths = [args.output]
    elif args.profile:
        paths = [RESULTS / "profile.json"]
    else:
        paths = [RESULTS / "latest.json", RESULTS / f"{args.mode}.json"]
    write_json(results, paths)
    print()
    print(table(results))
    print("results: " + ", ".join(str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p) for p in paths))
    print(f"total time: {results['total_wall_s']:.0f}s")
    failed_checks = [k for k, s in results["scenarios"].items() if not s.get("checks", {"ok": True})["ok"]]
    if failed_checks:
        print(f"CONSISTENCY CHECK FAILED in scenario(s) {failed_checks}", file=sys.stderr)
        return 1
    return 0
