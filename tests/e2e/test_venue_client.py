"""The signed venue client against the local exchange running as a real process.

The exchange applies Binance's limits (2400 weight/min per IP, 300 orders/10 s and 1200/min
per key), so the storm test runs on an exchange of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import aiohttp
import pytest

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.engine.binance.client import Credentials, VenueClient, VenueTimeoutError
from hftui.engine.binance.rest import VenueError
from hftui.engine.instrument import RateLimit
from tests.support.processes import isolated_env, local_exchange

# Asserts wall-clock bounds: run one at a time, never beside another end-to-end test.
pytestmark = [pytest.mark.e2e, pytest.mark.timing]

SYMBOL = "BTCUSDT"
TICK = Decimal("0.10")


@pytest.fixture(scope="module")
def exchange_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("venue-client")
    with local_exchange(isolated_env(home), home, seed=5) as url:
        yield url


async def admin(url: str, path: str) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{url}/admin/{path}") as response:
        assert response.status == 200, await response.text()


@pytest.fixture
async def client(exchange_url: str) -> AsyncIterator[VenueClient]:
    venue = VenueClient(exchange_url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
    await venue.start()
    await admin(exchange_url, "market/pause")  # nothing fills our resting orders meanwhile
    try:
        yield venue
    finally:
        await admin(exchange_url, "faults/clear")
        venue.budget.banned_until = 0.0  # a test that failed mid-block must not stop the cleanup
        await venue.cancel_all(SYMBOL)
        await admin(exchange_url, "market/resume")
        await venue.close()


async def far_bid(client: VenueClient) -> str:
    """A BUY price 3 % under the best bid, on the tick: rests without ever filling."""
    depth = await client.request(
        "GET", "/fapi/v1/depth", {"symbol": SYMBOL, "limit": "5"}, signed=False, weight=2
    )
    assert isinstance(depth, dict)
    bid = Decimal(str(depth["bids"][0][0])) * Decimal("0.97")
    return str((bid / TICK).to_integral_value(ROUND_DOWN) * TICK)


def limit_buy(price: str, client_id: str) -> dict[str, str]:
    return {
        "symbol": SYMBOL,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.010",
        "price": price,
        "newClientOrderId": client_id,
        "newOrderRespType": "RESULT",
    }


async def test_start_measures_the_clock_and_loads_the_limits(client: VenueClient) -> None:
    assert abs(client.offset_ms) < 250  # the same machine's clock
    assert 0 < client.rtt_ms < 1000
    assert isinstance(client.exchange_info.get("symbols"), list)
    assert client.budget.limits == [
        RateLimit("REQUEST_WEIGHT", 60, 2400),
        RateLimit("ORDERS", 60, 1200),
        RateLimit("ORDERS", 10, 300),
    ]
    await client.sync_time()
    assert abs(client.offset_ms) < 250
    assert client.budget.usage()["x-mbx-used-weight-1m"] > 0  # the venue's header counts


async def test_a_resting_order_is_queried_listed_and_canceled(
    client: VenueClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hftui.engine.binance.client")
    price = await far_bid(client)
    order = await client.new_order(limit_buy(price, "vc-rest-1"))
    assert order["status"] == "NEW"
    assert order["clientOrderId"] == "vc-rest-1"
    queried = await client.query_order(SYMBOL, "vc-rest-1")
    assert queried["status"] == "NEW"
    assert queried["orderId"] == order["orderId"]
    assert [o["clientOrderId"] for o in await client.open_orders(SYMBOL)] == ["vc-rest-1"]
    assert [o["clientOrderId"] for o in await client.open_orders()] == ["vc-rest-1"]
    canceled = await client.cancel_order(SYMBOL, "vc-rest-1")
    assert canceled["status"] == "CANCELED"
    assert (await client.query_order(SYMBOL, "vc-rest-1"))["status"] == "CANCELED"
    assert await client.open_orders(SYMBOL) == []
    usage = client.budget.usage()
    assert usage["x-mbx-order-count-10s"] > 0  # corrected from the venue's header
    # Logged with the client id, and never with the secret.
    assert any(getattr(r, "client_id", None) == "vc-rest-1" for r in caplog.records)
    for record in caplog.records:
        assert DEMO_API_SECRET not in str(record.__dict__)


async def test_cancel_all(client: VenueClient) -> None:
    price = Decimal(await far_bid(client))
    for k in range(3):
        await client.new_order(limit_buy(str(price - k * TICK), f"vc-all-{k}"))
    assert len(await client.open_orders(SYMBOL)) == 3
    answer = await client.cancel_all(SYMBOL)
    assert answer["code"] == 200
    assert await client.open_orders(SYMBOL) == []


async def test_a_filter_violation_carries_the_venues_code(client: VenueClient) -> None:
    off_tick = str(Decimal(await far_bid(client)) + Decimal("0.05"))
    with pytest.raises(VenueError) as info:
        await client.new_order(limit_buy(off_tick, "vc-tick"))
    assert (info.value.status, info.value.code) == (400, -4014)
    assert DEMO_API_SECRET not in str(info.value)
    with pytest.raises(VenueError) as unknown:
        await client.query_order(SYMBOL, "vc-never-sent")
    assert unknown.value.code == -2013


async def test_a_duplicate_client_order_id_is_refused(client: VenueClient) -> None:
    price = await far_bid(client)
    await client.new_order(limit_buy(price, "vc-dup"))
    with pytest.raises(VenueError) as info:
        await client.new_order(limit_buy(price, "vc-dup"))
    assert info.value.code == -4116
    assert len(await client.open_orders(SYMBOL)) == 1


async def test_listen_key_countdown_account_and_positions(client: VenueClient) -> None:
    key = await client.listen_key()
    assert len(key) >= 16
    await client.keepalive_listen_key()
    armed = await client.countdown_cancel_all(SYMBOL, 60_000)
    assert armed == {"symbol": SYMBOL, "countdownTime": "60000"}
    assert (await client.countdown_cancel_all(SYMBOL, 0))["countdownTime"] == "0"
    account = await client.account()
    assert "totalWalletBalance" in account
    rows = await client.position_risk()
    assert {row["symbol"] for row in rows} >= {SYMBOL}


async def test_a_skewed_clock_gets_1021_and_is_resynced(client: VenueClient) -> None:
    client.offset_ms -= 60_000  # as if our clock ran a minute ahead of the venue's
    with pytest.raises(VenueError) as info:
        await client.account()
    assert info.value.code == -1021
    assert abs(client.offset_ms) < 250  # measured again
    await client.account()


async def test_server_errors_and_timeouts(exchange_url: str, client: VenueClient) -> None:
    await admin(exchange_url, "faults/http?status=503&count=1")
    with pytest.raises(VenueError) as info:
        await client.query_order(SYMBOL, "vc-any")
    assert info.value.status == 503
    assert not isinstance(info.value, VenueTimeoutError)
    impatient = VenueClient(exchange_url, client.credentials, timeout_s=0.3)
    try:
        await admin(exchange_url, "faults/http?delay_ms=1500&count=1")
        with pytest.raises(VenueTimeoutError):
            await impatient.query_order(SYMBOL, "vc-any")
    finally:
        await impatient.close()
    nobody = VenueClient("http://127.0.0.1:1", None)  # nothing listens on port 1
    try:
        with pytest.raises(VenueError) as refused:
            await nobody.sync_time()
        assert refused.value.status == 0
    finally:
        await nobody.close()


@pytest.mark.parametrize(("status", "ban_s"), [(429, 60.0), (418, 120.0)])
async def test_a_rate_limit_answer_blocks_every_request_without_sending_it(
    exchange_url: str, client: VenueClient, status: int, ban_s: float
) -> None:
    # The injected answer has no Retry-After: the client takes the conservative default.
    await admin(exchange_url, f"faults/http?status={status}&count=1")
    with pytest.raises(VenueError) as info:
        await client.query_order(SYMBOL, "vc-any")
    assert info.value.status == status
    assert ban_s - 1 < client.budget.ban_remaining() <= ban_s
    await admin(exchange_url, "faults/http?status=503&count=1")
    with pytest.raises(VenueError) as refused:
        await client.account()
    assert (refused.value.status, refused.value.code) == (status, -1003)
    assert "not sent" in str(refused.value)
    client.budget.banned_until = 0.0  # lift the block by hand
    with pytest.raises(VenueError) as armed:
        await client.account()
    assert armed.value.status == 503  # the fault was still armed: nothing reached the venue


async def test_a_storm_throttles_itself_and_never_gets_429(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path, seed=6) as url:
        venue = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
        orders: list[asyncio.Task[dict[str, object]]] = []
        reads: list[asyncio.Task[list[dict[str, object]]]] = []
        try:
            await venue.start()
            weight_before = venue.budget.usage()["x-mbx-used-weight-1m"] * 2400
            # Off-tick orders: rejected by the filters, but counted against the order limits,
            # so the storm builds up no open orders. Plus the heaviest read, 40 weight each.
            orders = [
                asyncio.create_task(venue.new_order(limit_buy("60000.05", f"vc-storm-{k}")))
                for k in range(260)
            ]
            reads = [asyncio.create_task(venue.open_orders()) for _ in range(60)]
            fit_orders = 240  # 0.8 x 300 per 10 s
            fit_reads = int((1920 - weight_before) // 40)  # 0.8 x 2400 per minute
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                done_orders = sum(t.done() for t in orders)
                done_reads = sum(t.done() for t in reads)
                if done_orders >= fit_orders and done_reads >= fit_reads:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # whatever else could go, would have gone by now
            finished = [t for t in orders if t.done()]
            assert len(finished) == fit_orders
            assert sum(t.done() for t in reads) == fit_reads
            for order in finished:
                error = order.exception()
                assert isinstance(error, VenueError)
                assert (error.status, error.code) == (400, -4014)  # never 429 or 418
            for read in reads:
                if read.done():
                    assert read.exception() is None
            usage = venue.budget.usage()
            assert usage["x-mbx-order-count-10s"] == pytest.approx(0.8)
            assert 0.75 < usage["x-mbx-used-weight-1m"] <= 0.8
            assert venue.budget.ban_remaining() == 0.0
        finally:
            for pending in [*orders, *reads]:
                pending.cancel()
            await asyncio.gather(*orders, *reads, return_exceptions=True)
            await venue.close()
