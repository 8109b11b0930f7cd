"""Trading on the local exchange over signed REST and the user-data stream, on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import orjson
import pytest
from yarl import URL

from hftui.engine.binance.auth import encode_params, sign
from hftui.exchange.main import ExchangeConfig, RunningExchange, start

pytestmark = pytest.mark.e2e

KEY, SECRET = "test-key", "test-secret"


class Client:
    """A minimal signed client: what every Binance client does, nothing more."""

    def __init__(
        self, http: aiohttp.ClientSession, base: str, key: str = KEY, secret: str = SECRET
    ) -> None:
        self.http, self.base, self.key, self.secret = http, base, key, secret

    async def call(
        self,
        method: str,
        path: str,
        signed: bool = True,
        in_body: bool = False,
        **params: str,
    ) -> tuple[int, object]:
        if signed:
            params = {"timestamp": str(int(time.time() * 1000)), **params}
        payload = encode_params(params)
        if signed:
            payload += "&signature=" + sign(self.secret.encode(), payload)
        headers = {"X-MBX-APIKEY": self.key}
        url = f"{self.base}{path}"
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            request = self.http.request(method, url, data=payload, headers=headers)
        else:
            # encoded=True: send the signed bytes exactly, as real clients do.
            request = self.http.request(
                method, URL(f"{url}?{payload}", encoded=True), headers=headers
            )
        async with request as response:
            return response.status, orjson.loads(await response.read())

    async def order(self, **params: str) -> dict[str, object]:
        """Place a BTCUSDT order that must be accepted."""
        return await self.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", **params)  # type: ignore[arg-type]

    async def ok(
        self, method: str, path: str, signed: bool = True, **params: str
    ) -> dict[str, object]:
        status, body = await self.call(method, path, signed=signed, **params)  # type: ignore[arg-type]
        assert status == 200, body
        assert isinstance(body, dict)
        return body


@pytest.fixture
async def exchange() -> AsyncIterator[RunningExchange]:
    running = await start(ExchangeConfig(port=0, seed=9, accounts=((KEY, SECRET),)))
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def client(exchange: RunningExchange) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as http:
        yield Client(http, exchange.url)


async def best(client: Client) -> tuple[Decimal, Decimal]:
    _status, depth = await client.call(
        "GET", "/fapi/v1/depth", signed=False, symbol="BTCUSDT", limit="5"
    )
    assert isinstance(depth, dict)
    return Decimal(depth["bids"][0][0]), Decimal(depth["asks"][0][0])


async def test_auth_failures(client: Client) -> None:
    status, body = await Client(client.http, client.base, key="").call("GET", "/fapi/v2/balance")
    assert (status, body["code"]) == (401, -2014)  # type: ignore[index]
    status, body = await Client(client.http, client.base, key="nobody").call(
        "GET", "/fapi/v2/balance"
    )
    assert (status, body["code"]) == (401, -2015)  # type: ignore[index]
    status, body = await Client(client.http, client.base, secret="wrong").call(
        "GET", "/fapi/v2/balance"
    )
    assert (status, body["code"]) == (400, -1022)  # type: ignore[index]
    status, body = await client.call("GET", "/fapi/v2/balance", timestamp="1000")
    assert (status, body["code"]) == (400, -1021)  # type: ignore[index]
    status, body = await client.call("GET", "/fapi/v2/balance", signed=False)
    assert (status, body["code"]) == (400, -1102)  # type: ignore[index]


async def test_order_lifecycle_and_account(client: Client, exchange: RunningExchange) -> None:
    bid, ask = await best(client)
    exchange.venue.paused = True  # a still market: nothing fills our resting order meanwhile
    resting_price = str(bid - Decimal("50"))
    order = await client.order(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price=resting_price,
        newClientOrderId="mine-1",
        newOrderRespType="RESULT",
    )
    assert order["status"] == "NEW"
    assert order["positionSide"] == "BOTH"
    for field in ("avgPrice", "cumQuote", "updateTime", "origQty", "executedQty"):
        assert field in order
    queried = await client.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="mine-1")
    assert queried["orderId"] == order["orderId"]
    assert "time" in queried
    status, open_orders = await client.call("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")
    assert isinstance(open_orders, list)
    assert [o["clientOrderId"] for o in open_orders] == ["mine-1"]
    # The resting order is in the public book.
    _, depth = await client.call(
        "GET", "/fapi/v1/depth", signed=False, symbol="BTCUSDT", limit="1000"
    )
    assert isinstance(depth, dict)
    assert any(Decimal(p) == Decimal(resting_price) for p, _ in depth["bids"])
    status, dup = await client.call(
        "POST",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price=resting_price,
        newClientOrderId="mine-1",
    )
    assert (status, dup["code"]) == (400, -4116)  # type: ignore[index]
    canceled = await client.ok(
        "DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=str(order["orderId"])
    )
    assert canceled["status"] == "CANCELED"
    status, again = await client.call(
        "DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=str(order["orderId"])
    )
    assert (status, again["code"]) == (400, -2011)  # type: ignore[index]

    # A market buy fills against the book and opens a long position.
    filled = await client.order(
        side="BUY",
        type="MARKET",
        quantity="0.050",
        newOrderRespType="RESULT",
    )
    assert filled["status"] == "FILLED"
    assert Decimal(str(filled["executedQty"])) == Decimal("0.050")
    assert Decimal(str(filled["avgPrice"])) >= ask
    status, positions = await client.call("GET", "/fapi/v3/positionRisk", symbol="BTCUSDT")
    assert isinstance(positions, list)
    assert Decimal(positions[0]["positionAmt"]) == Decimal("0.050")
    assert Decimal(positions[0]["entryPrice"]) == Decimal(str(filled["avgPrice"]))
    status, trades = await client.call("GET", "/fapi/v1/userTrades", symbol="BTCUSDT")
    assert isinstance(trades, list)
    assert sum(Decimal(t["qty"]) for t in trades) == Decimal("0.050")
    fees = sum(Decimal(t["commission"]) for t in trades)
    assert fees > 0

    # Reduce-only close flattens it; the wallet moved by realized P&L minus fees.
    closed = await client.order(
        side="SELL",
        type="MARKET",
        quantity="0.050",
        reduceOnly="true",
        newOrderRespType="RESULT",
    )
    assert closed["status"] == "FILLED"
    status, positions = await client.call("GET", "/fapi/v3/positionRisk", symbol="BTCUSDT")
    assert isinstance(positions, list)
    assert Decimal(positions[0]["positionAmt"]) == 0
    status, trades = await client.call("GET", "/fapi/v1/userTrades", symbol="BTCUSDT")
    assert isinstance(trades, list)
    realized = sum(Decimal(t["realizedPnl"]) for t in trades)
    fees = sum(Decimal(t["commission"]) for t in trades)
    account = await client.ok("GET", "/fapi/v3/account")
    assert Decimal(str(account["totalWalletBalance"])) == Decimal("100000") + realized - fees
    assert account["assets"][0]["updateTime"] > 0  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010", "price": "64000.05"}, -4014),
        ({"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.0105", "price": "64000.00"}, -1111),
        ({"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.0001", "price": "64000.00"}, -1111),
        ({"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "60000.00"}, -4164),
        ({"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010", "price": "90000.00"}, -4016),
        ({"type": "LIMIT", "quantity": "0.010", "price": "64000.00"}, -1102),
        ({"type": "LIMIT", "timeInForce": "XYZ", "quantity": "0.010", "price": "64000.00"}, -1115),
        ({"type": "STOP_MARKET", "quantity": "0.010"}, -4120),
        ({"type": "MARKET", "quantity": "0.010", "reduceOnly": "true"}, -2022),
        ({"type": "MARKET", "quantity": "0.010", "positionSide": "LONG"}, -4061),
        (
            {
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.010",
                "price": "64000.00",
                "newClientOrderId": "bad id!",
            },
            -4015,
        ),
    ],
)
async def test_order_rejections(client: Client, params: dict[str, str], code: int) -> None:
    status, body = await client.call(
        "POST",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side="BUY",
        **params,  # type: ignore[arg-type]
    )
    assert status == 400
    assert isinstance(body, dict)
    assert body["code"] == code, body


async def test_post_only_and_fok_that_cannot_work_are_rejected(client: Client) -> None:
    _bid, ask = await best(client)
    status, body = await client.call(
        "POST",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTX",
        quantity="0.010",
        price=str(ask + Decimal("1")),
    )
    assert (status, body["code"]) == (400, -5022)  # type: ignore[index]
    status, body = await client.call(
        "POST",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="FOK",
        quantity="5",
        price=str(ask),
    )
    assert (status, body["code"]) == (400, -5021)  # type: ignore[index]
    status, body = await client.call("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")
    assert body == []  # neither left an order behind


async def test_user_data_stream_reports_the_lifecycle(
    client: Client, exchange: RunningExchange
) -> None:
    listen = await client.ok("POST", "/fapi/v1/listenKey", signed=False)
    key = str(listen["listenKey"])
    assert (await client.ok("POST", "/fapi/v1/listenKey", signed=False))["listenKey"] == key
    ws_base = exchange.url.replace("http", "ws")
    async with client.http.ws_connect(f"{ws_base}/private/ws?listenKey={key}") as ws:
        await asyncio.sleep(0.05)
        await client.order(side="BUY", type="MARKET", quantity="0.020")
        events: list[dict[str, object]] = []
        while not any(e.get("e") == "ACCOUNT_UPDATE" for e in events) or not any(
            e.get("e") == "ORDER_TRADE_UPDATE" and e["o"]["X"] == "FILLED"  # type: ignore[index]
            for e in events
        ):
            message = await asyncio.wait_for(ws.receive(), 5)
            events.append(orjson.loads(message.data))
    updates = [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"]
    assert updates[0]["x"] == "NEW"  # type: ignore[index]
    assert updates[-1]["X"] == "FILLED"  # type: ignore[index]
    filled = [Decimal(str(u["l"])) for u in updates if isinstance(u, dict)]
    assert sum(filled) == Decimal("0.020")
    account_update = next(e for e in events if e["e"] == "ACCOUNT_UPDATE")
    assert account_update["a"]["m"] == "ORDER"  # type: ignore[index]
    await client.ok("PUT", "/fapi/v1/listenKey", signed=False)
    await client.ok("DELETE", "/fapi/v1/listenKey", signed=False)
    status, body = await client.call("PUT", "/fapi/v1/listenKey", signed=False)
    assert (status, body["code"]) == (400, -1125)  # type: ignore[index]


async def test_resting_order_is_filled_by_the_flow(
    client: Client, exchange: RunningExchange
) -> None:
    bid, _ = await best(client)
    order = await client.order(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.005",
        price=str(bid),
    )
    # Value drops below the bid: sellers trade down through it, and through our order.
    exchange.venue.symbols["BTCUSDT"].market.fair -= 60
    for _ in range(200):
        await asyncio.sleep(0.05)
        state = await client.ok(
            "GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=str(order["orderId"])
        )
        if state["status"] == "FILLED":
            break
    else:
        raise AssertionError("the flow did not trade through the bid in 10 s")
    _status, trades = await client.call("GET", "/fapi/v1/userTrades", symbol="BTCUSDT")
    assert isinstance(trades, list)
    assert all(t["maker"] for t in trades)


async def test_body_and_query_signing_both_work(client: Client) -> None:
    status, _ = await client.call(
        "POST", "/fapi/v1/leverage", in_body=True, symbol="BTCUSDT", leverage="10"
    )
    assert status == 200
    status, body = await client.call("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage="500")
    assert (status, body["code"]) == (400, -4028)  # type: ignore[index]
    status, body = await client.call("POST", "/fapi/v1/positionSide/dual", dualSidePosition="true")
    assert status == 400


async def test_countdown_cancel_all_really_cancels(
    client: Client, exchange: RunningExchange
) -> None:
    bid, _ = await best(client)
    exchange.venue.paused = True
    for k in range(2):
        await client.order(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.010",
            price=str(bid - 40 - k),
        )
    armed = await client.ok(
        "POST", "/fapi/v1/countdownCancelAll", symbol="BTCUSDT", countdownTime="300"
    )
    assert armed == {"symbol": "BTCUSDT", "countdownTime": "300"}
    await asyncio.sleep(0.15)  # a heartbeat in time pushes the deadline out
    await client.ok("POST", "/fapi/v1/countdownCancelAll", symbol="BTCUSDT", countdownTime="300")
    await asyncio.sleep(0.2)
    _, still = await client.call("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")
    assert isinstance(still, list)
    assert len(still) == 2
    await asyncio.sleep(0.3)  # no heartbeat: everything on the symbol is canceled
    _, after = await client.call("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")
    assert after == []
    await client.order(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price=str(bid - 45),
    )
    await client.ok("POST", "/fapi/v1/countdownCancelAll", symbol="BTCUSDT", countdownTime="200")
    await client.ok("POST", "/fapi/v1/countdownCancelAll", symbol="BTCUSDT", countdownTime="0")
    await asyncio.sleep(0.4)  # disarmed: the order stays
    _, kept = await client.call("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")
    assert isinstance(kept, list)
    assert len(kept) == 1


async def test_funding_fee_moves_the_wallet_by_position_times_mark_times_rate() -> None:
    running = await start(
        ExchangeConfig(port=0, seed=9, accounts=((KEY, SECRET),), funding_interval_s=0.7)
    )
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(http, running.url)
            key = (await client.ok("POST", "/fapi/v1/listenKey", signed=False))["listenKey"]
            await client.order(
                side="BUY",
                type="MARKET",
                quantity="0.100",
            )
            before = Decimal(
                str((await client.ok("GET", "/fapi/v3/account"))["totalWalletBalance"])
            )
            ws_base = running.url.replace("http", "ws")
            async with http.ws_connect(f"{ws_base}/ws/{key}") as ws:
                while True:
                    event = orjson.loads((await asyncio.wait_for(ws.receive(), 5)).data)
                    if event["e"] == "ACCOUNT_UPDATE" and event["a"]["m"] == "FUNDING_FEE":
                        break
            _, history = await client.call(
                "GET", "/fapi/v1/fundingRate", signed=False, symbol="BTCUSDT"
            )
            assert isinstance(history, list)
            last = history[-1]
            expected = -Decimal("0.100") * Decimal(last["markPrice"]) * Decimal(last["fundingRate"])
            change = Decimal(event["a"]["B"][0]["bc"])
            assert abs(change - expected) < Decimal("0.0001")
            after = Decimal(event["a"]["B"][0]["wb"])
            assert abs(after - (before + change)) < Decimal("0.0001") or len(history) > 1
    finally:
        await running.stop()


async def test_batch_orders_in_each_clients_encoding(
    client: Client, exchange: RunningExchange
) -> None:
    bid, _ = await best(client)
    exchange.venue.paused = True
    good = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.010",
        "price": str(bid - 30),
        "timeInForce": "GTC",
    }
    bad = {**good, "price": str(bid - Decimal("30.05"))}
    numeric = {**good, "quantity": 0.01, "price": float(bid - 31)}
    # python-binance style: JSON with spaces, percent-encoded once ('+' for the spaces).
    body = orjson.dumps([good, bad, numeric]).decode().replace(",", ", ").replace(":", ": ")
    status, results = await client.call(
        "POST", "/fapi/v1/batchOrders", in_body=True, batchOrders=body
    )
    assert status == 200
    assert isinstance(results, list)
    assert results[0]["status"] == "NEW"
    assert results[1]["code"] == -4014
    assert results[2]["status"] == "NEW"
    ids = orjson.dumps([results[0]["orderId"], results[2]["orderId"], 1]).decode()
    status, canceled = await client.call(
        "DELETE", "/fapi/v1/batchOrders", symbol="BTCUSDT", orderidlist=ids
    )  # ccxt's lower-case name
    assert isinstance(canceled, list)
    assert [c.get("status", c.get("code")) for c in canceled] == ["CANCELED", "CANCELED", -2011]
    status, too_many = await client.call(
        "POST", "/fapi/v1/batchOrders", batchOrders=orjson.dumps([good] * 6).decode()
    )
    assert (status, too_many["code"]) == (400, -1130)  # type: ignore[index]


async def test_post_only_that_does_not_cross_rests(client: Client) -> None:
    bid, _ = await best(client)
    order = await client.order(
        side="BUY",
        type="LIMIT",
        timeInForce="GTX",
        quantity="0.010",
        price=str(bid - 200),
        newOrderRespType="RESULT",
    )
    assert order["status"] == "NEW"
    _, open_orders = await client.call("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")
    assert isinstance(open_orders, list)
    assert [o["timeInForce"] for o in open_orders] == ["GTX"]


async def test_conditional_orders_trigger_on_last_price(
    client: Client, exchange: RunningExchange
) -> None:
    bid, ask = await best(client)
    status, body = await client.call(
        "POST",
        "/fapi/v1/algoOrder",
        algoType="CONDITIONAL",
        symbol="BTCUSDT",
        side="BUY",
        type="STOP_MARKET",
        triggerPrice=str(ask - 20),
        quantity="0.010",
    )
    assert (status, body["code"]) == (400, -2021)  # type: ignore[index]
    await client.order(side="BUY", type="MARKET", quantity="0.020")
    # A stop-loss below the market and a take-profit just above the last trade.
    stop = await client.ok(
        "POST",
        "/fapi/v1/algoOrder",
        algoType="CONDITIONAL",
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        triggerPrice=str(bid - 3000),
        closePosition="true",
        clientAlgoId="stop-1",
    )
    assert stop["algoStatus"] == "NEW"
    _, listed = await client.call("GET", "/fapi/v1/openAlgoOrders", symbol="BTCUSDT")
    assert isinstance(listed, list)
    assert [o["clientAlgoId"] for o in listed] == ["stop-1"]
    take = await client.ok(
        "POST",
        "/fapi/v1/algoOrder",
        algoType="CONDITIONAL",
        symbol="BTCUSDT",
        side="SELL",
        type="TAKE_PROFIT_MARKET",
        triggerPrice=str(ask + Decimal("0.5")),
        quantity="0.020",
        reduceOnly="true",
    )
    # Lift the market's value: informed flow then trades the price up through the trigger.
    exchange.venue.symbols["BTCUSDT"].market.fair += 60
    for _ in range(200):
        state = await client.ok("GET", "/fapi/v1/algoOrder", algoId=str(take["algoId"]))
        if state["algoStatus"] != "NEW":
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the price did not reach the take-profit in 10 s")
    assert state["algoStatus"] == "FINISHED"
    assert state["actualOrderId"]
    _, positions = await client.call("GET", "/fapi/v3/positionRisk", symbol="BTCUSDT")
    assert isinstance(positions, list)
    assert Decimal(positions[0]["positionAmt"]) == 0
    canceled = await client.ok("DELETE", "/fapi/v1/algoOrder", algoId=str(stop["algoId"]))
    assert canceled["algoStatus"] == "CANCELED"
    await client.ok("DELETE", "/fapi/v1/algoOpenOrders", symbol="BTCUSDT")
    _, left = await client.call("GET", "/fapi/v1/openAlgoOrders")
    assert left == []


@pytest.mark.parametrize(
    ("side", "params", "code"),
    [
        ("BUY", {"type": "MARKET", "quantity": "0"}, -4003),
        (
            "BUY",
            {"type": "LIMIT", "timeInForce": "GTC", "quantity": "1001", "price": "60000.00"},
            -4005,
        ),
        ("BUY", {"type": "MARKET", "quantity": "121"}, -4005),  # MARKET_LOT_SIZE is smaller
        (
            "SELL",
            {"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010", "price": "50000.00"},
            -4024,
        ),
        (
            "BUY",
            {"type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010", "price": "500.00"},
            -4013,
        ),
        (
            "BUY",
            {"type": "LIMIT", "timeInForce": "GTC", "quantity": "abc", "price": "60000.00"},
            -1102,
        ),
    ],
)
async def test_more_filter_rejections(
    client: Client, side: str, params: dict[str, str], code: int
) -> None:
    status, body = await client.call(
        "POST",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side=side,
        **params,  # type: ignore[arg-type]
    )
    assert (status, body["code"]) == (400, code)  # type: ignore[index]


async def test_max_open_orders(client: Client, exchange: RunningExchange) -> None:
    bid, _ = await best(client)
    exchange.venue.paused = True
    for k in range(200):
        await client.order(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price=str(bid - 100 - k),
        )
    status, body = await client.call(
        "POST",
        "/fapi/v1/order",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price=str(bid - 400),
    )
    assert (status, body["code"]) == (400, -2025)  # type: ignore[index]
    canceled = await client.ok("DELETE", "/fapi/v1/allOpenOrders", symbol="BTCUSDT")
    assert canceled["code"] == 200


async def test_ack_answers_as_accepted_result_as_final(client: Client) -> None:
    acked = await client.order(side="BUY", type="MARKET", quantity="0.010")
    assert (acked["status"], acked["executedQty"]) == ("NEW", "0")
    final = await client.ok(
        "GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=str(acked["orderId"])
    )
    assert final["status"] == "FILLED"
    result = await client.order(
        side="SELL",
        type="MARKET",
        quantity="0.010",
        newOrderRespType="RESULT",
    )
    assert result["status"] == "FILLED"


async def test_order_events_carry_open_order_notionals(
    client: Client, exchange: RunningExchange
) -> None:
    bid, _ = await best(client)
    key = (await client.ok("POST", "/fapi/v1/listenKey", signed=False))["listenKey"]
    ws_base = exchange.url.replace("http", "ws")
    async with client.http.ws_connect(f"{ws_base}/ws/{key}") as ws:
        await asyncio.sleep(0.05)
        price = bid - 100
        await client.order(
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.020",
            price=str(price),
        )
        event = orjson.loads((await asyncio.wait_for(ws.receive(), 5)).data)
    assert event["o"]["x"] == "NEW"
    assert Decimal(event["o"]["b"]) == price * Decimal("0.020")
    assert Decimal(event["o"]["a"]) == 0


async def test_conditional_orders_trigger_on_mark_price(
    client: Client, exchange: RunningExchange
) -> None:
    await client.order(side="BUY", type="MARKET", quantity="0.010")
    _, premium = await client.call("GET", "/fapi/v1/premiumIndex", signed=False, symbol="BTCUSDT")
    assert isinstance(premium, dict)
    mark = Decimal(premium["markPrice"]).quantize(Decimal("0.1"))
    stop = await client.ok(
        "POST",
        "/fapi/v1/algoOrder",
        algoType="CONDITIONAL",
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        triggerPrice=str(mark - 3),
        closePosition="true",
        workingType="MARK_PRICE",
    )
    # Value drops 10 USD: the index, and so the mark, follows at once; the stop fires.
    exchange.venue.symbols["BTCUSDT"].market.fair -= 100
    for _ in range(100):
        state = await client.ok("GET", "/fapi/v1/algoOrder", algoId=str(stop["algoId"]))
        if state["algoStatus"] != "NEW":
            break
        await asyncio.sleep(0.05)
    assert state["algoStatus"] == "FINISHED"
    _, positions = await client.call("GET", "/fapi/v3/positionRisk", symbol="BTCUSDT")
    assert isinstance(positions, list)
    assert Decimal(positions[0]["positionAmt"]) == 0
