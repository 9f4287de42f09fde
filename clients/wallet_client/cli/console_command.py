"""`wallet console`: the support console in the browser (the `console` extra; docs/console.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from wallet_client.cli.context import Options


def console(
    ctx: typer.Context,
    addr: Annotated[
        str | None,
        typer.Option(
            "--addr",
            metavar="HOST:PORT",
            envvar="WALLET_CONSOLE_ADDR",
            show_default=False,
            help="Where to serve the console. Default: 127.0.0.1:8080.",
        ),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            envvar="WALLET_CONSOLE_ALLOW_REMOTE",
            help="Serve on a non-loopback address although the service authenticates no caller.",
        ),
    ] = False,
) -> None:
    """Serve the support console against the wallet service (--target), until Ctrl-C."""
    try:
        from wallet_console.server import main
        from wallet_console.settings import DEFAULT_ADDR, ConsoleSettings
    except ImportError as error:
        typer.echo(
            f"The console needs its web dependencies ({error.name} is missing): "
            "pip install 'customer-wallet[console]' (make install includes them).",
            err=True,
        )
        raise typer.Exit(1) from None
    opts: Options = ctx.obj
    main(ConsoleSettings(addr=addr or DEFAULT_ADDR, target=opts.target, allow_remote=allow_remote))
