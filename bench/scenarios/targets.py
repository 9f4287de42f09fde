"""The scenarios' targets as data: each says what it asks (`text`, shown in the table) and whether a run met it.

The numbers are said here once; docs/performance.md explains where they come from.
"""

from __future__ import annotations

from dataclasses import dataclass

# The write targets' latency ceiling: p99 at the load the scenario offers.
P99_MS_MAX = 25.0


@dataclass(frozen=True)
class VersusEcho:
    """The service under a write load against the bare grpc.aio echo under the same load, in the same run."""

    throughput: float  # at least this many times the echo's calls per second
    p99_ms: float = P99_MS_MAX
    cpu: float = 1.3  # server CPU per call at most this many times the echo's

    @property
    def text(self) -> str:
        return f">={self.throughput}x echo, p99<{self.p99_ms:g}ms, CPU/call<={self.cpu}x echo"

    def met(self, vs_echo: float | None, cpu_vs_echo: float | None, p99_ms: float) -> bool | None:
        if vs_echo is None or cpu_vs_echo is None:
            return None
        return vs_echo >= self.throughput and p99_ms < self.p99_ms and cpu_vs_echo <= self.cpu


@dataclass(frozen=True)
class KeepsUp:
    """A paced load: the service answers (nearly) all it is offered, within the latency ceiling."""

    share: float = 0.97  # of the offered rate, allowing for pacing noise
    p99_ms: float = P99_MS_MAX

    @property
    def text(self) -> str:
        return f"keeps up, p99<{self.p99_ms:g}ms"

    def met(self, throughput_per_s: float, offered_per_s: float, p99_ms: float) -> bool:
        return throughput_per_s >= self.share * offered_per_s and p99_ms < self.p99_ms


@dataclass(frozen=True)
class AtLeast:
    """A ratio to the scenario's baseline of at least `ratio`."""

    ratio: float
    text: str

    def met(self, ratio: float | None) -> bool | None:
        return None if ratio is None else ratio >= self.ratio


@dataclass(frozen=True)
class Export:
    entries_per_s: float = 100_000
    rss_growth_mb: float = 50

    @property
    def text(self) -> str:
        return f">={self.entries_per_s / 1000:g}k/s, RSS +<{self.rss_growth_mb:g}MB"

    def met(self, complete: bool, entries_per_s: float, rss_growth_mb: float) -> bool:
        return complete and entries_per_s >= self.entries_per_s and rss_growth_mb < self.rss_growth_mb


@dataclass(frozen=True)
class Reports:
    year_by_day_s: float = 1.0
    year_by_month_s: float = 2.0
    as_of_p99_ms: float = 10.0

    @property
    def text(self) -> str:
        return f"day<{self.year_by_day_s:g}s, month+breakdown<{self.year_by_month_s:g}s, as_of<{self.as_of_p99_ms:g}ms"

    def met(self, day_s: float, month_s: float, as_of_p99_ms: float) -> bool:
        return day_s < self.year_by_day_s and month_s < self.year_by_month_s and as_of_p99_ms < self.as_of_p99_ms


@dataclass(frozen=True)
class Delivery:
    p50_ms: float = 100
    p99_ms: float = 500

    @property
    def text(self) -> str:
        return f"delivery p50<={self.p50_ms:g}ms, p99<={self.p99_ms:g}ms"

    def met(self, events: int, p50_ms: float | None, p99_ms: float | None) -> bool:
        if not events or p50_ms is None or p99_ms is None:
            return False
        return p50_ms <= self.p50_ms and p99_ms <= self.p99_ms


@dataclass(frozen=True)
class ObservabilityCost:
    """Throughput kept against the server with metrics and tracing off (docs/observability.md)."""

    metrics: float = 0.95
    tracing: float = 0.90

    @property
    def text(self) -> str:
        return f"metrics >={self.metrics:.2f}x off, tracing 1% >={self.tracing:.2f}x off"

    def met(self, ratios: dict[str, float | None]) -> bool:
        kept = {"metrics": self.metrics, "tracing": self.tracing}
        return all((ratio := ratios[name]) is not None and ratio >= floor for name, floor in kept.items())
