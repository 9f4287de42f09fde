"""The raw-SQL limit: the service's write transaction run by pgbench, at its best client count.

The script does what one CreateLedgerEntry must do on this schema, one entry
per transaction, in the plainest SQL: lock the customer's ledger head (and
take the next seq), lock the wallet row, insert the entry with its
before/after balances, update the balance, commit. It uses the wheel's own
pgbench (never the machine's PostgreSQL) over the embedded server's socket.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.infra import die_with_parent, pg_bin

# One entry per transaction on a random customer of `{prefix}1..{prefix}{customers}`,
# random currency, credit or debit of 1..100 (the same mix as the service's load).
_ONE_ENTRY = r"""
\set c random(1, {customers})
\set cur random(0, 1)
\set credit {credit_expr}
\set amt random(1, 100)
\set delta (2 * :credit - 1) * :amt
BEGIN;
UPDATE ledger_heads SET last_seq = last_seq + 1, last_entry_at = clock_timestamp()
    WHERE customer_id = {customer_expr} RETURNING last_seq AS seq \gset
SELECT balance AS bal FROM wallets
    WHERE customer_id = {customer_expr} AND currency = {currency_expr} FOR UPDATE \gset
INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance, after_balance,
                            reason, created_at)
    VALUES ('le_' || md5(random()::text), {customer_expr}, :seq, {currency_expr},
            CASE WHEN :credit::int = 1 THEN 'credit' ELSE 'debit' END, :amt,
            :bal, :bal::bigint + :delta::bigint, 'pgbench', clock_timestamp());
UPDATE wallets SET balance = :bal::bigint + :delta::bigint, updated_at = clock_timestamp()
    WHERE customer_id = {customer_expr} AND currency = {currency_expr};
END;
"""

# `batch` debits of one wallet in one transaction: the ceiling that coalescing can approach.
_BATCH_DEBITS = r"""
\set amt random(1, 100)
BEGIN;
UPDATE ledger_heads SET last_seq = last_seq + {batch}, last_entry_at = clock_timestamp()
    WHERE customer_id = '{customer}' RETURNING last_seq - {batch} AS seq0 \gset
SELECT balance AS bal FROM wallets WHERE customer_id = '{customer}' AND currency = 'USD' FOR UPDATE \gset
INSERT INTO ledger_entries (id, customer_id, seq, currency, entry_type, amount, before_balance, after_balance,
                            reason, created_at)
    SELECT 'le_' || md5(random()::text), '{customer}', :seq0::bigint + i, 'USD', 'debit', :amt,
           :bal::bigint - (i - 1) * :amt::bigint, :bal::bigint - i * :amt::bigint, 'pgbench',
           clock_timestamp()
    FROM generate_series(1, {batch}) AS i;
UPDATE wallets SET balance = :bal::bigint - {batch} * :amt::bigint, updated_at = clock_timestamp()
    WHERE customer_id = '{customer}' AND currency = 'USD';
END;
"""


def mix_script(prefix: str, customers: int) -> str:
    """Credits and debits over `customers` customers × {USD, INR} (scenario 1's baseline)."""
    return _ONE_ENTRY.format(
        customers=customers,
        customer_expr=f"'{prefix}' || :c::text",
        credit_expr="random(0, 1)",
        currency_expr="(CASE WHEN :cur::int = 0 THEN 'USD' ELSE 'INR' END)",
    )


def hot_script(customer: str) -> str:
    """Debits of one customer's USD wallet (scenario 2's baseline)."""
    return _ONE_ENTRY.format(customers=1, customer_expr=f"'{customer}'", credit_expr="0", currency_expr="'USD'")


def batch_script(customer: str, batch: int) -> str:
    return _BATCH_DEBITS.format(customer=customer, batch=batch)


@dataclass
class PgbenchRun:
    clients: int
    tps: float
    latency_avg_ms: float | None
    failed: int
    when: str = "before"  # "after": the best client count again, after the service's load


@dataclass
class PgbenchBest:
    """The runs at each client count tried and the best of them."""

    runs: list[PgbenchRun] = field(default_factory=list)

    @property
    def best(self) -> PgbenchRun:
        return max(self.runs, key=lambda run: run.tps)

    def as_dict(self, entries_per_transaction: int = 1) -> dict[str, object]:
        return {
            "best_clients": self.best.clients,
            "best_tps": round(self.best.tps, 1),
            "entries_per_transaction": entries_per_transaction,
            "tried": [
                {
                    "clients": r.clients,
                    "tps": round(r.tps, 1),
                    "latency_avg_ms": r.latency_avg_ms,
                    "failed": r.failed,
                    "when": r.when,
                }
                for r in self.runs
            ],
        }


def run_pgbench(url: str, script: str, clients: int, seconds: int, log_dir: Path) -> PgbenchRun:
    """One bounded pgbench run (-T seconds, killed if it overruns); returns its tps (without connecting)."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", dir=log_dir, delete=False) as handle:
        handle.write(script)
        script_path = handle.name
    command = [
        str(pg_bin("pgbench")),
        "--no-vacuum",
        "--protocol=prepared",
        f"--client={clients}",
        f"--jobs={min(clients, 2)}",
        f"--time={seconds}",
        f"--file={script_path}",
        url,
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            preexec_fn=die_with_parent,
            check=False,
        )
    finally:
        Path(script_path).unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    tps = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", done.stdout, re.M)
    latency = re.search(r"^latency average = ([0-9.]+) ms", done.stdout, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", done.stdout, re.M)
    if tps is None:
        raise RuntimeError(f"pgbench printed no tps:\n{done.stdout[-2000:]}")
    return PgbenchRun(
        clients=clients,
        tps=float(tps.group(1)),
        latency_avg_ms=float(latency.group(1)) if latency else None,
        failed=int(failed.group(1)) if failed else 0,
    )


def again_after(best: PgbenchBest, url: str, script: str, seconds: int, log_dir: Path) -> None:
    """Runs the best client count once more, after the service's load.

    This machine is shared and noisy; the baseline is the best the database showed in this run.
    """
    run = run_pgbench(url, script, best.best.clients, seconds, log_dir)
    run.when = "after"
    best.runs.append(run)


def best_of(url: str, script: str, client_counts: list[int], seconds: int, log_dir: Path) -> PgbenchBest:
    result = PgbenchBest()
    for clients in client_counts:
        result.runs.append(run_pgbench(url, script, clients, seconds, log_dir))
    return result
