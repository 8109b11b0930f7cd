"""An unmodified third-party client, ccxt's `binanceusdm`, trades against the local exchange.

The exchange runs as a real process; ccxt is pointed at it only by URL, as the protocol
reference prescribes for loopback use.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import isolated_env, local_exchange

ccxt = pytest.importorskip("ccxt")

pytestmark = pytest.mark.e2e

KEY, SECRET = "ccxt-key", "ccxt-secret"
BTC = "BTC/USDT:USDT"


def client(base: str, secret: str = SECRET) -> Any:
    exchange = ccxt.binanceusdm(
        {
            "apiKey": KEY,
            "secret": secret,
            "options": {"fetchCurrencies": False, "warnOnFetchOpenOrdersWithoutSymbol": False},
        }
    )
    for section, path in {
        "fapiPublic": "/fapi/v1",
        "fapiPublicV2": "/fapi/v2",
        "fapiPublicV3": "/fapi/v3",
        "fapiPrivate": "/fapi/v1",
        "fapiPrivateV2": "/fapi/v2",
        "fapiPrivateV3": "/fapi/v3",
        "fapiData": "/futures/data",
    }.items():
        exchange.urls["api"][section] = base + path
    return exchange


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("ccxt")
    env = isolated_env(tmp)
    with local_exchange(env, tmp, seed=21, accounts=[f"{KEY}:{SECRET}"]) as url:
        yield url


def test_whole_order_lifecycle(venue: str) -> None:
    ex = client(venue)
    markets = ex.load_markets()
    assert BTC in markets
    assert markets[BTC]["precision"]["price"] == 0.1
    assert markets[BTC]["limits"]["cost"]["min"] == 100
    book = ex.fetch_order_book(BTC, 5)
    best_bid, best_ask = book["bids"][0][0], book["asks"][0][0]
    assert best_bid < best_ask
    assert book["nonce"] > 0
    assert ex.fetch_balance()["USDT"]["total"] == 100000
    assert ex.set_leverage(10, BTC)["leverage"] == 10

    resting = ex.create_order(BTC, "limit", "buy", 0.01, best_bid - 100)
    assert resting["status"] == "open"
    assert [o["id"] for o in ex.fetch_open_orders(BTC)] == [resting["id"]]
    assert ex.fetch_order(resting["id"], BTC)["status"] == "open"
    assert ex.cancel_order(resting["id"], BTC)["status"] == "canceled"
    assert ex.fetch_open_orders(BTC) == []

    bought = ex.create_order(BTC, "market", "buy", 0.02)
    assert bought["status"] == "closed"
    assert bought["filled"] == 0.02
    positions = [p for p in ex.fetch_positions([BTC]) if p["contracts"]]
    assert len(positions) == 1
    assert positions[0]["side"] == "long"
    assert positions[0]["contracts"] == 0.02
    assert positions[0]["entryPrice"] == bought["average"]
    trades = ex.fetch_my_trades(BTC)
    assert sum(t["amount"] for t in trades) == pytest.approx(0.02)
    assert all(t["fee"]["cost"] > 0 for t in trades)

    closed = ex.create_order(BTC, "market", "sell", 0.02, params={"reduceOnly": True})
    assert closed["status"] == "closed"
    assert [p for p in ex.fetch_positions([BTC]) if p["contracts"]] == []


def test_error_paths(venue: str) -> None:
    ex = client(venue)
    ex.load_markets()
    book = ex.fetch_order_book(BTC, 5)
    bid, ask = book["bids"][0][0], book["asks"][0][0]
    # ccxt rounds prices to the tick itself, so the raw endpoint method sends an off-tick one.
    with pytest.raises(ccxt.BadRequest, match="-4014"):
        ex.fapiPrivatePostOrder(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.010",
                "price": f"{bid - 50:.1f}5",
            }
        )
    with pytest.raises(ccxt.AuthenticationError):
        client(venue, secret="not-the-secret").fetch_balance()
    ex.create_order(BTC, "limit", "buy", 0.01, bid - 80, params={"clientOrderId": "dup-1"})
    with pytest.raises(ccxt.ExchangeError, match="-4116"):
        ex.create_order(BTC, "limit", "buy", 0.01, bid - 80, params={"clientOrderId": "dup-1"})
    ex.cancel_all_orders(BTC)
    with pytest.raises(ccxt.ExchangeError, match="-2022"):
        ex.create_order(BTC, "market", "sell", 0.01, params={"reduceOnly": True})
    with pytest.raises(ccxt.InvalidOrder, match="-5022"):
        ex.create_order(BTC, "limit", "buy", 0.01, ask + 10, params={"postOnly": True})
    assert ex.fetch_open_orders(BTC) == []


def test_batch_create_and_cancel(venue: str) -> None:
    ex = client(venue)
    ex.load_markets()
    bid = ex.fetch_order_book(BTC, 5)["bids"][0][0]
    orders = ex.create_orders(
        [
            {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.01, "price": bid - 90},
            {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.01, "price": bid - 91},
        ]
    )
    assert [o["status"] for o in orders] == ["open", "open"]
    canceled = ex.cancel_orders([o["id"] for o in orders], BTC)
    assert [o["status"] for o in canceled] == ["canceled", "canceled"]
    assert ex.fetch_open_orders(BTC) == []
    ticker = ex.fetch_ticker(BTC)
    assert ticker["last"] > 0
    assert ex.fetch_trades(BTC, limit=5)
    assert ex.fetch_ohlcv(BTC, "1m", limit=2)
    assert ex.fetch_funding_rate(BTC)["markPrice"] > 0
