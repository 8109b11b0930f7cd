"""Per-symbol market statistics: recent trades, 1-minute klines, and the mark price model.

Owns: the trade tape kept for `GET /trades`, the klines behind `GET /klines`, 24 h tickers and
the `kline_1m` stream, and the index, mark and funding-rate figures.

Mark price model (documented simplification of Binance's): the index is the synthetic
market's fair value; the premium is an exponential average of (mid - index); the mark is the
index plus that premium, and the funding rate is premium / index plus the 0.01 % interest,
clamped to +/-0.75 %.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

__all__ = ["Kline", "SymbolStats", "TapeTrade"]

_KLINE_MS: Final = 60_000
_KEEP_TRADES: Final = 1000
_KEEP_KLINES: Final = 1500
_INTEREST: Final = 0.0001
_FUNDING_CAP: Final = 0.0075
_PREMIUM_ALPHA: Final = 0.05


@dataclass(frozen=True, slots=True)
class TapeTrade:
    trade_id: int
    tick: int
    lots: int
    time_ms: int
    buyer_maker: bool


@dataclass(slots=True)
class Kline:
    open_ms: int
    open: int
    high: int
    low: int
    close: int
    lots: int = 0
    quote_units: int = 0  # sum of ticks x lots
    trades: int = 0
    taker_buy_lots: int = 0
    taker_buy_quote: int = 0
    first_id: int = 0
    last_id: int = 0


@dataclass(slots=True)
class SymbolStats:
    tape: deque[TapeTrade] = field(default_factory=lambda: deque(maxlen=_KEEP_TRADES))
    klines: deque[Kline] = field(default_factory=lambda: deque(maxlen=_KEEP_KLINES))
    premium: float = 0.0  # ticks, smoothed
    index: float = 0.0  # ticks
    funding_history: list[tuple[int, float, float]] = field(default_factory=list)

    def record(self, trade: TapeTrade) -> Kline:
        """Add a trade to the tape and its minute's kline; returns that kline."""
        self.tape.append(trade)
        open_ms = trade.time_ms - trade.time_ms % _KLINE_MS
        if not self.klines or self.klines[-1].open_ms != open_ms:
            self.klines.append(
                Kline(
                    open_ms, trade.tick, trade.tick, trade.tick, trade.tick, first_id=trade.trade_id
                )
            )
        k = self.klines[-1]
        k.high = max(k.high, trade.tick)
        k.low = min(k.low, trade.tick)
        k.close = trade.tick
        k.lots += trade.lots
        k.quote_units += trade.tick * trade.lots
        k.trades += 1
        k.last_id = trade.trade_id
        if not trade.buyer_maker:
            k.taker_buy_lots += trade.lots
            k.taker_buy_quote += trade.tick * trade.lots
        return k

    def update_mark(self, index_ticks: float, mid_ticks: float | None) -> None:
        self.index = index_ticks
        if mid_ticks is not None:
            self.premium += _PREMIUM_ALPHA * ((mid_ticks - index_ticks) - self.premium)

    @property
    def mark(self) -> float:
        return self.index + self.premium

    @property
    def funding_rate(self) -> float:
        if not self.index:
            return _INTEREST
        rate = self.premium / self.index + _INTEREST
        return max(-_FUNDING_CAP, min(_FUNDING_CAP, rate))

    def day(self, now_ms: int) -> list[Kline]:
        cutoff = now_ms - 24 * 3600 * 1000
        return [k for k in self.klines if k.open_ms >= cutoff]


def decimal_ticks(ticks: float, tick_size: str, places: int = 8) -> str:
    """A tick count (possibly fractional) as a price string with `places` decimals."""
    value = Decimal(repr(ticks)) * Decimal(tick_size)
    return f"{value:.{places}f}"
