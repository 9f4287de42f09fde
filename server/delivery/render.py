"""An event as sinks send it: the JSON form (protobuf's canonical mapping) of the WalletEvent WatchEvents carries."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from google.protobuf import json_format

from server.api.events_io import event_to_proto
from server.config import Currency
from server.domain.events import Event


def event_renderer(currencies: Mapping[str, Currency]) -> Callable[[Event], bytes]:
    def render(event: Event) -> bytes:
        return json_format.MessageToJson(event_to_proto(event, currencies), indent=None).encode()

    return render
