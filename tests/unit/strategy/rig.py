"""A real execution (risk, tracker, paper matcher) and a strategy host around hand-built
books, for the strategy tests."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hftui.config import Config, PaperSettings, RiskConfig, StrategiesConfig
from hftui.engine.book import OrderBook
from hftui.engine.execution import Execution
from hftui.engine.instrument import parse_instruments
from hftui.engine.strategy_host import StrategyHost
from hftui.exchange.symbols import exchange_info
from hftui.protocol import AlertRaised, Event, Mode

SYMBOLS = ("BTCUSDT", "ETHUSDT")
INSTRUMENTS = parse_instruments(exchange_info(SYMBOLS, 0), list(SYMBOLS))
BTC_MID = 640_000  # 64000.00 at the 0.10 tick
ETH_MID = 320_000  # 3200.00 at the 0.01 tick


def book_of(symbol: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> OrderBook:
    inst = INSTRUMENTS[symbol]
    book = OrderBook(symbol, inst.tick_size, inst.step_size)
    set_levels(book, bids, asks)
    return book


def set_levels(book: OrderBook, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
    def rows(levels: list[tuple[int, int]]) -> list[list[str]]:
        return [[book.format_price(t), book.format_qty(q)] for t, q in levels]

    book.load_snapshot(rows(bids), rows(asks))


def ladder(symbol: str, bid: int, bid_lots: int, ask_lots: int, depth: int = 5) -> OrderBook:
    """A book with `depth` levels a side around a one-tick spread at `bid`."""
    return book_of(
        symbol,
        [(bid - k, bid_lots) for k in range(depth)],
        [(bid + 1 + k, ask_lots) for k in range(depth)],
    )


@dataclass
class Rig:
    host: StrategyHost
    execution: Execution
    events: list[Event]
    books: dict[str, OrderBook] = field(default_factory=dict)

    def feed(self, book: OrderBook, now_ns: int) -> None:
        """What market data does on a depth update: execution first, then strategies."""
        self.books[book.symbol] = book
        self.execution.on_book(book.symbol, book, now_ns)
        self.host.on_book(book.symbol, book, now_ns)

    def alerts(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, AlertRaised)]


def make_rig(
    enabled: tuple[str, ...],
    path: Path | None = None,
    mode: Mode = Mode.OBSERVE,
    budgets: tuple[tuple[str, float], ...] = (),
    **settings: Any,  # StrategiesConfig fields
) -> Rig:
    settings.setdefault("max_mode", Mode.LIVE)
    strategies = dataclasses.replace(StrategiesConfig(), enabled=enabled, path=path, **settings)
    config = Config(
        risk=RiskConfig(budgets=budgets),
        paper=PaperSettings(latency_ms=0.0),
        strategies=strategies,
    )
    events: list[Event] = []
    execution = Execution(config, INSTRUMENTS, events.append)
    rig = Rig(StrategyHost(strategies, execution, events.append), execution, events)

    def touch(symbol: str) -> tuple[int, int]:
        book = rig.books.get(symbol)
        return (book.best_bid(), book.best_ask()) if book is not None else (-1, -1)

    execution.touch = touch
    execution.on_fill = rig.host.on_fill
    execution.set_mode(mode)
    rig.host.start()
    return rig
