"""Event delivery under load: a watcher of every customer, timing each event from the change to its arrival.

The delay is measured from the event's `occurred_at` (the change's database
clock, taken when its batch locked the wallets, so before the commit) to the
moment the watcher holds the message: an upper bound of the delay from
commit, which includes the rest of the write transaction.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import grpc

from wallet.v1 import wallet_pb2, wallet_pb2_grpc


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class EventWatcher:
    def __init__(self, address: str) -> None:
        self._address = address
        # (when the change occurred, how long its event took to arrive), both in seconds.
        self._arrivals: list[tuple[float, float]] = []
        self._since = 0.0
        self._live = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-watcher", daemon=True)
        self._call: Any = None
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()
        if not self._live.wait(timeout=30):
            raise RuntimeError(f"WatchEvents did not go live: {self.error}")

    def _run(self) -> None:
        with grpc.insecure_channel(self._address) as channel:
            self._call = wallet_pb2_grpc.WalletServiceStub(channel).WatchEvents(wallet_pb2.WatchEventsRequest())
            try:
                for message in self._call:
                    now = time.time()
                    self._live.set()
                    for event in message.events:
                        occurred = event.occurred_at.seconds + event.occurred_at.nanos / 1e9
                        self._arrivals.append((occurred, now - occurred))
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.CANCELLED:
                    self.error = f"{error.code().name}: {error.details()}"

    def measure_from_now(self) -> None:
        """Counts only the events of changes that occur from now on."""
        self._since = time.time()

    def stop(self) -> dict[str, Any]:
        ended = time.time()
        # Let the events of the last changes arrive before the watch ends.
        time.sleep(1.0)
        if self._call is not None:
            self._call.cancel()
        self._thread.join(timeout=30)
        delays = [delay for occurred, delay in self._arrivals if self._since <= occurred <= ended]
        if not delays:
            return {"events": 0, "error": self.error}
        return {
            "events": len(delays),
            "events_per_s": round(len(delays) / max(ended - self._since, 1e-9), 1),
            "delivery_p50_ms": round(_percentile(delays, 0.5) * 1000, 1),
            "delivery_p99_ms": round(_percentile(delays, 0.99) * 1000, 1),
            "delivery_max_ms": round(max(delays) * 1000, 1),
            "error": self.error,
        }
