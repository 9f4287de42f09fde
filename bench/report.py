"""The machine's description, the terminal table and the JSON file of a run."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench.infra import REPO


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def describe_machine(database_url: str, database_kind: str) -> dict[str, Any]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        version_row = conn.execute("SELECT version()").fetchone()
        settings = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                (
                    [
                        "shared_buffers",
                        "synchronous_commit",
                        "fsync",
                        "wal_level",
                        "max_connections",
                        "max_wal_size",
                        "checkpoint_timeout",
                    ],
                ),
            ).fetchall()
        )
    return {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "postgresql": version_row[0] if version_row else "unknown",
        "postgresql_settings": settings,
        "database": database_kind,
        "packages": {
            name: _version(name) for name in ("grpcio", "protobuf", "psycopg", "psycopg-pool", "sqlalchemy", "py-spy")
        },
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "server", "bench", "generated", "pyproject.toml")),
    }


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(results: dict[str, Any]) -> str:
    # "ratio" is against the scenario's own baseline (pgbench, echo, cursor); "vs echo" against the
    # bare grpc.aio echo under the same load, blank where a scenario has none.
    headers = ["scenario", "thrpt/s", "p50 ms", "p99 ms", "baseline/s", "ratio", "vs echo", "target", "met"]
    rows = []
    for key, scenario in results["scenarios"].items():
        rows.append(
            [
                f"{key} {scenario.get('title', '')}",
                _fmt(scenario.get("throughput_per_s")),
                _fmt(scenario.get("p50_ms"), 2),
                _fmt(scenario.get("p99_ms"), 2),
                _fmt(scenario.get("baseline_per_s")),
                _fmt(scenario.get("ratio"), 3),
                "" if scenario.get("vs_echo") is None else _fmt(scenario["vs_echo"], 3),
                scenario.get("target", ""),
                {True: "yes", False: "NO", None: "-"}[scenario.get("target_met")],
            ]
        )
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for i, row in enumerate([headers, *rows]):
        lines.append(
            "  ".join(
                str(cell).ljust(widths[j]) if j in (0, 7, 8) else str(cell).rjust(widths[j])
                for j, cell in enumerate(row)
            )
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = []
    for key, scenario in results["scenarios"].items():
        for note in scenario.get("notes", []):
            notes.append(f"  [{key}] {note}")
    log = results.get("server_log") or {}
    if log.get("warnings") or log.get("errors"):
        notes.append(
            f"  server logged {log['warnings']} warnings and {log['errors']} errors, first: {log['first'][:3]}"
        )
    machine = results["machine"]
    header = (
        f"wallet bench ({results['mode']}), {machine['date_utc']}:"
        f" {machine['nproc']} cpus ({machine['cpu_model']}),"
        f" {machine['memory_gb']} GB, {machine['postgresql'].split(' on ')[0]}, Python {machine['python']}"
    )
    return "\n".join([header, "", *lines, *(["", "notes:", *notes] if notes else [])]) + "\n"


def write_json(results: dict[str, Any], paths: list[Path]) -> None:
    text = json.dumps(results, indent=2, sort_keys=False) + "\n"
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text)
        tmp.replace(path)
