"""The drill's watcher: all customers' events from the oldest, resuming after its last cursor if the stream breaks."""

from __future__ import annotations

import threading
import time

import grpc

from tests.faults.servers import FAST_RECONNECT, health_status
from tests.waiting import eventually_blocking
from wallet.v1 import wallet_pb2, wallet_pb2_grpc


class AllEventsWatcher:
    def __init__(self, address: str) -> None:
        self.address = address
        self.events: list[wallet_pb2.WalletEvent] = []
        self.streams = 0
        self.ended_with: list[str] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._call: grpc.Future | None = None
        self._thread = threading.Thread(target=self._run, name="drill-watcher", daemon=True)

    def start(self) -> AllEventsWatcher:
        self._thread.start()
        return self

    def count(self) -> int:
        with self._lock:
            return len(self.events)

    def wait_for(self, count: int, timeout_s: float) -> None:
        eventually_blocking(lambda: self.count() >= count, timeout_s, f"the watcher to have {count} events")

    def stop(self) -> None:
        self._stopping.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(30)

    def _run(self) -> None:
        cursor = ""
        with grpc.insecure_channel(self.address, options=FAST_RECONNECT) as channel:
            stub = wallet_pb2_grpc.WalletServiceStub(channel)
            while not self._stopping.is_set():
                self.streams += 1
                request = wallet_pb2.WatchEventsRequest(start_after_cursor=cursor, from_oldest=not cursor)
                call = stub.WatchEvents(request, wait_for_ready=True)
                self._call = call
                try:
                    for message in call:
                        with self._lock:
                            self.events.extend(message.events)
                        if message.events:
                            cursor = message.events[-1].cursor
                except grpc.RpcError as error:
                    if self._stopping.is_set():
                        return
                    # The contract: a stream ends with UNAVAILABLE at worst, and resumes from its cursor.
                    self.ended_with.append(error.code().name)
                    self._stopping.wait(0.05)  # a pause before resuming, cut short by stop()


class HealthRecorder:
    """Polls the service's health every 100 ms; keeps each change of status with its time."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.changes: list[tuple[float, int | None]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drill-health", daemon=True)

    def start(self) -> HealthRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(30)

    def statuses(self) -> list[int | None]:
        return [status for _, status in self.changes]

    def _run(self) -> None:
        while not self._stopping.is_set():
            status = health_status(self.address, timeout_s=1.0)
            if not self.changes or self.changes[-1][1] != status:
                self.changes.append((time.monotonic(), status))
            self._stopping.wait(0.1)
