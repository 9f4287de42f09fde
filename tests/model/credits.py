"""Expiring credits in the contract's model: a wallet's money by credit, the order it is spent in, and expiry.

What it follows (README "Holds and expiring credits", docs/holds.md
"Expiring credits"):
- a credit with an expire time is a lot: its unspent remainder, of which
  active holds reserve `held`; credits that never expire are one pool, the
  balance less every lot's remainder;
- debits and holds take unheld money from the soonest-expiring lot first
  (the oldest first among equal expire times) and from the pool last; a
  capture spends its hold's reservations in that same order and the rest
  goes back to where it was reserved;
- at its expire time a lot's unheld remainder leaves through an expiration;
  what a hold reserves does not expire while held, and whatever a closing hold
  gives back to a lot that has lapsed expires at once (the worked example of
  docs/holds.md);
- reversals (docs/reversals.md): a refund gives a debit's money back the
  other way round, the pool part first, then the lots latest-expiring first,
  and what goes back to a lapsed lot expires again at once; a reclaim takes
  only what its credit has left unheld (the pool's, for a credit that never
  expires), never more than the credit less what was reclaimed before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The part of a reservation or a draw that is the pool, not a lot.
POOL = ""

Parts = tuple[tuple[str, int], ...]
"""(the lot's credit entry id, or POOL; amount) pieces of money."""


@dataclass
class Lot:
    entry_id: str
    # Epoch seconds; the machine sends it as the credit's expire_time, so both sides know it exactly.
    expire_at: float
    amount: int
    remaining: int
    held: int = 0
    # Its expire time has passed (the model was told so by `Wallet.lapse`).
    lapsed: bool = False
    # What its expirations took, in all: history must show exactly this much expired of the credit.
    expired: int = 0

    @property
    def available(self) -> int:
        return self.remaining - self.held


@dataclass
class Wallet:
    balance: int = 0
    held: int = 0
    # By credit entry id, in the order the credits were made: the tie-break among equal expire times.
    lots: dict[str, Lot] = field(default_factory=dict)

    @property
    def available(self) -> int:
        return self.balance - self.held

    @property
    def pool(self) -> int:
        """What credits that never expire have left."""
        return self.balance - sum(lot.remaining for lot in self.lots.values())

    @property
    def pool_held(self) -> int:
        return self.held - sum(lot.held for lot in self.lots.values())

    def spending_order(self) -> list[Lot]:
        """Soonest-expiring first; `sorted` is stable, so the oldest first among equals."""
        return sorted(self.lots.values(), key=lambda lot: lot.expire_at)

    def take_unheld(self, amount: int) -> Parts:
        """Which money `amount` of unheld money is (the caller checked that enough is available)."""
        parts: list[tuple[str, int]] = []
        left = amount
        for lot in self.spending_order():
            take = min(lot.available, left)
            if take > 0:
                parts.append((lot.entry_id, take))
                left -= take
        if left:
            parts.append((POOL, left))
        return tuple(parts)

    def _draw(self, parts: Parts) -> None:
        for lot_id, part in parts:
            if lot_id != POOL:
                self.lots[lot_id].remaining -= part
        self.balance -= sum(part for _, part in parts)

    def credit(self, entry_id: str, amount: int, expire_at: float | None) -> None:
        self.balance += amount
        if expire_at is not None:
            self.lots[entry_id] = Lot(entry_id, expire_at, amount, amount)

    def debit(self, amount: int) -> Parts:
        """Spends `amount` of unheld money; returns what it drew on."""
        parts = self.take_unheld(amount)
        self._draw(parts)
        return parts

    def reserve(self, amount: int) -> Parts:
        """A new hold's reservations."""
        parts = self.take_unheld(amount)
        for lot_id, part in parts:
            if lot_id != POOL:
                self.lots[lot_id].held += part
        self.held += amount
        return parts

    def close(self, reservations: Parts, spend: int) -> Parts:
        """A hold closes, spending `spend` of what it reserved; returns what the spending drew on.

        Reservations were taken in spending order (`take_unheld`), so the
        capture draws on them as they come; everything reserved is given back
        first, and what went back to a lapsed lot expires at once.
        """
        for lot_id, part in reservations:
            if lot_id != POOL:
                self.lots[lot_id].held -= part
        self.held -= sum(part for _, part in reservations)
        draws: list[tuple[str, int]] = []
        left = spend
        for lot_id, part in reservations:
            take = min(part, left)
            if take > 0:
                draws.append((lot_id, take))
                left -= take
        self._draw(tuple(draws))
        self.expire_lapsed()
        return tuple(draws)

    def refund(self, draws: Parts, already: int, amount: int) -> None:
        """Gives `amount` more of a debit that drew on `draws` back, after `already` went back before."""
        made = list(self.lots)
        # The latest-expiring first, and the latest made first among equals: the debit's order reversed.
        from_lots = sorted(
            (part for part in draws if part[0] != POOL),
            key=lambda part: (self.lots[part[0]].expire_at, made.index(part[0])),
            reverse=True,
        )
        skip, left = already, amount
        for lot_id, part in [*(part for part in draws if part[0] == POOL), *from_lots]:
            used = min(skip, part)
            skip -= used
            take = min(part - used, left)
            left -= take
            if lot_id != POOL:
                self.lots[lot_id].remaining += take
        assert left == 0, (draws, already, amount)
        self.balance += amount
        self.expire_lapsed()

    def reclaimable(self, lot_id: str, amount: int, already: int) -> int:
        """What of a credit of `amount` (its lot, or POOL) may be taken back now, `already` taken before."""
        unheld = self.lots[lot_id].available if lot_id != POOL else self.pool - self.pool_held
        return max(0, min(unheld, amount - already))

    def reclaim(self, lot_id: str, amount: int) -> None:
        self._draw(((lot_id, amount),))

    def expire_lapsed(self) -> None:
        """Every lapsed lot's unheld remainder leaves (nothing is written when nothing remains)."""
        for lot in self.lots.values():
            if lot.lapsed and lot.available > 0:
                lot.expired += lot.available
                self._draw(((lot.entry_id, lot.available),))

    def lapse(self, now: float) -> None:
        """Time has surely passed `now`: every lot whose expire time came before it lapses."""
        for lot in self.lots.values():
            if lot.expire_at < now:
                lot.lapsed = True
        self.expire_lapsed()

    def check(self) -> None:
        """What must hold of any wallet whatever happened (the service's check constraints say the same)."""
        assert 0 <= self.held <= self.balance, self
        for lot in self.lots.values():
            assert 0 <= lot.held <= lot.remaining <= lot.amount, lot
            assert not lot.lapsed or lot.available == 0, lot
        assert 0 <= self.pool_held <= self.pool, self
