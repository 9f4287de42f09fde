"""`wallet --help` as people read it: arguments named in capitals, values named for what they are.

Typer labels each value with its Python type (`<str>`, `<bool>`, `<float
range>`) and writes required arguments as `{customer_id}` on the usage line.
`WalletGroup` renames them as each command is looked up: a flag has no value
label, a text value is named for what it holds (`--since TIME`), and the
usage line reads `wallet capture [OPTIONS] CUSTOMER_ID HOLD_ID [AMOUNT]`.
"""

from __future__ import annotations

from typing import Any

import typer.core
from typer._click.core import Command, Context, Parameter

# What the value of an option is, by the option's name; otherwise its name in capitals.
_VALUE_NAMES = {
    "target": "HOST:PORT",
    "timeout": "SECONDS",
    "as_of": "TIME",
    "since": "TIME",
    "until": "TIME",
    "expires_at": "TIME",
    "expires_in": "DURATION",
    "ttl": "DURATION",
    "limit": "N",
    "after_id": "ENTRY_ID",
    "after": "CURSOR",
    "output": "FILE",
    "svg": "FILE",
    "reason": "TEXT",
    "meta": "KEY=VALUE",
    "idempotency_key": "KEY",
    "time_zone": "ZONE",
    "by_metadata": "KEY",
    "currency": "CURRENCY",
    "batch_size": "N",
}


class _Argument(typer.core.TyperArgument):
    """An argument shown by its name in capitals, on the usage line and in the Arguments panel."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return (name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _tidy(param: Parameter) -> None:
    if isinstance(param, typer.core.TyperArgument):
        if param.metavar is None:
            param.metavar = (param.name or "value").upper()
        param.__class__ = _Argument
        return
    if not isinstance(param, typer.core.TyperOption) or param.metavar is not None:
        return
    if param.is_flag:
        param.metavar = ""
    elif not param.type_descriptor.is_choice:
        param.metavar = _VALUE_NAMES.get(param.name or "", (param.name or "value").upper())


def tidy_command(command: Command, ctx: Context) -> Command:
    for param in [*command.params, command.get_help_option(ctx)]:
        if param is not None:
            _tidy(param)
    return command


class WalletGroup(typer.core.TyperGroup):
    """The `wallet` group: its own options and each command's tidied as they are looked up."""

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        return tidy_command(command, ctx) if command is not None else None

    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        for param in params:
            _tidy(param)
        return params
