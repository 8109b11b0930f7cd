"""Public market endpoints and streams: trades, klines, tickers, mark price, funding."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import orjson
import pytest

from hftui.exchange.main import ExchangeConfig, RunningExchange, start

pytestmark = pytest.mark.e2e


@pytest.fixture
async def exchange() -> AsyncIterator[RunningExchange]:
    running = await start(ExchangeConfig(port=0, seed=17))
    await asyncio.sleep(0.8)  # let the flow trade a little
    try:
        yield running
    finally:
        await running.stop()


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    async with http.get(url) as response:
        return response.status, orjson.loads(await response.read())


async def test_rest_market_data(exchange: RunningExchange) -> None:
    base = exchange.url
    async with aiohttp.ClientSession() as http:
        status, trades = await get(http, f"{base}/fapi/v1/trades?symbol=BTCUSDT&limit=5")
        assert status == 200
        assert isinstance(trades, list)
        assert 0 < len(trades) <= 5
        assert set(trades[0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker"}
        ids = [t["id"] for t in trades]
        assert ids == sorted(ids)
        _, klines = await get(http, f"{base}/fapi/v1/klines?symbol=BTCUSDT&interval=1m")
        assert isinstance(klines, list)
        assert klines
        row = klines[-1]
        assert len(row) == 12
        assert Decimal(row[3]) <= Decimal(row[1]) <= Decimal(row[2])  # low <= open <= high
        status, bad = await get(http, f"{base}/fapi/v1/klines?symbol=BTCUSDT&interval=1s")
        assert (status, bad["code"]) == (400, -1120)  # type: ignore[index]
        _, ticker = await get(http, f"{base}/fapi/v1/ticker/24hr?symbol=BTCUSDT")
        assert isinstance(ticker, dict)
        assert ticker["count"] > 0
        assert (
            Decimal(ticker["lowPrice"])
            <= Decimal(ticker["lastPrice"])
            <= Decimal(ticker["highPrice"])
        )
        _, tickers = await get(http, f"{base}/fapi/v1/ticker/24hr")
        assert isinstance(tickers, list)
        assert {t["symbol"] for t in tickers} == {"BTCUSDT", "ETHUSDT"}
        _, book = await get(http, f"{base}/fapi/v1/ticker/bookTicker?symbol=ETHUSDT")
        assert isinstance(book, dict)
        assert Decimal(book["bidPrice"]) < Decimal(book["askPrice"])
        for version in ("v1", "v2"):
            _, price = await get(http, f"{base}/fapi/{version}/ticker/price?symbol=BTCUSDT")
            assert isinstance(price, dict)
            assert Decimal(price["price"]) > 0
        _, premium = await get(http, f"{base}/fapi/v1/premiumIndex?symbol=BTCUSDT")
        assert isinstance(premium, dict)
        mark, index = Decimal(premium["markPrice"]), Decimal(premium["indexPrice"])
        assert abs(mark - index) / index < Decimal("0.01")
        assert premium["nextFundingTime"] > premium["time"]
        _, history = await get(http, f"{base}/fapi/v1/fundingRate?symbol=BTCUSDT")
        assert history == []  # nothing settled yet


async def test_partial_depth_mark_price_and_kline_streams(exchange: RunningExchange) -> None:
    ws_base = exchange.url.replace("http", "ws")
    streams = "btcusdt@depth5@100ms/btcusdt@markPrice@1s/btcusdt@kline_1m"
    seen: dict[str, dict[str, object]] = {}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{ws_base}/stream?streams={streams}") as ws,
    ):
        while len(seen) < 3:
            message = await asyncio.wait_for(ws.receive(), 5)
            frame = orjson.loads(message.data)
            seen[frame["stream"]] = frame["data"]
    depth = seen["btcusdt@depth5@100ms"]
    assert len(depth["b"]) == 5  # type: ignore[arg-type]
    assert len(depth["a"]) == 5  # type: ignore[arg-type]
    mark = seen["btcusdt@markPrice@1s"]
    assert mark["e"] == "markPriceUpdate"
    assert set(mark) >= {"p", "i", "P", "r", "T"}
    kline = seen["btcusdt@kline_1m"]
    assert kline["e"] == "kline"
    assert kline["k"]["i"] == "1m"  # type: ignore[index]


async def test_funding_is_settled_on_positions() -> None:
    running = await start(ExchangeConfig(port=0, seed=3, funding_interval_s=0.5))
    try:
        trading_account = next(iter(running.venue.symbols))
        assert trading_account == "BTCUSDT"
        async with aiohttp.ClientSession() as http:
            for _ in range(40):
                await asyncio.sleep(0.05)
                _, history = await get(http, f"{running.url}/fapi/v1/fundingRate?symbol=BTCUSDT")
                if history:
                    break
            assert isinstance(history, list)
            assert history
            assert set(history[0]) == {"symbol", "fundingTime", "fundingRate", "markPrice"}
    finally:
        await running.stop()
