"""The server's layers import only what they may, and only the store executes SQL."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SERVER = Path(__file__).parents[2] / "server"

# What each package may import of ours (besides itself); see the README's architecture section.
ALLOWED = {
    "domain": set(),
    "store": {"server.domain", "server.config"},
    # Metrics and traces: called from the edges (api) and the ledger's batches, never from the domain.
    "observability": {"server.domain", "server.config"},
    "ledger": {"server.domain", "server.store", "server.config", "server.observability"},
    "api": {"server.domain", "server.ledger", "server.config", "server.observability"},
    # The event sinks: an outgoing edge (events rendered as the API renders them), reading the outbox by position.
    "delivery": {
        "server.domain",
        "server.ledger",
        "server.store",
        "server.config",
        "server.observability",
        "server.api",
    },
}
# Modules that may execute SQL: the store, the verifier, and the wiring's health probe.
SQL_MODULES = {"store", "verify.py", "verify_credits.py", "verify_events.py", "verify_sinks.py", "app.py"}


def _modules() -> list[Path]:
    return sorted(SERVER.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    allowed = ALLOWED[package] | {f"server.{package}"}
    wrong = {
        f"{path.relative_to(SERVER)}: {name}"
        for path in (SERVER / package).rglob("*.py")
        for name in _imports(path)
        if name.startswith("server") and not any(name == a or name.startswith(a + ".") for a in allowed)
    }
    assert wrong == set()


def test_the_domain_imports_no_transport_and_no_database_driver() -> None:
    forbidden = (
        "grpc",
        "google",
        "wallet",
        "psycopg",
        "psycopg_pool",
        "sqlalchemy",
        "alembic",
        "opentelemetry",
        "prometheus_client",
    )
    wrong = {
        f"{path.relative_to(SERVER)}: {name}"
        for path in (SERVER / "domain").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in forbidden
    }
    assert wrong == set()


def test_importing_the_domain_and_the_ledger_loads_no_grpc() -> None:
    probe = (
        "import sys, server.domain.model, server.domain.decide, server.domain.errors, server.ledger;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'wallet')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_only_the_store_the_verifier_and_the_health_probe_execute_sql() -> None:
    executing = {
        str(path.relative_to(SERVER))
        for path in _modules()
        if ".execute(" in path.read_text() and path.relative_to(SERVER).parts[0] not in SQL_MODULES
    }
    assert executing == set()


def test_the_console_is_a_client_it_imports_no_server_and_no_database_driver() -> None:
    console = SERVER.parent / "clients" / "wallet_console"
    forbidden = ("server", "psycopg", "psycopg_pool", "sqlalchemy", "alembic")
    wrong = {
        f"{path.name}: {name}"
        for path in console.rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in forbidden
    }
    assert wrong == set()
