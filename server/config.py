"""Settings of the wallet server, read once from the environment.

Every knob lives here, with its environment variable, default and bound, so
that docs/configuration.md and the code cannot disagree about what exists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from server.config_values import (
    EVENT_LOOPS,
    OTLP_PROTOCOLS,
    TRACES_EXPORTERS,
    ConfigError,
    Currency,
    parse_currencies,
    split_host_port,
    traces_exporter_from_env,
    with_thresholds,
)
from server.domain.limits import DEFAULT_CURRENCIES

# Read from here by the rest of the server (the parsing itself lives in server/config_values.py).
__all__ = [
    "ConfigError",
    "Currency",
    "Settings",
    "parse_currencies",
    "split_host_port",
    "traces_exporter_from_env",
    "with_thresholds",
]


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to run; build with `Settings.from_env()`."""

    # Where to connect; None means: start the private PostgreSQL under data_dir.
    database_url: str | None = None
    data_dir: str = ".data"
    listen_addr: str = "127.0.0.1:50051"
    currencies: Mapping[str, Currency] = field(default_factory=lambda: parse_currencies(DEFAULT_CURRENCIES))
    db_pool_size: int = 10
    # How long a call waits for a free connection before failing UNAVAILABLE.
    db_pool_timeout_s: float = 2.0
    db_connect_timeout_s: float = 5.0
    statement_timeout_ms: int = 5_000
    lock_timeout_ms: int = 3_000
    # Requests coalesced into one write transaction, at most.
    write_batch_max: int = 200
    # Write transactions running at once in each write queue. One at a time lets the
    # queue's next batch gather while the current one commits (docs/performance.md).
    write_concurrency: int = 1
    # Batches of entries are split by a hash of the customer over this many
    # write queues, whose transactions overlap (server/ledger/write_shards.py).
    write_shards: int = 2
    # How long a saturated write queue waits to gather more requests before its next
    # transaction (only after one that carried several; server/ledger/coalescer.py).
    write_linger_ms: float = 8.0
    # Balance reads coalesced into one query, at most, and such queries at once.
    read_batch_max: int = 200
    read_concurrency: int = 1
    read_linger_ms: float = 8.0
    # Holds: the ttl when a request gives none, and the longest allowed.
    hold_ttl_default_s: float = 15 * 60
    hold_ttl_max_s: float = 7 * 24 * 3600
    # How far ahead a credit's expire_time may be.
    credit_expiry_max_days: int = 3_650
    # The background expirer: how often it looks for idle wallets with something due (0: off), and how many at once.
    expirer_interval_s: float = 5.0
    expirer_batch_max: int = 500
    # Events older than this are removed (by the expirer's passes); a cursor before them is CURSOR_EXPIRED.
    event_retention_days: float = 30.0
    # A keyed request's stored refusal is replayed to its retries this long, then pruned and the key is free.
    refusal_retention_days: float = 30.0
    shutdown_grace_s: float = 10.0
    max_message_bytes: int = 1 << 20
    max_concurrent_rpcs: int = 1_000
    reflection: bool = True
    log_level: str = "INFO"
    # The server's event loop: "uvloop" (where installed) or "asyncio".
    event_loop: str = "uvloop"
    # Caller authentication: a JSON file of callers, token hashes and scopes (off when unset).
    auth_file: str | None = None
    # TLS: certificate chain and key (PEM); with a client CA, client certificates are required.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
    # Observability (docs/observability.md). The Prometheus endpoint's host:port; "" switches it
    # off, port 0 lets the system pick one (tests, several servers on one host).
    metrics_addr: str = "127.0.0.1:9464"
    # Traces: where spans go ("none": tracing off, "otlp", "console"), from the standard OTEL_*
    # variables (see traces_exporter_from_env); sampling is the SDK's own OTEL_TRACES_SAMPLER.
    traces_exporter: str = "none"
    otlp_protocol: str = "grpc"
    service_name: str = "wallet-server"
    # Event sinks (docs/webhooks.md, docs/nats.md). Webhook retries: the first after retry_first_s,
    # doubling (with jitter), for up to retry_for_s, then the endpoint is disabled.
    webhook_retry_first_s: float = 5.0
    webhook_retry_for_s: float = 3 * 86_400
    # A 2xx within this long delivers an event.
    webhook_timeout_s: float = 10.0
    # http:// URLs and private, loopback and link-local addresses (tests, closed networks).
    webhook_allow_private_urls: bool = False
    # Fernet key(s) sealing the signing secrets; None: a key generated under data_dir.
    webhook_secret_key: str | None = None
    # Whether this process delivers (webhooks, the relay); off when a `python -m server sinks` process does.
    sinks_enabled: bool = True
    # The NATS JetStream relay: off unless nats_url is set.
    nats_url: str | None = None
    nats_stream: str = "WALLET_EVENTS"
    nats_duplicate_window_s: float = 600.0

    def __post_init__(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("WALLET_TLS_CERT_FILE and WALLET_TLS_KEY_FILE go together")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ConfigError("WALLET_TLS_CLIENT_CA_FILE needs WALLET_TLS_CERT_FILE and WALLET_TLS_KEY_FILE")
        if self.hold_ttl_default_s > self.hold_ttl_max_s:
            raise ConfigError("WALLET_HOLD_TTL_DEFAULT_S must not exceed WALLET_HOLD_TTL_MAX_S")
        if self.metrics_addr:
            split_host_port(self.metrics_addr, "WALLET_METRICS_ADDR")
        if self.traces_exporter not in TRACES_EXPORTERS:
            raise ConfigError(f"OTEL_TRACES_EXPORTER: {self.traces_exporter!r} is not one of {TRACES_EXPORTERS}")
        if self.event_loop not in EVENT_LOOPS:
            raise ConfigError(f"WALLET_EVENT_LOOP: {self.event_loop!r} is not one of {EVENT_LOOPS}")
        if self.otlp_protocol not in OTLP_PROTOCOLS:
            raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL: {self.otlp_protocol!r} is not one of {OTLP_PROTOCOLS}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Reads WALLET_* variables (and DATABASE_URL); unset ones keep defaults."""
        env = os.environ if env is None else env
        defaults = cls()

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = float(raw)
            except ValueError as error:
                raise ConfigError(f"{name}: {raw!r} is not a number") from error
            if not low <= value <= high:
                raise ConfigError(f"{name}: {value} is outside {low}..{high}")
            return value

        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=env.get("WALLET_DATA_DIR", defaults.data_dir),
            listen_addr=env.get("WALLET_LISTEN_ADDR", defaults.listen_addr),
            currencies=with_thresholds(
                parse_currencies(env.get("WALLET_CURRENCIES", DEFAULT_CURRENCIES)),
                env.get("WALLET_LOW_BALANCE_THRESHOLDS", ""),
            ),
            db_pool_size=int(number("WALLET_DB_POOL_SIZE", defaults.db_pool_size, 1, 500)),
            db_pool_timeout_s=number("WALLET_DB_POOL_TIMEOUT_S", defaults.db_pool_timeout_s, 0.01, 60),
            db_connect_timeout_s=number("WALLET_DB_CONNECT_TIMEOUT_S", defaults.db_connect_timeout_s, 0.1, 60),
            statement_timeout_ms=int(number("WALLET_STATEMENT_TIMEOUT_MS", defaults.statement_timeout_ms, 10, 600_000)),
            lock_timeout_ms=int(number("WALLET_LOCK_TIMEOUT_MS", defaults.lock_timeout_ms, 10, 600_000)),
            write_batch_max=int(number("WALLET_WRITE_BATCH_MAX", defaults.write_batch_max, 1, 5_000)),
            write_concurrency=int(number("WALLET_WRITE_CONCURRENCY", defaults.write_concurrency, 1, 256)),
            write_shards=int(number("WALLET_WRITE_SHARDS", defaults.write_shards, 1, 64)),
            write_linger_ms=number("WALLET_WRITE_LINGER_MS", defaults.write_linger_ms, 0, 100),
            read_batch_max=int(number("WALLET_READ_BATCH_MAX", defaults.read_batch_max, 1, 5_000)),
            read_concurrency=int(number("WALLET_READ_CONCURRENCY", defaults.read_concurrency, 1, 256)),
            read_linger_ms=number("WALLET_READ_LINGER_MS", defaults.read_linger_ms, 0, 100),
            hold_ttl_default_s=number("WALLET_HOLD_TTL_DEFAULT_S", defaults.hold_ttl_default_s, 1, 365 * 86_400),
            hold_ttl_max_s=number("WALLET_HOLD_TTL_MAX_S", defaults.hold_ttl_max_s, 1, 365 * 86_400),
            credit_expiry_max_days=int(
                number("WALLET_CREDIT_EXPIRY_MAX_DAYS", defaults.credit_expiry_max_days, 1, 36_500)
            ),
            expirer_interval_s=number("WALLET_EXPIRER_INTERVAL_S", defaults.expirer_interval_s, 0, 3_600),
            expirer_batch_max=int(number("WALLET_EXPIRER_BATCH_MAX", defaults.expirer_batch_max, 1, 10_000)),
            event_retention_days=number("WALLET_EVENT_RETENTION_DAYS", defaults.event_retention_days, 0.0001, 3_650),
            refusal_retention_days=number(
                "WALLET_REFUSAL_RETENTION_DAYS", defaults.refusal_retention_days, 0.0001, 3_650
            ),
            shutdown_grace_s=number("WALLET_SHUTDOWN_GRACE_S", defaults.shutdown_grace_s, 0, 300),
            max_message_bytes=int(number("WALLET_MAX_MESSAGE_BYTES", defaults.max_message_bytes, 4_096, 64 << 20)),
            max_concurrent_rpcs=int(number("WALLET_MAX_CONCURRENT_RPCS", defaults.max_concurrent_rpcs, 1, 100_000)),
            reflection=env.get("WALLET_REFLECTION", "on").lower() not in ("0", "off", "false", "no"),
            log_level=env.get("WALLET_LOG_LEVEL", defaults.log_level).upper(),
            event_loop=env.get("WALLET_EVENT_LOOP", defaults.event_loop).strip().lower(),
            auth_file=env.get("WALLET_AUTH_FILE") or None,
            tls_cert_file=env.get("WALLET_TLS_CERT_FILE") or None,
            tls_key_file=env.get("WALLET_TLS_KEY_FILE") or None,
            tls_client_ca_file=env.get("WALLET_TLS_CLIENT_CA_FILE") or None,
            metrics_addr=env.get("WALLET_METRICS_ADDR", defaults.metrics_addr).strip(),
            traces_exporter=traces_exporter_from_env(env),
            otlp_protocol=(
                env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
            ).strip(),
            service_name=env.get("OTEL_SERVICE_NAME") or defaults.service_name,
            webhook_retry_first_s=number("WALLET_WEBHOOK_RETRY_FIRST_S", defaults.webhook_retry_first_s, 0.01, 86_400),
            webhook_retry_for_s=number("WALLET_WEBHOOK_RETRY_FOR_S", defaults.webhook_retry_for_s, 0.1, 30 * 86_400),
            webhook_timeout_s=number("WALLET_WEBHOOK_TIMEOUT_S", defaults.webhook_timeout_s, 0.1, 60),
            webhook_allow_private_urls=env.get("WALLET_WEBHOOK_ALLOW_PRIVATE_URLS", "").strip().lower()
            in ("1", "true", "on", "yes"),
            webhook_secret_key=env.get("WALLET_WEBHOOK_SECRET_KEY") or None,
            sinks_enabled=env.get("WALLET_SINKS", "on").strip().lower() not in ("0", "off", "false", "no"),
            nats_url=env.get("WALLET_NATS_URL") or None,
            nats_stream=env.get("WALLET_NATS_STREAM") or defaults.nats_stream,
            nats_duplicate_window_s=number(
                "WALLET_NATS_DUPLICATE_WINDOW_S", defaults.nats_duplicate_window_s, 120, 7 * 86_400
            ),
        )
