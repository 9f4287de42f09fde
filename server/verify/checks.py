"""How the verifier's checks run: each is a query of (subject, problem) rows."""

from __future__ import annotations

from typing import Any

import psycopg


def run_checks(conn: psycopg.Connection[Any], checks: list[str], limit: int) -> list[str]:
    """The (subject, problem) rows of each check as sentences, at most `limit` per check."""
    problems: list[str] = []
    for check in checks:
        for subject, what in conn.execute(f"{check} ORDER BY 1 LIMIT %(limit)s", {"limit": limit}):
            problems.append(f"{subject}: {what}")
    return problems
