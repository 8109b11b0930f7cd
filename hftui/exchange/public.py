"""Public market-data endpoints beyond depth: trades, klines, tickers, premium index, funding.

Each reads the venue's books and `SymbolStats`; none changes anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import orjson
from aiohttp import web

from hftui.exchange.book import BUY, SELL
from hftui.exchange.errors import VenueError
from hftui.exchange.stats import Kline, decimal_ticks
from hftui.exchange.venue import SymbolVenue, Venue, now_ms

__all__ = ["add_public_routes"]

PUBLIC_VENUE_KEY: Final = web.AppKey("public_venue", Venue)
_INTERVALS_MIN: Final = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "6h": 360,
    "8h": 480,
    "12h": 720,
    "1d": 1440,
}


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


def _limit(query: dict[str, str], default: int, most: int) -> int:
    text = query.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise VenueError.invalid("limit")
    return int(text)


def _one(venue: Venue, query: dict[str, str], required: bool) -> list[SymbolVenue]:
    name = query.get("symbol", "")
    if not name:
        if required:
            raise VenueError.mandatory("symbol")
        return list(venue.symbols.values())
    symbol = venue.symbols.get(name)
    if symbol is None:
        raise VenueError(400, -1121, "Invalid symbol.")
    return [symbol]


def _quote(symbol: SymbolVenue, units: int) -> str:
    spec = symbol.spec
    return decimal_ticks(units * spec.lot_units / 10**spec.qty_decimals, spec.tick_size)


def trades(venue: Venue, query: dict[str, str]) -> object:
    (symbol,) = _one(venue, query, True)
    spec = symbol.spec
    tape = list(symbol.stats.tape)[-_limit(query, 500, 1000) :]
    return [
        {
            "id": t.trade_id,
            "price": spec.format_price(t.tick),
            "qty": spec.format_qty(t.lots),
            "quoteQty": _quote(symbol, t.tick * t.lots),
            "time": t.time_ms,
            "isBuyerMaker": t.buyer_maker,
        }
        for t in tape
    ]


def agg_trades(venue: Venue, query: dict[str, str]) -> object:
    """Trades merged as the aggTrade stream merges them: same price, same taker, same time."""
    (symbol,) = _one(venue, query, True)
    spec = symbol.spec
    rows: list[dict[str, object]] = []
    for t in symbol.stats.tape:
        last = rows[-1] if rows else None
        if (
            last is not None
            and last["T"] == t.time_ms
            and last["m"] == t.buyer_maker
            and last["p"] == spec.format_price(t.tick)
        ):
            last["l"] = t.trade_id
            last["_lots"] = int(str(last["_lots"])) + t.lots
            continue
        rows.append(
            {
                "a": len(rows) + 1,
                "p": spec.format_price(t.tick),
                "_lots": t.lots,
                "f": t.trade_id,
                "l": t.trade_id,
                "T": t.time_ms,
                "m": t.buyer_maker,
            }
        )
    for row in rows:
        row["q"] = spec.format_qty(int(str(row.pop("_lots"))))
        # Stable ids: the first trade id of the aggregate identifies it.
        row["a"] = row["f"]
    start, end = query.get("startTime"), query.get("endTime")
    from_id = query.get("fromId")
    if from_id is not None:
        rows = [r for r in rows if int(str(r["a"])) >= int(from_id)]
    if start:
        rows = [r for r in rows if int(str(r["T"])) >= int(start)]
    if end:
        rows = [r for r in rows if int(str(r["T"])) <= int(end)]
    limit = _limit(query, 500, 1000)
    return rows[:limit] if from_id is not None else rows[-limit:]


def _merge(group: list[Kline]) -> Kline:
    merged = Kline(
        group[0].open_ms,
        group[0].open,
        max(k.high for k in group),
        min(k.low for k in group),
        group[-1].close,
        first_id=group[0].first_id,
        last_id=group[-1].last_id,
    )
    for k in group:
        merged.lots += k.lots
        merged.quote_units += k.quote_units
        merged.trades += k.trades
        merged.taker_buy_lots += k.taker_buy_lots
        merged.taker_buy_quote += k.taker_buy_quote
    return merged


def klines(venue: Venue, query: dict[str, str]) -> object:
    (symbol,) = _one(venue, query, True)
    interval = query.get("interval", "")
    if not interval:
        raise VenueError.mandatory("interval")
    minutes = _INTERVALS_MIN.get(interval)
    if minutes is None:
        raise VenueError(400, -1120, "Invalid interval.")
    span = minutes * 60_000
    groups: dict[int, list[Kline]] = {}
    for k in symbol.stats.klines:
        groups.setdefault(k.open_ms - k.open_ms % span, []).append(k)
    start, end = query.get("startTime"), query.get("endTime")
    rows = []
    spec = symbol.spec
    for open_ms, group in sorted(groups.items()):
        if (start and open_ms < int(start)) or (end and open_ms > int(end)):
            continue
        k = _merge(group)
        rows.append(
            [
                open_ms,
                spec.format_price(k.open),
                spec.format_price(k.high),
                spec.format_price(k.low),
                spec.format_price(k.close),
                spec.format_qty(k.lots),
                open_ms + span - 1,
                _quote(symbol, k.quote_units),
                k.trades,
                spec.format_qty(k.taker_buy_lots),
                _quote(symbol, k.taker_buy_quote),
                "0",
            ]
        )
    return rows[-_limit(query, 500, 1500) :]


def _ticker(symbol: SymbolVenue, now: int) -> dict[str, object]:
    spec, day = symbol.spec, symbol.stats.day(now)
    last = symbol.stats.tape[-1] if symbol.stats.tape else None
    if not day or last is None:
        zero = spec.format_price(0)
        return {
            "symbol": spec.symbol,
            "priceChange": zero,
            "priceChangePercent": "0.000",
            "weightedAvgPrice": zero,
            "lastPrice": zero,
            "lastQty": spec.format_qty(0),
            "openPrice": zero,
            "highPrice": zero,
            "lowPrice": zero,
            "volume": spec.format_qty(0),
            "quoteVolume": "0",
            "openTime": now,
            "closeTime": now,
            "firstId": 0,
            "lastId": 0,
            "count": 0,
        }
    k = _merge(day)
    change = k.close - k.open
    weighted = k.quote_units / k.lots if k.lots else 0.0
    return {
        "symbol": spec.symbol,
        "priceChange": spec.format_price(change),
        "priceChangePercent": f"{100 * change / k.open:.3f}" if k.open else "0.000",
        "weightedAvgPrice": decimal_ticks(weighted, spec.tick_size, spec.price_decimals),
        "lastPrice": spec.format_price(last.tick),
        "lastQty": spec.format_qty(last.lots),
        "openPrice": spec.format_price(k.open),
        "highPrice": spec.format_price(k.high),
        "lowPrice": spec.format_price(k.low),
        "volume": spec.format_qty(k.lots),
        "quoteVolume": _quote(symbol, k.quote_units),
        "openTime": day[0].open_ms,
        "closeTime": now,
        "firstId": k.first_id,
        "lastId": k.last_id,
        "count": k.trades,
    }


def _book_ticker(symbol: SymbolVenue, now: int) -> dict[str, object]:
    spec, book = symbol.spec, symbol.book
    bid, ask = book.best(BUY), book.best(SELL)
    return {
        "symbol": spec.symbol,
        "lastUpdateId": book.update_id,
        "bidPrice": spec.format_price(bid or 0),
        "bidQty": spec.format_qty(book.total(BUY, bid or 0)),
        "askPrice": spec.format_price(ask or 0),
        "askQty": spec.format_qty(book.total(SELL, ask or 0)),
        "time": now,
    }


def _price(symbol: SymbolVenue, now: int) -> dict[str, object]:
    tape = symbol.stats.tape
    tick = tape[-1].tick if tape else (symbol.book.best(BUY) or 0)
    return {"symbol": symbol.spec.symbol, "price": symbol.spec.format_price(tick), "time": now}


def _each(
    build: Callable[[SymbolVenue, int], dict[str, object]],
) -> Callable[[Venue, dict[str, str]], object]:
    # Binance answers an object with `symbol`, an array of all symbols without.
    def handle(venue: Venue, query: dict[str, str]) -> object:
        now = now_ms()
        symbols = _one(venue, query, False)
        rows = [build(s, now) for s in symbols]
        return rows[0] if query.get("symbol") else rows

    return handle


def premium_index(venue: Venue, query: dict[str, str]) -> object:
    return _each(lambda s, now: venue.premium_index(s, now))(venue, query)


def funding_rate(venue: Venue, query: dict[str, str]) -> object:
    symbols = _one(venue, query, False)
    rows = [
        {
            "symbol": s.spec.symbol,
            "fundingTime": t,
            "fundingRate": f"{rate:.8f}",
            "markPrice": f"{mark:.8f}",
        }
        for s in symbols
        for t, rate, mark in s.stats.funding_history
    ]
    rows.sort(key=lambda r: int(str(r["fundingTime"])))
    return rows[-_limit(query, 100, 1000) :]


Reader = Callable[[Venue, dict[str, str]], object]


def _route(reader: Reader) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        try:
            return _json(reader(request.app[PUBLIC_VENUE_KEY], dict(request.query)))
        except VenueError as exc:
            return _json({"code": exc.code, "msg": exc.msg}, exc.status)

    return serve


def add_public_routes(app: web.Application, venue: Venue) -> None:
    app[PUBLIC_VENUE_KEY] = venue
    r = app.router
    r.add_get("/fapi/v1/trades", _route(trades))
    r.add_get("/fapi/v1/aggTrades", _route(agg_trades))
    r.add_get("/fapi/v1/klines", _route(klines))
    r.add_get("/fapi/v1/ticker/24hr", _route(_each(_ticker)))
    r.add_get("/fapi/v1/ticker/bookTicker", _route(_each(_book_ticker)))
    r.add_get("/fapi/v1/ticker/price", _route(_each(_price)))
    r.add_get("/fapi/v2/ticker/price", _route(_each(_price)))
    r.add_get("/fapi/v1/premiumIndex", _route(premium_index))
    r.add_get("/fapi/v1/fundingRate", _route(funding_rate))
