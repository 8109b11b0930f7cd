"""Order round trips per second on the local exchange: signed REST over loopback.

Run: `python benchmarks/bench_orders.py`. One keep-alive client signs and sends a post-only
limit order far from the touch and then cancels it, over and over, waiting for each answer
(what an order manager does). The baseline in the same run is an unsigned `GET /time`, so the
figure shows what signing, validation and matching add to a bare loopback request.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from decimal import Decimal

import aiohttp
import orjson
from yarl import URL

from hftui.engine.binance.auth import encode_params, sign
from hftui.exchange.limits import Limits
from hftui.exchange.main import ExchangeConfig, start

ROUNDS = 400
KEY, SECRET = "bench-key", "bench-secret"


async def _signed(
    http: aiohttp.ClientSession, method: str, url: str, params: dict[str, str]
) -> dict[str, object]:
    payload = encode_params({**params, "timestamp": str(int(time.time() * 1000))})
    payload += "&signature=" + sign(SECRET.encode(), payload)
    async with http.request(
        method, URL(f"{url}?{payload}", encoded=True), headers={"X-MBX-APIKEY": KEY}
    ) as response:
        body = orjson.loads(await response.read())
        if response.status != 200:
            raise RuntimeError(f"{method} refused: {body}")
        return body  # type: ignore[no-any-return]


async def measure(rounds: int = ROUNDS) -> dict[str, float]:
    """Median seconds of an unsigned `GET /time` and of one signed place or cancel."""
    # Limits out of the way: this measures the venue's work, not its throttling.
    limits = Limits(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_minute=10**9)
    running = await start(ExchangeConfig(port=0, accounts=((KEY, SECRET),), limits=limits))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{running.url}/fapi/v1/depth?symbol=BTCUSDT&limit=5") as r:
                bid = Decimal(orjson.loads(await r.read())["bids"][0][0])
            price = str(bid - 500)
            plain: list[float] = []
            for _ in range(rounds):
                started = time.perf_counter()
                async with http.get(f"{running.url}/fapi/v1/time") as r:
                    await r.read()
                plain.append(time.perf_counter() - started)
            round_trips: list[float] = []
            for _ in range(rounds):
                started = time.perf_counter()
                order = await _signed(
                    http,
                    "POST",
                    f"{running.url}/fapi/v1/order",
                    {
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "LIMIT",
                        "timeInForce": "GTX",
                        "quantity": "0.010",
                        "price": price,
                    },
                )
                await _signed(
                    http,
                    "DELETE",
                    f"{running.url}/fapi/v1/order",
                    {"symbol": "BTCUSDT", "orderId": str(order["orderId"])},
                )
                round_trips.append(time.perf_counter() - started)
    finally:
        await running.stop()
    return {"plain_s": statistics.median(plain), "signed_s": statistics.median(round_trips) / 2}


async def main() -> None:
    figures = await measure()
    base, ours = figures["plain_s"], figures["signed_s"]
    print(f"order round trips over loopback, {ROUNDS} place+cancel pairs, one client, medians")
    print(f"{'request':<38} {'ms':>7} {'per second':>11}")
    print(f"{'GET /time, unsigned (baseline)':<38} {base * 1e3:>7.3f} {1 / base:>11.0f}")
    print(f"{'signed place or cancel':<38} {ours * 1e3:>7.3f} {1 / ours:>11.0f}")
    print(f"{'ratio to baseline':<38} {ours / base:>7.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
