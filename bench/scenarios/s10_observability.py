"""Scenario 10: what metrics and traces cost. Scenario 1's write mix against one server of each
observability variant (bench/observability.py), in rounds that alternate the variants, so that drift on
a shared machine spreads over all of them instead of falling on one; each variant's figure is its best round."""

from __future__ import annotations

import contextlib

from bench.context import CUSTOMERS, Context
from bench.infra import start_wallet_server
from bench.loadgen import LoadResult
from bench.observability import VARIANTS
from bench.scenarios.common import Result, Scenario
from bench.scenarios.targets import ObservabilityCost

TARGET = ObservabilityCost()
ROUNDS = 3


def run(ctx: Context) -> dict[str, Result]:
    """Runs the write mix against each variant's server ROUNDS times."""
    print("  the write mix against one server per observability variant ...", flush=True)
    best: dict[str, LoadResult] = {}
    rounds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    # Cores busy outside the benchmark's processes during each round (other sessions, the kernel).
    outside: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with contextlib.ExitStack() as stack:
        servers = {
            name: start_wallet_server(
                stack, ctx.db.url, ctx.log_dir, f"wallet-server-{name}", {**ctx.server_env, **env}
            )
            for name, env in VARIANTS.items()
        }
        names = list(servers)
        for round_number in range(ROUNDS):
            # Each round starts with another variant, so that none always runs last (or first) in a round.
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                server = servers[name]
                print(f"  observability {name}, round {round_number + 1} of {ROUNDS} ...", flush=True)
                spec = ctx.spec("write_mix", [server.address], customer_prefix="sa-", customers=CUSTOMERS)
                result = ctx.load(spec, [server])
                rounds[name].append(result.throughput_per_s)
                other = result.cpu.get("other_processes_cores", 0) + result.cpu.get("unattributed_cores", 0)
                outside[name].append(round(other, 2))
                if name not in best or result.throughput_per_s > best[name].throughput_per_s:
                    best[name] = result
    off = best["off"].throughput_per_s
    ratios = {name: round(best[name].throughput_per_s / off, 3) if off else None for name in VARIANTS}
    return {
        "10": Result(
            title="write mix: observability off / metrics / metrics + tracing at 1%",
            target=TARGET.text,
            target_met=TARGET.met(ratios),
            throughput_per_s=best["metrics"].throughput_per_s,
            p50_ms=best["metrics"].p50_ms,
            p99_ms=best["metrics"].p99_ms,
            baseline_per_s=round(off, 1),
            ratio=ratios["metrics"],
            details={
                "variants": {
                    name: {
                        "env": VARIANTS[name],
                        "best_per_s": best[name].throughput_per_s,
                        "p99_ms": best[name].p99_ms,
                        "ratio_to_off": ratios[name],
                        "rounds_per_s": rounds[name],
                        "rounds_cores_outside": outside[name],
                        "server_cpu_cores": best[name].cpu.get("server_cores"),
                    }
                    for name in VARIANTS
                },
            },
            notes=[
                f"throughput ratio to off: metrics {ratios['metrics']}x, tracing at 1% {ratios['tracing']}x"
                f" (best of {ROUNDS} alternating rounds each)"
            ],
        )
    }


SCENARIO = Scenario("10", "what metrics and traces cost", TARGET, run)
