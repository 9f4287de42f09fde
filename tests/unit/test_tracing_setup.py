"""The tracer provider follows the settings: none when tracing is off, the named exporter when on."""

from __future__ import annotations

import importlib
from dataclasses import replace

import pytest
from opentelemetry.sdk.trace import TracerProvider

from server.config import ConfigError, Settings
from server.observability.tracing_setup import tracer_provider


def test_tracing_off_builds_no_provider_at_all() -> None:
    assert tracer_provider(Settings()) is None


def test_the_console_exporter_needs_no_extra_and_names_the_service() -> None:
    provider = tracer_provider(replace(Settings(), traces_exporter="console", service_name="wallet-eu"))
    assert isinstance(provider, TracerProvider)
    try:
        assert provider.resource.attributes["service.name"] == "wallet-eu"
    finally:
        provider.shutdown()


def test_otlp_without_the_otlp_extra_stops_the_start_with_a_message_naming_it() -> None:
    try:
        importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
    except ImportError:
        pass
    else:
        pytest.skip("the otlp extra is installed here")
    with pytest.raises(ConfigError, match=r"customer-wallet\[otlp\]"):
        tracer_provider(replace(Settings(), traces_exporter="otlp"))
