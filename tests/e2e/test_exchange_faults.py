"""Every fault switch of the local exchange, observed from the client side."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from hftui.exchange.main import DEMO_API_KEY, ExchangeConfig, RunningExchange, start

# Asserts wall-clock bounds: run one at a time, never beside another end-to-end test.
pytestmark = [pytest.mark.e2e, pytest.mark.timing]


@pytest.fixture
async def exchange() -> AsyncIterator[RunningExchange]:
    running = await start(ExchangeConfig(port=0, seed=13, listen_key_lifetime_s=600))
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def admin(http: aiohttp.ClientSession, base: str, path: str) -> dict[str, object]:
    async with http.post(f"{base}/admin/faults/{path}") as response:
        body = orjson.loads(await response.read())
        assert response.status == 200, body
        return body  # type: ignore[no-any-return]


async def frame(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 5) -> dict[str, object]:
    message = await asyncio.wait_for(ws.receive(), wait_s)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return orjson.loads(message.data)  # type: ignore[no-any-return]


async def closed(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 5) -> bytes:
    while True:
        message = await asyncio.wait_for(ws.receive(), wait_s)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return str(message.extra or "").encode()


@pytest.mark.parametrize(("path", "reason"), [("drop", b"dropped"), ("roll", b"24h")])
async def test_drop_and_roll_close_connections(
    exchange: RunningExchange, http: aiohttp.ClientSession, path: str, reason: bytes
) -> None:
    ws_base = exchange.url.replace("http", "ws")
    async with http.ws_connect(f"{ws_base}/ws/btcusdt@bookTicker") as ws:
        await frame(ws)
        assert (await admin(http, exchange.url, path))["closed"] == 1
        assert reason in await closed(ws)


async def test_connection_lifetime_is_enforced(http: aiohttp.ClientSession) -> None:
    running = await start(ExchangeConfig(port=0, connection_lifetime_s=0.5))
    try:
        ws_base = running.url.replace("http", "ws")
        async with http.ws_connect(f"{ws_base}/ws/btcusdt@bookTicker") as ws:
            started = time.monotonic()
            assert b"24h" in await closed(ws)
            assert time.monotonic() - started < 3
    finally:
        await running.stop()


async def test_stall_then_resume(exchange: RunningExchange, http: aiohttp.ClientSession) -> None:
    ws_base = exchange.url.replace("http", "ws")
    async with http.ws_connect(f"{ws_base}/ws/btcusdt@bookTicker") as ws:
        await frame(ws)
        await admin(http, exchange.url, "stall?stream=btcusdt@bookTicker&seconds=1.0")
        while True:  # drain what was already queued
            try:
                await frame(ws, wait_s=0.2)
            except TimeoutError:
                break
        stalled_at = time.monotonic()
        await frame(ws, wait_s=5)
        assert time.monotonic() - stalled_at > 0.5


async def test_delay(exchange: RunningExchange, http: aiohttp.ClientSession) -> None:
    ws_base = exchange.url.replace("http", "ws")
    await admin(http, exchange.url, "delay?stream=btcusdt@aggTrade&ms=400")
    async with http.ws_connect(f"{ws_base}/ws/btcusdt@aggTrade") as ws:
        event = await frame(ws)
        lag_ms = time.time() * 1000 - int(str(event["E"]))
        assert lag_ms >= 350


async def test_depth_gap_and_duplicate(
    exchange: RunningExchange, http: aiohttp.ClientSession
) -> None:
    ws_base = exchange.url.replace("http", "ws")
    async with http.ws_connect(f"{ws_base}/ws/btcusdt@depth@100ms") as ws:
        first = await frame(ws)
        second = await frame(ws)
        assert second["pu"] == first["u"]
        await admin(http, exchange.url, "depth-gap?symbol=BTCUSDT")
        previous = second
        while True:
            event = await frame(ws)
            if event["pu"] != previous["u"]:
                break  # the skipped event left a hole in the chain
            previous = event
        await admin(http, exchange.url, "depth-duplicate?symbol=BTCUSDT")
        previous = event
        while True:
            event = await frame(ws)
            if event["u"] == previous["u"]:
                assert event == previous
                break
            previous = event


async def test_rest_errors_and_timeouts(
    exchange: RunningExchange, http: aiohttp.ClientSession
) -> None:
    await admin(http, exchange.url, "http?status=503&count=2")
    for _ in range(2):
        async with http.get(f"{exchange.url}/fapi/v1/time") as response:
            assert response.status == 503
            body = orjson.loads(await response.read())
            assert set(body) == {"code", "msg"}
    async with http.get(f"{exchange.url}/fapi/v1/time") as response:
        assert response.status == 200
    await admin(http, exchange.url, "http?delay_ms=600&count=1")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with http.get(
            f"{exchange.url}/fapi/v1/time", timeout=aiohttp.ClientTimeout(total=0.3)
        ):
            pass
    assert time.monotonic() - started < 2


async def test_rest_faults_aim_at_one_endpoint_and_speak_binance(
    exchange: RunningExchange, http: aiohttp.ClientSession
) -> None:
    state = await admin(http, exchange.url, "http?status=429&retry_after=7&path=/fapi/v1/depth")
    assert (state["http_path"], state["http_retry_after_s"]) == ("/fapi/v1/depth", 7)
    async with http.get(f"{exchange.url}/fapi/v1/time") as response:
        assert response.status == 200  # another path: untouched, the fault stays armed
    async with http.get(f"{exchange.url}/fapi/v1/depth?symbol=BTCUSDT&limit=5") as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "7"
        body = orjson.loads(await response.read())
        assert body["code"] == -1003
        assert "Too many requests" in body["msg"]
    await admin(http, exchange.url, "http?status=503&path=/fapi/v1/time&method=POST")
    async with http.get(f"{exchange.url}/fapi/v1/time") as response:
        assert response.status == 200  # another method
    state = await admin(http, exchange.url, "http?status=429&code=-1015")
    async with http.get(f"{exchange.url}/fapi/v1/time") as response:
        assert response.status == 429
        assert "Retry-After" not in response.headers
        assert orjson.loads(await response.read())["code"] == -1015


async def test_a_symbols_filters_change_behind_a_clients_back(
    exchange: RunningExchange, http: aiohttp.ClientSession
) -> None:
    def min_notional(info: dict[str, object]) -> object:
        symbols = info["symbols"]
        assert isinstance(symbols, list)
        btc = next(s for s in symbols if s["symbol"] == "BTCUSDT")
        return next(f["notional"] for f in btc["filters"] if f["filterType"] == "MIN_NOTIONAL")

    async with http.get(f"{exchange.url}/fapi/v1/exchangeInfo") as response:
        assert min_notional(orjson.loads(await response.read())) == "100"
    url = f"{exchange.url}/admin/symbols/filters?symbol=BTCUSDT&min_notional=1000&max_qty=5"
    async with http.post(url) as response:
        assert response.status == 200
    async with http.get(f"{exchange.url}/fapi/v1/exchangeInfo") as response:
        assert min_notional(orjson.loads(await response.read())) == "1000"
    for bad in ("symbol=NOPE&min_notional=5", "symbol=BTCUSDT&min_notional=-1", "symbol=BTCUSDT"):
        async with http.post(f"{exchange.url}/admin/symbols/filters?{bad}") as response:
            assert response.status == 400


async def test_listen_keys_expire_on_demand_and_by_time(http: aiohttp.ClientSession) -> None:
    running = await start(ExchangeConfig(port=0, listen_key_lifetime_s=1.5))
    try:
        headers = {"X-MBX-APIKEY": DEMO_API_KEY}
        ws_base = running.url.replace("http", "ws")
        for trigger in ("admin", "time"):
            async with http.post(f"{running.url}/fapi/v1/listenKey", headers=headers) as r:
                key = orjson.loads(await r.read())["listenKey"]
            async with http.ws_connect(f"{ws_base}/private/ws/{key}") as ws:
                await asyncio.sleep(0.1)
                if trigger == "admin":
                    assert (await admin(http, running.url, "expire-listen-keys"))["expired"] == 1
                event = await frame(ws, wait_s=5)
                assert event == {"e": "listenKeyExpired", "E": event["E"], "listenKey": key}
            async with http.put(f"{running.url}/fapi/v1/listenKey", headers=headers) as r:
                assert orjson.loads(await r.read())["code"] == -1125
    finally:
        await running.stop()


@pytest.mark.parametrize(
    "path",
    [
        "stall?seconds=abc",
        "delay?stream=x",
        "depth-gap?symbol=NOPE",
        "http?status=200",
        "http?status=503&path=fapi",
        "http?status=503&method=PATCH",
        "http?status=503&code=x",
    ],
)
async def test_bad_admin_requests_are_refused(
    exchange: RunningExchange, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.post(f"{exchange.url}/admin/faults/{path}") as response:
        assert response.status == 400
        assert "msg" in orjson.loads(await response.read())
    async with http.get(f"{exchange.url}/admin/faults") as response:
        state = orjson.loads(await response.read())
        assert state["http_count"] == 0
