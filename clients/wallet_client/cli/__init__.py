"""The `wallet` command line; `main` is the console script's entry point."""

from wallet_client.cli.app import app, main

__all__ = ["app", "main"]
