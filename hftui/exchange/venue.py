"""The exchange's state for all symbols: books, synthetic markets, stream windows, clocks.

Owns: one `MatchingBook` + `SyntheticMarket` per symbol, the diff-depth windows per speed,
the top of book last announced on bookTicker, and the aggregate trade ids. It turns book
changes and trades into stream events on the hub. No I/O here: the server drives it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from hftui.exchange.book import BUY, SELL, Fill, MatchingBook, RestingOrder
from hftui.exchange.market import MarketParams, SyntheticMarket
from hftui.exchange.replay import RecordedEvent, ReplayMarket
from hftui.exchange.stats import Kline, SymbolStats, TapeTrade, decimal_ticks
from hftui.exchange.streams import DEPTH_SPEEDS_MS, DepthWindow, StreamHub, depth_stream_name
from hftui.exchange.symbols import SymbolSpec, spec_for

__all__ = ["SymbolVenue", "Venue"]

_DEPTH_LIMITS: Final = (5, 10, 20, 50, 100, 500, 1000)

# (resting order after the fill, tick, lots, spec) when flow fills a participant's order
MakerFillListener = Callable[[RestingOrder, int, int, SymbolSpec], None]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class SymbolVenue:
    spec: SymbolSpec
    book: MatchingBook
    market: SyntheticMarket | ReplayMarket
    windows: tuple[DepthWindow, ...]
    last_top: tuple[int, int, int, int] = (0, 0, 0, 0)
    trade_id: int = 0
    last_change_ms: int = 0
    stats: SymbolStats = field(default_factory=SymbolStats)


class Venue:
    """All listed symbols of one exchange process."""

    def __init__(
        self,
        symbols: tuple[str, ...],
        seed: int,
        hub: StreamHub,
        params: MarketParams | None = None,
        replay: dict[str, list[RecordedEvent]] | None = None,
        replay_speed: float = 1.0,
    ) -> None:
        self.hub = hub
        self.symbols: dict[str, SymbolVenue] = {}
        self.paused = False
        self.on_maker_fill: MakerFillListener | None = None
        self.next_funding_ms = 0
        for symbol in symbols:
            spec = spec_for(symbol)
            windows = tuple(DepthWindow(symbol, speed) for speed in DEPTH_SPEEDS_MS)
            book = MatchingBook()
            market: SyntheticMarket | ReplayMarket
            if replay is not None:
                market = ReplayMarket(spec, book, replay[symbol], replay_speed)
            else:
                market = SyntheticMarket(spec, seed, book, params=params)
            venue = SymbolVenue(spec, book, market, windows)
            venue.stats.update_mark(market.fair, None)
            # Listeners attach after seeding: the initial book is the state before id 1 is
            # ever streamed, and a snapshot taken now carries it.
            book.listener = self._level_listener(venue)
            for window in windows:
                window.prev_final = book.update_id
            market.on_trade = self._trade_listener(venue)
            self.symbols[symbol] = venue

    # ---- book changes -> streams ----------------------------------------------------------

    def _level_listener(self, venue: SymbolVenue):  # type: ignore[no-untyped-def]
        windows = venue.windows

        def on_level(side: int, tick: int, total: int, update_id: int) -> None:
            is_bid = side == BUY
            for window in windows:
                window.record(is_bid, tick, total, update_id)
            venue.last_change_ms = now_ms()

        return on_level

    def _trade_listener(self, venue: SymbolVenue):  # type: ignore[no-untyped-def]
        def on_trade(taker_side: int, fills: list[Fill]) -> None:
            if self.on_maker_fill is not None:
                for fill in fills:
                    if fill.maker.owner is not None:
                        self.on_maker_fill(fill.maker, fill.tick, fill.lots, venue.spec)
            self.publish_fills(venue, taker_side, fills)

        return on_trade

    def publish_fills(self, venue: SymbolVenue, taker_side: int, fills: list[Fill]) -> None:
        """aggTrade events for one taker order's fills."""
        spec = venue.spec
        name = f"{spec.symbol.lower()}@aggTrade"
        ts = now_ms()
        # One aggregate per price level of the taker order: same price, same taker side.
        k = 0
        while k < len(fills):
            tick = fills[k].tick
            first = venue.trade_id + 1
            lots = 0
            while k < len(fills) and fills[k].tick == tick:
                lots += fills[k].lots
                venue.trade_id += 1
                kline = venue.stats.record(
                    TapeTrade(venue.trade_id, tick, fills[k].lots, ts, taker_side == SELL)
                )
                k += 1
            self._publish_kline(venue, kline, ts)
            if self.hub.wants(name):
                qty = spec.format_qty(lots)
                self.hub.publish(
                    name,
                    {
                        "e": "aggTrade",
                        "E": ts,
                        "s": spec.symbol,
                        "a": first,  # an aggregate is named by its first trade, as in REST
                        "p": spec.format_price(tick),
                        "q": qty,
                        "nq": qty,
                        "f": first,
                        "l": venue.trade_id,
                        "T": ts,
                        "m": taker_side == SELL,  # buyer is maker when the taker sold
                    },
                )

    def _publish_kline(self, venue: SymbolVenue, k: Kline, ts: int) -> None:
        name = f"{venue.spec.symbol.lower()}@kline_1m"
        if not self.hub.wants(name):
            return
        spec = venue.spec
        quote = decimal_ticks(
            k.quote_units / 10**spec.qty_decimals * spec.lot_units, spec.tick_size
        )
        buy_quote = decimal_ticks(
            k.taker_buy_quote / 10**spec.qty_decimals * spec.lot_units, spec.tick_size
        )
        self.hub.publish(
            name,
            {
                "e": "kline",
                "E": ts,
                "s": spec.symbol,
                "k": {
                    "t": k.open_ms,
                    "T": k.open_ms + 59_999,
                    "s": spec.symbol,
                    "i": "1m",
                    "f": k.first_id,
                    "L": k.last_id,
                    "o": spec.format_price(k.open),
                    "c": spec.format_price(k.close),
                    "h": spec.format_price(k.high),
                    "l": spec.format_price(k.low),
                    "v": spec.format_qty(k.lots),
                    "n": k.trades,
                    "x": False,
                    "q": quote,
                    "V": spec.format_qty(k.taker_buy_lots),
                    "Q": buy_quote,
                    "B": "0",
                },
            },
        )

    def publish_mark(self, every_s: int) -> None:
        """markPriceUpdate for every symbol: `@markPrice@1s` each second, `@markPrice` (3 s)."""
        ts = now_ms()
        for venue in self.symbols.values():
            base = f"{venue.spec.symbol.lower()}@markPrice"
            names = [f"{base}@1s"] if every_s == 1 else [base, f"{base}@3s"]
            if not any(self.hub.wants(n) for n in names):
                continue
            payload = self.premium_index(venue, ts)
            event = {
                "e": "markPriceUpdate",
                "E": ts,
                "s": venue.spec.symbol,
                "p": payload["markPrice"],
                "ap": payload["markPrice"],
                "i": payload["indexPrice"],
                "P": payload["estimatedSettlePrice"],
                "r": payload["lastFundingRate"],
                "T": payload["nextFundingTime"],
            }
            for name in names:
                self.hub.publish(name, event)

    def premium_index(self, venue: SymbolVenue, ts: int) -> dict[str, object]:
        stats, tick = venue.stats, venue.spec.tick_size
        return {
            "symbol": venue.spec.symbol,
            "markPrice": decimal_ticks(stats.mark, tick),
            "indexPrice": decimal_ticks(stats.index, tick),
            "estimatedSettlePrice": decimal_ticks(stats.index, tick),
            "lastFundingRate": f"{stats.funding_rate:.8f}",
            "interestRate": "0.00010000",
            "nextFundingTime": self.next_funding_ms,
            "time": ts,
        }

    def publish_top(self, venue: SymbolVenue) -> None:
        """A bookTicker event if the top of the book changed."""
        book = venue.book
        bid, ask = book.best(BUY), book.best(SELL)
        if bid is None or ask is None:
            return
        top = (bid, book.total(BUY, bid), ask, book.total(SELL, ask))
        if top == venue.last_top:
            return
        venue.last_top = top
        name = f"{venue.spec.symbol.lower()}@bookTicker"
        if self.hub.wants(name):
            spec, ts = venue.spec, now_ms()
            self.hub.publish(
                name,
                {
                    "e": "bookTicker",
                    "u": book.update_id,
                    "E": ts,
                    "T": venue.last_change_ms or ts,
                    "s": spec.symbol,
                    "b": spec.format_price(bid),
                    "B": spec.format_qty(top[1]),
                    "a": spec.format_price(ask),
                    "A": spec.format_qty(top[3]),
                },
            )

    # ---- clocks ---------------------------------------------------------------------------

    def step(self, dt_s: float) -> None:
        """One slice of synthetic flow for every symbol (nothing while paused)."""
        if self.paused:
            return
        for venue in self.symbols.values():
            venue.market.step(dt_s)
            self.publish_top(venue)
            bid, ask = venue.book.best(BUY), venue.book.best(SELL)
            mid = (bid + ask) / 2 if bid is not None and ask is not None else None
            venue.stats.update_mark(venue.market.fair, mid)

    def flush_depth(self, speed_ms: int) -> None:
        """Close the current window of `speed_ms` for every symbol and send its event."""
        index = DEPTH_SPEEDS_MS.index(speed_ms)
        for venue in self.symbols.values():
            event = venue.windows[index].take()
            if event is None:
                continue
            first, final, prev, bids, asks = event
            ts = now_ms()
            self._publish_partial(venue, speed_ms, ts, (first, final, prev))
            name = depth_stream_name(venue.spec.symbol, speed_ms)
            if not self.hub.wants(name):
                continue
            copies = self.hub.faults.take_depth(venue.spec.symbol)
            if copies and self.hub.faults.take_corrupt(venue.spec.symbol):
                best = venue.book.best(BUY)
                if best is not None:
                    bids = {**bids, best: 0}
            for _ in range(copies):  # 0 after an injected gap, 2 for a duplicate
                self._publish_depth(name, venue, ts, (first, final, prev), bids, asks)

    def _publish_partial(
        self, venue: SymbolVenue, speed_ms: int, ts: int, ids: tuple[int, int, int]
    ) -> None:
        # `<s>@depth<N>`: the complete top N, sent at the diff stream's pace and ids.
        suffix = "" if speed_ms == 250 else f"@{speed_ms}ms"
        book = venue.book
        for levels in (5, 10, 20):
            name = f"{venue.spec.symbol.lower()}@depth{levels}{suffix}"
            if self.hub.wants(name):
                self.hub.publish(
                    name,
                    _depth_event(venue, ts, ids, book.depth(BUY, levels), book.depth(SELL, levels)),
                )

    def _publish_depth(
        self,
        name: str,
        venue: SymbolVenue,
        ts: int,
        ids: tuple[int, int, int],
        bids: dict[int, int],
        asks: dict[int, int],
    ) -> None:
        self.hub.publish(name, _depth_event(venue, ts, ids, bids.items(), asks.items()))

    # ---- REST views -----------------------------------------------------------------------

    def depth(self, symbol: str, limit: int) -> dict[str, object]:
        venue = self.symbols[symbol]
        spec, book, ts = venue.spec, venue.book, now_ms()
        return {
            "lastUpdateId": book.update_id,
            "E": ts,
            "T": venue.last_change_ms or ts,
            "bids": [[spec.format_price(t), spec.format_qty(q)] for t, q in book.depth(BUY, limit)],
            "asks": [
                [spec.format_price(t), spec.format_qty(q)] for t, q in book.depth(SELL, limit)
            ],
        }

    @staticmethod
    def depth_limit_ok(limit: int) -> bool:
        return limit in _DEPTH_LIMITS


def _depth_event(
    venue: SymbolVenue,
    ts: int,
    ids: tuple[int, int, int],
    bids: Iterable[tuple[int, int]],
    asks: Iterable[tuple[int, int]],
) -> dict[str, object]:
    """A `depthUpdate` payload: diff or partial, they share the format and the ids."""
    spec = venue.spec
    return {
        "e": "depthUpdate",
        "E": ts,
        "T": venue.last_change_ms or ts,
        "s": spec.symbol,
        "U": ids[0],
        "u": ids[1],
        "pu": ids[2],
        "b": [[spec.format_price(t), spec.format_qty(q)] for t, q in bids],
        "a": [[spec.format_price(t), spec.format_qty(q)] for t, q in asks],
    }
