"""`python -m wallet_console`: the same as `wallet console`."""

from wallet_console.server import main

main()
