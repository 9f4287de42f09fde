"""`wallet --help` and each command's: values named for what they are, usage lines naming the arguments."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from wallet_client.cli import app

runner = CliRunner()
COMMANDS = [
    "balances", "credit", "debit", "history", "hold", "capture", "release", "holds",
    "import", "report", "watch", "threshold",
]  # fmt: skip


def help_of(*command: str) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_shows_no_python_type_labels_and_names_arguments_in_capitals(command: str) -> None:
    shown = help_of(*([command] if command else []))
    assert not re.search(r"<(bool|str|int|float|path)", shown), shown
    usage = next(line for line in shown.splitlines() if "Usage:" in line)
    assert "{" not in usage and not re.search(r"\b[a-z]+_id\b", usage), usage


def test_usage_lines_name_each_argument() -> None:
    assert "Usage: wallet capture [OPTIONS] CUSTOMER_ID HOLD_ID [AMOUNT]" in help_of("capture")
    assert "Usage: wallet credit [OPTIONS] CUSTOMER_ID AMOUNT CURRENCY" in help_of("credit")
    assert "Usage: wallet watch [OPTIONS] [CUSTOMER_ID]" in help_of("watch")


def test_target_names_its_environment_variable_and_default() -> None:
    shown = help_of()
    assert "WALLET_ADDR" in shown and "127.0.0.1:50051" in shown
    assert re.search(r"--target\s+-t\s+HOST:PORT", shown), shown
