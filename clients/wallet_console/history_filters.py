"""The history's filters as a customer page's address carries them: currency, type, dates and the cursor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

ENTRY_TYPES = ("credit", "debit", "expiration")


class QueryError(ValueError):
    """A filter of the page's address that cannot be used."""


@dataclass(frozen=True)
class HistoryQuery:
    currency: str = ""
    entry_type: str = ""
    since: str = ""
    until: str = ""
    after: str = ""

    @classmethod
    def of(cls, params: Mapping[str, str]) -> HistoryQuery:
        return cls(
            currency=params.get("currency", "").strip().upper(),
            entry_type=params.get("type", "") if params.get("type", "") in ENTRY_TYPES else "",
            since=params.get("since", "").strip(),
            until=params.get("until", "").strip(),
            after=params.get("after", "").strip(),
        )

    def filters(self) -> dict[str, Any]:
        """The arguments of `iter_entries` (newest first), or QueryError naming a bad date."""
        return {
            "currency": self.currency or None,
            "entry_type": self.entry_type or None,
            "created_after": _moment(self.since, "From"),
            "created_before": _moment(self.until, "Until", end_of_day=True),
            "newest_first": True,
        }

    def params(self, **changes: str) -> dict[str, str]:
        shown = {"currency": self.currency, "type": self.entry_type, "since": self.since, "until": self.until}
        return {k: v for k, v in {**shown, **changes}.items() if v}


def _moment(text: str, name: str, *, end_of_day: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"{name}: {text!r} is not a date such as 2026-12-01") from None
    if end_of_day and len(text) == 10:
        moment += timedelta(days=1)  # a date until which the whole day counts
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
