"""The server's layers import only what they may, and only the store executes SQL."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SERVER = Path(__file__).parents[2] / "server"

# What each package, and each module at server/'s root, may import of ours (besides itself); see the
# README's architecture section. Every module of server/ falls under one of them (a test checks).
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
    # The verifier reads the stored rows alone; its command finds the database as the server does.
    "verify": {"server.config", "server.store.db", "server.domain.cursors"},
    # The root: the settings (read once; their bounds are the domain's limits), the wiring, and the process.
    "__init__.py": set(),
    "config.py": {"server.domain", "server.config_values"},
    "config_values.py": {"server.domain"},
    "app.py": {
        "server.api",
        "server.delivery",
        "server.ledger",
        "server.config",
        "server.observability",
        "server.store.db",
        "server.store.failover",
    },
    "__main__.py": {"server.api.auth", "server.app", "server.config", "server.store.db", "server.sinks_process"},
    "sinks_process.py": {"server.config", "server.delivery", "server.ledger", "server.observability", "server.store"},
}
# Modules that may execute SQL: the store, the verifier, and the wiring's health probe.
SQL_MODULES = {"store", "verify", "app.py"}


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


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_package_and_root_module_imports_only_the_layers_below_it(part: str) -> None:
    own = f"server.{part.removesuffix('.py')}" if part != "__init__.py" else "server"
    allowed = ALLOWED[part] | {own}
    paths = [SERVER / part] if part.endswith(".py") else sorted((SERVER / part).rglob("*.py"))
    wrong = {
        f"{path.relative_to(SERVER)}: {name}"
        for path in paths
        for name in _imports(path)
        if name.startswith("server") and not any(name == a or name.startswith(a + ".") for a in allowed)
    }
    assert wrong == set()


def test_every_module_of_the_server_is_under_a_layer_rule() -> None:
    unruled = {str(path.relative_to(SERVER)) for path in _modules() if path.relative_to(SERVER).parts[0] not in ALLOWED}
    assert unruled == set()


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
