"""Settings come from the environment, with bounds; currencies are configuration, not code."""

from __future__ import annotations

import pytest

from server.__main__ import event_loop_factory
from server.config import ConfigError, Currency, Settings, parse_currencies


def test_defaults_serve_usd_and_inr_on_the_loopback_port_50051() -> None:
    settings = Settings.from_env({})
    assert settings.listen_addr == "127.0.0.1:50051"
    assert dict(settings.currencies) == {"USD": Currency("USD", 2), "INR": Currency("INR", 2)}
    assert settings.database_url is None


def test_a_new_currency_needs_only_configuration() -> None:
    currencies = parse_currencies("USD:2, INR:2, JPY:0, EUR")
    assert currencies["JPY"].exponent == 0
    assert currencies["EUR"].exponent == 2


@pytest.mark.parametrize("text", ["", "usd:2", "USD:x", "USD:9", "DOLLAR:2"])
def test_malformed_currency_lists_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_currencies(text)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WALLET_DB_POOL_SIZE", "0"),
        ("WALLET_DB_POOL_SIZE", "many"),
        ("WALLET_LOCK_TIMEOUT_MS", "1"),
        ("WALLET_WRITE_SHARDS", "0"),
        ("WALLET_WRITE_SHARDS", "65"),
        ("WALLET_WRITE_LINGER_MS", "-1"),
        ("WALLET_WRITE_LINGER_MS", "101"),
        ("WALLET_READ_LINGER_MS", "101"),
        ("WALLET_REFUSAL_RETENTION_DAYS", "0"),
        ("WALLET_REFUSAL_RETENTION_DAYS", "3651"),
    ],
)
def test_out_of_range_numbers_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_stored_refusals_are_kept_30_days_unless_configured_as_docs_configuration_md_says() -> None:
    assert Settings.from_env({}).refusal_retention_days == 30
    assert Settings.from_env({"WALLET_REFUSAL_RETENTION_DAYS": "0.5"}).refusal_retention_days == 0.5


def test_environment_overrides_defaults() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://db/w",
            "WALLET_LISTEN_ADDR": "0.0.0.0:6000",
            "WALLET_REFLECTION": "off",
        }
    )
    assert (settings.database_url, settings.listen_addr, settings.reflection) == (
        "postgresql://db/w",
        "0.0.0.0:6000",
        False,
    )


def test_metrics_are_served_on_9464_of_the_loopback_and_tracing_is_off_by_default() -> None:
    settings = Settings.from_env({})
    assert settings.metrics_addr == "127.0.0.1:9464"
    assert settings.traces_exporter == "none"


def test_an_empty_metrics_address_switches_the_endpoint_off() -> None:
    assert Settings.from_env({"WALLET_METRICS_ADDR": ""}).metrics_addr == ""


@pytest.mark.parametrize("address", ["9464", "localhost", "127.0.0.1:http", ":9464", "127.0.0.1:70000"])
def test_a_metrics_address_that_is_not_host_and_port_is_refused(address: str) -> None:
    with pytest.raises(ConfigError, match="WALLET_METRICS_ADDR"):
        Settings.from_env({"WALLET_METRICS_ADDR": address})


@pytest.mark.parametrize(
    ("env", "exporter"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, "none"),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, "none"),
        ({"OTEL_SERVICE_NAME": "wallet-eu"}, "none"),
    ],
)
def test_tracing_is_on_only_when_the_standard_otel_variables_ask_for_it(env: dict[str, str], exporter: str) -> None:
    assert Settings.from_env(env).traces_exporter == exporter


def test_an_unknown_trace_exporter_is_refused() -> None:
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER"):
        Settings.from_env({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_default_low_balance_thresholds_are_set_per_currency_and_others_stay_off() -> None:
    settings = Settings.from_env({"WALLET_LOW_BALANCE_THRESHOLDS": "USD:500, INR:0"})
    assert settings.currencies["USD"].low_balance_threshold == 500
    assert settings.currencies["INR"].low_balance_threshold == 0
    assert Settings.from_env({}).currencies["USD"].low_balance_threshold == 0


@pytest.mark.parametrize("text", ["EUR:500", "USD:5.00", "USD:", "USD:-1", "USD:1000000000000001"])
def test_malformed_low_balance_thresholds_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="WALLET_LOW_BALANCE_THRESHOLDS"):
        Settings.from_env({"WALLET_LOW_BALANCE_THRESHOLDS": text})


def test_the_server_runs_on_uvloop_unless_told_to_use_asyncios_loop() -> None:
    assert Settings.from_env({}).event_loop == "uvloop"
    assert Settings.from_env({"WALLET_EVENT_LOOP": " AsyncIO "}).event_loop == "asyncio"
    assert event_loop_factory("asyncio") is None
    factory = event_loop_factory("uvloop")
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()


def test_an_unknown_event_loop_is_refused() -> None:
    with pytest.raises(ConfigError, match="WALLET_EVENT_LOOP"):
        Settings.from_env({"WALLET_EVENT_LOOP": "trio"})
