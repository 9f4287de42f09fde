"""The use cases of the wallet, each one transaction: read balances, apply entries, read history.

`Ledger` is what the API calls. It owns the coalescers that gather concurrent
requests into shared transactions, decides with `server.domain.decide`, and
reads and writes through `server.store`.
"""

from server.ledger.ledger import Ledger

__all__ = ["Ledger"]
