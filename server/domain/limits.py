"""Every limit, declared once: the contract's limits and formats (wallet.proto and webhooks.proto document
the same numbers), then the server's own bounds on work (batch, page and buffer sizes).

Intervals and timeouts are not limits: they stay beside the loops they pace, and the tunable ones are
settings (server.config).
"""

from __future__ import annotations

import re

CUSTOMER_ID_LENGTH_MAX = 128
AMOUNT_MAX = 10**15
REASON_LENGTH_MAX = 1_000
IDEMPOTENCY_KEY_LENGTH_MAX = 255
METADATA_KEYS_MAX = 50
METADATA_KEY_LENGTH_MAX = 40
METADATA_VALUE_LENGTH_MAX = 500
# The largest balance a signed 64-bit column holds.
BALANCE_MAX = 2**63 - 1
# Entry ids are `le_` and 32 hex digits; anything much longer is not one of ours.
ENTRY_ID_LENGTH_MAX = 64

# An ISO 4217 alphabetic code, for requests and for WALLET_CURRENCIES alike.
CURRENCY_CODE = re.compile(r"[A-Z]{3}")
# Supported currencies and their minor-unit exponents when WALLET_CURRENCIES is unset.
DEFAULT_CURRENCIES = "USD:2,INR:2"

# Rows read per history query: large enough to amortise the round trip, small
# enough that one batch never holds much memory.
HISTORY_BATCH_ROWS = 1_000
# A stream message stays under about 1 MiB, far below the 4 MiB that gRPC
# clients accept by default, and holds at most this many entries.
STREAM_MESSAGE_ENTRIES_MAX = 1_000
STREAM_MESSAGE_BYTES_MAX = 1 << 20

# Hold ids are `hd_` and 32 hex digits; a longer id is refused as malformed.
HOLD_ID_LENGTH_MAX = 64
HOLD_PAGE_SIZE_DEFAULT = 100
HOLD_PAGE_SIZE_MAX = 1_000

# SummarizeLedger: at most this many buckets (clipped ones included), the
# largest metadata values shown by name in a bucket's breakdown, and the
# labels of the rows for the other values and for debits without the key.
SUMMARY_BUCKETS_MAX = 1_000
SUMMARY_TOP_VALUES = 20
SUMMARY_OTHER_VALUES = "(other)"
SUMMARY_NO_VALUE = "(none)"
# An IANA time zone name is a few dozen characters; anything much longer is not one.
TIME_ZONE_LENGTH_MAX = 64

# BatchCreateLedgerEntries: at most this many requests in one batch, all in
# one transaction (bounded by lock and statement timeouts like any other).
BATCH_ENTRIES_MAX = 1_000

# WatchEvents: at most this many events in one stream message.
WATCH_EVENTS_PER_MESSAGE = 1_000

# Webhook endpoints (webhooks.proto): the longest URL and description accepted.
WEBHOOK_URL_LENGTH_MAX = 2_000
WEBHOOK_DESCRIPTION_LENGTH_MAX = 500

# The server's own bounds on work, none of them part of the contract.
# Events placed per placer transaction: bounds its length and its lock time.
EVENT_PLACE_BATCH_MAX = 5_000
# Events a webhook worker reads per batch, and requests in flight to one endpoint at most (one per customer lane).
WEBHOOK_READ_BATCH_MAX = 500
WEBHOOK_LANES_MAX = 16
# Webhook endpoints the dispatcher reads per page when it refreshes its list.
WEBHOOK_ENDPOINTS_PAGE = 500
# Events the NATS relay reads and publishes per batch.
NATS_RELAY_BATCH_MAX = 1_000
# Access-log lines buffered before a flush sooner than the interval (server.api.access_log).
ACCESS_LOG_LINES_MAX = 5_000
