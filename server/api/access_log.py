"""One structured line per RPC (method, status code, duration), written in batches.

Formatting a log record and writing it to stderr on every call cost the
server a measurable share of each call (docs/performance.md). Instead each
call appends a ready JSON line to a buffer, and a background task hands the
buffer to the `wallet.rpc` logger as one record every FLUSH_INTERVAL_S (or
sooner when it fills). A crash loses at most that interval's lines; a
graceful stop flushes them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import grpc

from server.domain.limits import ACCESS_LOG_LINES_MAX

logger = logging.getLogger("wallet.rpc")

FLUSH_INTERVAL_S = 0.2


class AccessLog:
    """Buffers one JSON line per call and flushes them through `wallet.rpc`."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        # The current second in ISO 8601, formatted once per second rather than once per call.
        self._second = 0
        self._second_text = ""

    def _utc(self, now: float) -> str:
        """`2026-12-07T01:02:03.456Z`: the call's end in ISO 8601 UTC, to the millisecond."""
        second = int(now)
        if second != self._second:
            self._second, self._second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1000):03d}Z"

    def record(
        self,
        method: str,
        code: grpc.StatusCode,
        duration_s: float,
        caller: str,
        reason: str,
        trace_ids: str = "",
        customer_id: str = "",
    ) -> None:
        """Buffers the call's line; `trace_ids` are ready JSON members (`, "trace_id": ...`) when tracing is on."""
        if not logger.isEnabledFor(logging.INFO):
            return
        now = time.time()
        # Method, code and reason are identifiers; the caller's name and the customer id need JSON escaping.
        line = (
            f'{{"ts": {now:.3f}, "time": "{self._utc(now)}", "method": "{method}", "code": "{code.name}",'
            f' "duration_ms": {duration_s * 1000:.3f}'
        )
        if customer_id:
            line += f', "customer_id": {json.dumps(customer_id)}'
        if caller:
            line += f', "caller": {json.dumps(caller)}'
        if reason:
            line += f', "reason": "{reason}"'
        self._lines.append(line + trace_ids + "}")
        if len(self._lines) >= ACCESS_LOG_LINES_MAX:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            logger.info("\n".join(lines))

    async def run(self) -> None:
        """Flushes every FLUSH_INTERVAL_S until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL_S)
                self.flush()
        finally:
            self.flush()
