"""Positions and P&L built from our own fills, one book of them per trading mode.

Owns: per mode and symbol, the signed position in lots, its cost (for the average entry),
realized P&L and fees, all in USDT. Paper and live keep separate books so a paper session
never pollutes the live figures, and both are computed by the same code from the same `Fill`
shape, which is what makes paper P&L look exactly like live P&L.

Funding, venue reconciliation and per-day rollover grow here later; for now "today" is this
engine run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hftui.engine.instrument import Instrument
from hftui.protocol import Mode, Side

__all__ = ["Account", "PositionBook"]


@dataclass(slots=True)
class PositionBook:
    """One symbol's position in one mode."""

    lots: int = 0  # signed: + long
    cost: float = 0.0  # USDT paid for the open lots (entry = cost / lots), signed with lots
    realized: float = 0.0
    fees: float = 0.0

    def entry_ticks(self) -> float:
        """The average entry price in ticks (0 when flat)."""
        return self.cost / self.lots if self.lots else 0.0

    def on_fill(self, side: Side, qty: int, price_ticks: int, fee: float) -> float:
        """Apply a fill of `qty` lots at `price_ticks`; returns the P&L it realized, in
        tick-lots (the caller scales it to USDT)."""
        signed = qty if side == Side.BUY else -qty
        realized = 0.0
        self.fees += fee
        if self.lots == 0 or (self.lots > 0) == (signed > 0):
            self.lots += signed
            self.cost += signed * price_ticks
            return 0.0
        # Reducing, possibly flipping: the closed part realizes against the average entry.
        closing = min(abs(signed), abs(self.lots))
        entry = self.cost / self.lots
        direction = 1 if self.lots > 0 else -1
        realized = closing * (price_ticks - entry) * direction
        self.cost -= entry * closing * direction
        self.lots += signed
        rest = abs(signed) - closing
        if self.lots == 0:
            self.cost = 0.0
        elif rest:
            self.cost = self.lots * price_ticks  # flipped: the remainder opens at this price
        return realized


class Account:
    """Positions of every symbol in paper and live."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.instruments = instruments
        self.books: dict[Mode, dict[str, PositionBook]] = {
            Mode.PAPER: {s: PositionBook() for s in instruments},
            Mode.LIVE: {s: PositionBook() for s in instruments},
        }

    def add_symbol(self, symbol: str) -> None:
        """Positions for a symbol followed at run time (the instrument is already in the
        shared instruments map)."""
        for books in self.books.values():
            books.setdefault(symbol, PositionBook())

    def book(self, mode: Mode, symbol: str) -> PositionBook:
        return self.books[Mode.LIVE if mode == Mode.LIVE else Mode.PAPER][symbol]

    def on_fill(
        self, mode: Mode, symbol: str, side: Side, qty: int, price_ticks: int, fee: float
    ) -> None:
        book = self.book(mode, symbol)
        realized = book.on_fill(side, qty, price_ticks, fee)
        book.realized += realized / self.instruments[symbol].notional_scale

    def seed_position(self, mode: Mode, symbol: str, lots: int, entry_ticks: float) -> None:
        """Start from the venue's position (at go-live), keeping realized and fees."""
        book = self.book(mode, symbol)
        book.lots = lots
        book.cost = lots * entry_ticks

    def unrealized(self, mode: Mode, symbol: str, mark_ticks: float) -> float:
        """USDT P&L of the open position at `mark_ticks` (0 without a mark)."""
        book = self.book(mode, symbol)
        if not book.lots or mark_ticks <= 0:
            return 0.0
        return (book.lots * mark_ticks - book.cost) / self.instruments[symbol].notional_scale

    def totals(self, mode: Mode, marks: Mapping[str, float]) -> tuple[float, float, float]:
        """(realized, unrealized, fees) in USDT over every symbol of `mode`."""
        realized = unrealized = fees = 0.0
        if mode == Mode.OBSERVE:
            return 0.0, 0.0, 0.0
        for symbol, book in self.books[mode].items():
            realized += book.realized
            fees += book.fees
            unrealized += self.unrealized(mode, symbol, marks.get(symbol, 0.0))
        return realized, unrealized, fees
