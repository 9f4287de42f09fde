"""The support console: a web page per customer over the wallet service's gRPC API (docs/console.md).

It is one more client of the service, through `wallet_client.AsyncWalletClient`;
it never touches the database. Installed with the `console` extra.
"""

from wallet_console.settings import ConsoleSettings

__all__ = ["ConsoleSettings"]
