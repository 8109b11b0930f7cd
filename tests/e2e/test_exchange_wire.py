"""The local exchange over real HTTP and WebSocket connections on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from hftui.exchange.limits import Limits
from hftui.exchange.main import ExchangeConfig, RunningExchange, parse_account, start

pytestmark = pytest.mark.e2e


@pytest.fixture
async def exchange() -> AsyncIterator[RunningExchange]:
    running = await start(ExchangeConfig(port=0, seed=5, symbols=("BTCUSDT", "ETHUSDT")))
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    async with http.get(url) as response:
        assert response.content_type == "application/json"
        return response.status, orjson.loads(await response.read())


async def test_public_rest(exchange: RunningExchange, http: aiohttp.ClientSession) -> None:
    base = exchange.url
    assert await get(http, f"{base}/fapi/v1/ping") == (200, {})
    assert await get(http, f"{base}/api/v3/ping") == (200, {})
    status, body = await get(http, f"{base}/fapi/v1/time")
    assert status == 200
    assert isinstance(body, dict)
    assert isinstance(body["serverTime"], int)
    status, info = await get(http, f"{base}/fapi/v1/exchangeInfo")
    assert isinstance(info, dict)
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    btc = info["symbols"][0]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001"
    for name in ("MARKET_LOT_SIZE", "MAX_NUM_ORDERS", "MIN_NOTIONAL", "PERCENT_PRICE"):
        assert name in filters
    assert "underlying" not in btc
    assert "tradability" not in btc
    assert {r["rateLimitType"] for r in info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}
    status, depth = await get(http, f"{base}/fapi/v1/depth?symbol=BTCUSDT&limit=5")
    assert status == 200
    assert isinstance(depth, dict)
    assert len(depth["bids"]) == 5
    assert len(depth["asks"]) == 5
    bids = [float(p) for p, _ in depth["bids"]]
    asks = [float(p) for p, _ in depth["asks"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    assert all(isinstance(p, str) and isinstance(q, str) for p, q in depth["bids"])
    assert depth["bids"][0][0].split(".")[1].__len__() == 2  # written to the tick's decimals


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("symbol=BTCUSDT&limit=3", 400, -4021),
        ("symbol=BTCUSDT&limit=1500", 400, -1130),
        ("symbol=BTCUSDT&limit=abc", 400, -1130),
        ("symbol=NOPEUSDT", 400, -1121),
        ("", 400, -1102),
    ],
)
async def test_depth_errors(
    exchange: RunningExchange, http: aiohttp.ClientSession, query: str, status: int, code: int
) -> None:
    got_status, body = await get(http, f"{exchange.url}/fapi/v1/depth?{query}")
    assert got_status == status
    assert isinstance(body, dict)
    assert body["code"] == code
    assert isinstance(body["msg"], str)


async def test_unknown_path_is_json(exchange: RunningExchange, http: aiohttp.ClientSession) -> None:
    status, body = await get(http, f"{exchange.url}/fapi/v9/nothing")
    assert status == 404
    assert isinstance(body, dict)
    assert set(body) == {"code", "msg"}


async def _frames(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, object]]:
    frames: list[dict[str, object]] = []
    while len(frames) < count:
        message = await asyncio.wait_for(ws.receive(), 5)
        assert message.type == aiohttp.WSMsgType.TEXT
        frames.append(orjson.loads(message.data))
    return frames


async def test_raw_and_combined_streams(
    exchange: RunningExchange, http: aiohttp.ClientSession
) -> None:
    ws_base = exchange.url.replace("http", "ws")
    async with http.ws_connect(f"{ws_base}/ws/btcusdt@bookTicker") as ws:
        (frame,) = await _frames(ws, 1)
        assert frame["e"] == "bookTicker"
        assert frame["s"] == "BTCUSDT"
        assert set(frame) >= {"u", "E", "T", "b", "B", "a", "A"}
        assert float(str(frame["b"])) < float(str(frame["a"]))
    async with http.ws_connect(f"{ws_base}/market/stream?streams=btcusdt@aggTrade") as ws:
        (frame,) = await _frames(ws, 1)
        assert frame["stream"] == "btcusdt@aggTrade"
        data = frame["data"]
        assert isinstance(data, dict)
        assert data["e"] == "aggTrade"
        assert set(data) >= {"E", "s", "a", "p", "q", "f", "l", "T", "m"}
        assert isinstance(data["m"], bool)
        assert int(str(data["l"])) >= int(str(data["f"]))


async def test_control_frames(exchange: RunningExchange, http: aiohttp.ClientSession) -> None:
    ws_base = exchange.url.replace("http", "ws")
    async with http.ws_connect(f"{ws_base}/public/ws/0") as ws:  # ccxt's style of URL
        await ws.send_str('{"method":"SUBSCRIBE","params":["ethusdt@depth@500ms"],"id":1}')
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":"two"}')
        await ws.send_str('{"method":"GET_PROPERTY","params":["combined"],"id":3}')
        await ws.send_str('{"method":"SET_PROPERTY","params":["combined",true],"id":4}')
        await ws.send_str('{"method":"SET_PROPERTY","params":["combined","yes"],"id":5}')
        await ws.send_str('{"method":"GET_PROPERTY","params":["colour"],"id":6}')
        await ws.send_str("{not json")
        await ws.send_str('{"method":"DANCE","id":8}')
        replies: dict[object, dict[str, object]] = {}
        other: list[dict[str, object]] = []
        while len(replies) < 8:
            (frame,) = await _frames(ws, 1)
            if "result" in frame or "code" in frame:
                replies[frame.get("id")] = frame
            else:
                other.append(frame)
        assert replies[1] == {"result": None, "id": 1}
        assert replies["two"] == {"result": ["ethusdt@depth@500ms"], "id": "two"}
        assert replies[3] == {"result": False, "id": 3}
        assert replies[4] == {"result": None, "id": 4}
        assert replies[5]["code"] == 1
        assert replies[6]["code"] == 0
        assert replies[None]["code"] == 3
        assert replies[8]["code"] == 2
        await ws.send_str('{"method":"UNSUBSCRIBE","params":["ethusdt@depth@500ms"],"id":9}')
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":10}')
        while True:
            (frame,) = await _frames(ws, 1)
            if frame.get("id") == 10:
                assert frame["result"] == []
                break


async def test_too_many_control_messages_disconnect(
    exchange: RunningExchange, http: aiohttp.ClientSession
) -> None:
    ws_base = exchange.url.replace("http", "ws")
    async with http.ws_connect(f"{ws_base}/ws") as ws:
        for k in range(15):
            await ws.send_str(f'{{"method":"LIST_SUBSCRIPTIONS","id":{k}}}')
        closed = False
        for _ in range(30):
            message = await asyncio.wait_for(ws.receive(), 5)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                closed = True
                break
        assert closed


def _apply(book: dict[str, dict[str, str]], side: str, levels: list[list[str]]) -> None:
    for price, qty in levels:
        if float(qty) == 0:
            book[side].pop(price, None)
        else:
            book[side][price] = qty


@pytest.mark.parametrize("stream", ["btcusdt@depth@100ms", "btcusdt@depth", "btcusdt@depth@500ms"])
async def test_diff_depth_chain_rebuilds_the_book_exactly(
    exchange: RunningExchange, http: aiohttp.ClientSession, stream: str
) -> None:
    """Binance's documented procedure, done independently here, syncs on the first try and
    ends on exactly the exchange's book."""
    ws_base = exchange.url.replace("http", "ws")
    async with http.ws_connect(f"{ws_base}/ws/{stream}") as ws:
        buffered = await _frames(ws, 2)
        _, snap = await get(http, f"{exchange.url}/fapi/v1/depth?symbol=BTCUSDT&limit=1000")
        assert isinstance(snap, dict)
        last = snap["lastUpdateId"]
        assert isinstance(last, int)
        buffered += await _frames(ws, 3)
        events = [e for e in buffered if int(str(e["u"])) >= last]
        first = events[0]
        assert int(str(first["U"])) <= last <= int(str(first["u"])) or first["pu"] == last
        book: dict[str, dict[str, str]] = {
            "b": dict(snap["bids"]),
            "a": dict(snap["asks"]),
        }
        previous = None
        for event in events:
            if previous is not None:
                assert event["pu"] == previous
            assert event["e"] == "depthUpdate"
            assert event["s"] == "BTCUSDT"
            _apply(book, "b", event["b"])  # type: ignore[arg-type]
            _apply(book, "a", event["a"])  # type: ignore[arg-type]
            previous = event["u"]
        exchange.venue.paused = True
        # Drain until a quiet window: nothing changes while paused.
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), 1.0)
            except TimeoutError:
                break
            event = orjson.loads(message.data)
            assert event["pu"] == previous
            _apply(book, "b", event["b"])
            _apply(book, "a", event["a"])
            previous = event["u"]
        _, final = await get(http, f"{exchange.url}/fapi/v1/depth?symbol=BTCUSDT&limit=1000")
        assert isinstance(final, dict)
        assert final["lastUpdateId"] == previous
        assert sorted(book["b"].items(), key=lambda kv: -float(kv[0])) == [
            tuple(level) for level in final["bids"]
        ]
        assert sorted(book["a"].items(), key=lambda kv: float(kv[0])) == [
            tuple(level) for level in final["asks"]
        ]


def test_config_refuses_non_loopback_and_unknown_symbols() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        ExchangeConfig(host="0.0.0.0").validate()  # noqa: S104 - the point of the test
    with pytest.raises(ValueError, match="DOGEUSDT"):
        ExchangeConfig(symbols=("DOGEUSDT",)).validate()
    with pytest.raises(ValueError, match="KEY:SECRET"):
        parse_account("nocolon")
    assert parse_account("k:s:t") == ("k", "s:t")


async def test_rate_limit_headers_429_and_418_over_http() -> None:
    config = ExchangeConfig(port=0, limits=Limits(weight_per_minute=6, ban_base_s=60))
    running = await start(config)
    try:
        async with aiohttp.ClientSession() as http:
            seen = []
            for _ in range(12):
                async with http.get(f"{running.url}/fapi/v1/time") as response:
                    body = orjson.loads(await response.read())
                    seen.append(
                        (
                            response.status,
                            response.headers.get("X-MBX-USED-WEIGHT-1M"),
                            response.headers.get("Retry-After"),
                            body.get("code"),
                        )
                    )
        assert [s[0] for s in seen[:6]] == [200] * 6
        assert [s[1] for s in seen[:6]] == ["1", "2", "3", "4", "5", "6"]
        assert seen[6][0] == 429
        assert seen[6][3] == -1003
        assert seen[6][2] is not None
        assert int(seen[6][2]) >= 1
        assert seen[-1][0] == 418
        assert seen[-1][3] == -1003
    finally:
        await running.stop()


async def test_plain_get_on_a_stream_path_is_json(
    exchange: RunningExchange, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{exchange.url}/ws/btcusdt@depth") as response:
        assert response.status == 400
        body = orjson.loads(await response.read())
        assert set(body) == {"code", "msg"}


async def test_streams_per_connection_are_capped(
    exchange: RunningExchange, http: aiohttp.ClientSession
) -> None:
    ws_base = exchange.url.replace("http", "ws")
    names = [f"sym{k}usdt@aggTrade" for k in range(1024)]
    async with http.ws_connect(f"{ws_base}/ws") as ws:
        await ws.send_str(orjson.dumps({"method": "SUBSCRIBE", "params": names, "id": 1}).decode())
        assert (await _frames(ws, 1))[0] == {"result": None, "id": 1}
        await ws.send_str('{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":2}')
        while True:
            (reply,) = await _frames(ws, 1)
            if reply.get("id") == 2:
                assert reply["code"] == 2
                break
