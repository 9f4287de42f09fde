"""The use cases of the wallet: balances (now or as of an instant), entries and batches of them, holds,
history, summaries, low-balance thresholds and the event stream; every write one transaction.

`Ledger` is what the API calls. It owns the write queues (`write_shards`, each a `coalescer`) that
gather concurrent requests into shared transactions (`transaction`), the background `expirer`, the
event feed and watches (`events_feed`, `watch`), and the service's `clock`; it decides with
`server.domain` and reads and writes through `server.store`.
"""

from server.ledger.ledger import Ledger

__all__ = ["Ledger"]
