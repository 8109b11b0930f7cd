"""Positions and P&L built from our own fills, one book of them per trading mode.

Owns: per mode and symbol, the signed position in lots, its cost (for the average entry),
realized P&L and fees, all in USDT. Paper and live keep separate books so a paper session
never pollutes the live figures, and both are computed by the same code from the same `Fill`
shape, which is what makes paper P&L look exactly like live P&L.

Funding payments (the venue's FUNDING_FEE balance changes) are kept apart from fees and
realized P&L. "Today" is the UTC calendar day: its realized P&L, fees and funding roll over at
midnight UTC and are seeded from the journal at start, so a restart does not zero them. Each
strategy has its own position books (fills carry the strategy), for its own P&L: today's
realized and fees too, rolled over at the same midnight.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hftui.engine.balances import Balances
from hftui.engine.instrument import Instrument
from hftui.engine.journal import utc_day
from hftui.protocol import Mode, Side

__all__ = ["Account", "Day", "PnL", "PositionBook"]


@dataclass(slots=True)
class PositionBook:
    """One symbol's position in one mode."""

    lots: int = 0  # signed: + long
    cost: float = 0.0  # USDT paid for the open lots (entry = cost / lots), signed with lots
    realized: float = 0.0
    fees: float = 0.0
    funding: float = 0.0  # USDT received (+) or paid (-)

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


@dataclass(slots=True)
class Day:
    """One mode's figures of one UTC day, all symbols, in USDT."""

    day: str = ""  # "YYYY-MM-DD"
    realized: float = 0.0
    fees: float = 0.0
    funding: float = 0.0


@dataclass(frozen=True, slots=True)
class PnL:
    """Today's figures of a mode, and its open positions valued now."""

    realized: float
    unrealized: float
    fees: float
    funding: float

    @property
    def daily(self) -> float:
        return self.realized + self.unrealized - self.fees + self.funding


def _book_mode(mode: Mode) -> Mode:
    return Mode.LIVE if mode == Mode.LIVE else Mode.PAPER


class Account:
    """Positions of every symbol in paper and live."""

    def __init__(
        self, instruments: Mapping[str, Instrument], clock_ns: Callable[[], int] = time.time_ns
    ) -> None:
        self.instruments = instruments
        self.clock_ns = clock_ns
        self.books: dict[Mode, dict[str, PositionBook]] = {
            Mode.PAPER: {s: PositionBook() for s in instruments},
            Mode.LIVE: {s: PositionBook() for s in instruments},
        }
        self._today = {Mode.PAPER: Day(), Mode.LIVE: Day()}
        # (mode, strategy, symbol) -> that strategy's own position in the symbol; its realized
        # P&L and fees are those of `_strategy_day`, as the account's "today"
        self.strategy_books: dict[tuple[Mode, str, str], PositionBook] = {}
        self._strategy_day = utc_day(clock_ns())
        self.balances = Balances()  # the live wallet, as the venue states it

    def today(self, mode: Mode) -> Day:
        """The mode's figures of the current UTC day (a new day starts at zero)."""
        day = self._today[_book_mode(mode)]
        key = utc_day(self.clock_ns())
        if day.day != key:
            day.day, day.realized, day.fees, day.funding = key, 0.0, 0.0, 0.0
        return day

    def seed_today(self, mode: Mode, realized: float, fees: float, funding: float) -> None:
        """Today's figures as the journal had them (at start, before any fill)."""
        day = self.today(mode)
        day.realized, day.fees, day.funding = realized, fees, funding

    def add_symbol(self, symbol: str) -> None:
        """Positions for a symbol followed at run time (the instrument is already in the
        shared instruments map)."""
        for books in self.books.values():
            books.setdefault(symbol, PositionBook())

    def book(self, mode: Mode, symbol: str) -> PositionBook:
        return self.books[_book_mode(mode)][symbol]

    def strategy_book(self, mode: Mode, strategy: str, symbol: str) -> PositionBook:
        """`strategy`'s own position in `symbol` in `mode`'s book (created flat); its realized
        P&L and fees are today's (UTC)."""
        self._roll_strategy_day()
        return self.strategy_books.setdefault((_book_mode(mode), strategy, symbol), PositionBook())

    def _roll_strategy_day(self) -> None:
        # A new UTC day: the strategies' P&L figures start at zero, their positions go on.
        day = utc_day(self.clock_ns())
        if day != self._strategy_day:
            self._strategy_day = day
            for book in self.strategy_books.values():
                book.realized = book.fees = book.funding = 0.0

    def strategy_lots(self, mode: Mode, strategy: str, symbol: str) -> int:
        """`strategy`'s own net lots in `symbol` in `mode` (+ long); 0 in observe, where
        nothing fills, and for a strategy that never traded it."""
        if mode == Mode.OBSERVE:
            return 0
        book = self.strategy_books.get((_book_mode(mode), strategy, symbol))
        return book.lots if book is not None else 0

    def on_fill(
        self,
        mode: Mode,
        symbol: str,
        side: Side,
        qty: int,
        price_ticks: int,
        fee: float,
        strategy: str = "",
    ) -> None:
        scale = self.instruments[symbol].notional_scale
        book = self.book(mode, symbol)
        realized = book.on_fill(side, qty, price_ticks, fee) / scale
        book.realized += realized
        day = self.today(mode)
        day.realized += realized
        day.fees += fee
        if strategy:
            own = self.strategy_book(mode, strategy, symbol)
            own.realized += own.on_fill(side, qty, price_ticks, fee) / scale

    def on_funding(self, mode: Mode, symbol: str, amount: float) -> None:
        """A funding payment on `symbol`'s position: + received, - paid (USDT)."""
        self.book(mode, symbol).funding += amount
        self.today(mode).funding += amount

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

    def pnl(self, mode: Mode, marks: Mapping[str, float]) -> PnL:
        """Today's realized, fees and funding of `mode`, and its positions valued at `marks`
        (ticks). Observe trades nothing of its own: it shows the live account."""
        shown = Mode.LIVE if mode == Mode.OBSERVE else mode
        day = self.today(shown)
        unrealized = sum(
            self.unrealized(shown, s, marks.get(s, 0.0)) for s in self.books[_book_mode(shown)]
        )
        return PnL(day.realized, unrealized, day.fees, day.funding)

    def strategy_pnl(
        self, mode: Mode, strategy: str, marks: Mapping[str, float]
    ) -> tuple[float, float, float]:
        """(realized, unrealized, fees) in USDT of one strategy's own fills in `mode`: today's
        (UTC) realized P&L and fees, its open position valued now."""
        self._roll_strategy_day()
        realized = unrealized = fees = 0.0
        for (m, owner, symbol), book in self.strategy_books.items():
            if m != _book_mode(mode) or owner != strategy:
                continue
            realized += book.realized
            fees += book.fees
            mark = marks.get(symbol, 0.0)
            if book.lots and mark > 0:
                scale = self.instruments[symbol].notional_scale
                unrealized += (book.lots * mark - book.cost) / scale
        return realized, unrealized, fees
