"""Signed REST endpoints of the local exchange: orders, account, settings, listen keys.

Each handler authenticates exactly as Binance does (see `auth.py`), then calls `Trading` or
reads the account. Views of balances and positions are built here, in the field sets the
reference lists for v2 and v3.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Final

import orjson
from aiohttp import web

from hftui.exchange.accounts import MAKER_FEE, TAKER_FEE, Account
from hftui.exchange.algo import AlgoService
from hftui.exchange.auth import Credentials, verify
from hftui.exchange.errors import VenueError
from hftui.exchange.trading import Trading
from hftui.exchange.venue import now_ms

__all__ = ["TRADING_KEY", "add_private_routes"]

TRADING_KEY: Final = web.AppKey("trading", Trading)

Handler = Callable[[Trading, Account, dict[str, str]], object]


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


def _keys(trading: Trading) -> dict[str, Credentials]:
    return {k: Credentials(k, a.secret) for k, a in trading.accounts.items()}


def endpoint(
    handler: Handler, signed: bool = True
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap a handler with authentication and the venue's error format."""

    async def serve(request: web.Request) -> web.Response:
        trading = request.app[TRADING_KEY]
        body = (await request.read()).decode("utf-8", errors="replace")
        try:
            signed_request = verify(
                request.headers,
                request.rel_url.raw_query_string,
                body,
                _keys(trading),
                now_ms(),
                signed=signed,
            )
            account = trading.accounts[signed_request.api_key]
            return _json(handler(trading, account, signed_request.params))
        except VenueError as exc:
            return _json({"code": exc.code, "msg": exc.msg}, exc.status)

    return serve


def _text(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.00000001")), "f")


def _unrealized(trading: Trading, account: Account, symbol: str) -> Decimal:
    position = account.position(symbol)
    if not position.amount:
        return Decimal(0)
    mark = trading.mark_price(trading.venue.symbols[symbol])
    return (mark - position.entry_price) * position.amount


def _position_view(trading: Trading, account: Account, symbol: str) -> dict[str, object]:
    position = account.position(symbol)
    mark = trading.mark_price(trading.venue.symbols[symbol])
    leverage = account.leverage_of(symbol)
    notional = mark * position.amount
    initial = abs(notional) / leverage
    return {
        "symbol": symbol,
        "positionSide": "BOTH",
        "positionAmt": _text(position.amount),
        "entryPrice": _text(position.entry_price),
        "breakEvenPrice": _text(position.entry_price),
        "markPrice": _text(mark),
        "unRealizedProfit": _text(_unrealized(trading, account, symbol)),
        "liquidationPrice": "0",
        "isolatedMargin": "0",
        "notional": _text(notional),
        "marginAsset": "USDT",
        "isolatedWallet": "0",
        "initialMargin": _text(initial),
        "maintMargin": _text(abs(notional) * Decimal("0.004")),
        "positionInitialMargin": _text(initial),
        "openOrderInitialMargin": "0",
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "leverage": str(leverage),
        "marginType": "cross",
        "isAutoAddMargin": "false",
        "maxNotionalValue": "1000000",
        "updateTime": position.update_ms,
    }


def position_risk(trading: Trading, account: Account, params: dict[str, str]) -> object:
    symbols = [params["symbol"]] if params.get("symbol") else list(trading.venue.symbols)
    for symbol in symbols:
        if symbol not in trading.venue.symbols:
            raise VenueError(400, -1121, "Invalid symbol.")
    return [_position_view(trading, account, s) for s in symbols]


def _totals(trading: Trading, account: Account) -> dict[str, Decimal]:
    unrealized = sum((_unrealized(trading, account, s) for s in account.positions), Decimal(0))
    initial = Decimal(0)
    for symbol, position in account.positions.items():
        mark = trading.mark_price(trading.venue.symbols[symbol])
        initial += abs(mark * position.amount) / account.leverage_of(symbol)
    available = account.wallet + unrealized - initial
    return {
        "wallet": account.wallet,
        "unrealized": unrealized,
        "initial": initial,
        "available": available,
    }


def account_info(trading: Trading, account: Account, params: dict[str, str]) -> object:
    t = _totals(trading, account)
    asset = {
        "asset": "USDT",
        "walletBalance": _text(t["wallet"]),
        "unrealizedProfit": _text(t["unrealized"]),
        "marginBalance": _text(t["wallet"] + t["unrealized"]),
        "maintMargin": "0",
        "initialMargin": _text(t["initial"]),
        "positionInitialMargin": _text(t["initial"]),
        "openOrderInitialMargin": "0",
        "crossWalletBalance": _text(t["wallet"]),
        "crossUnPnl": _text(t["unrealized"]),
        "availableBalance": _text(t["available"]),
        "maxWithdrawAmount": _text(t["available"]),
        "marginAvailable": True,
        # ccxt skips an asset whose updateTime is 0.
        "updateTime": account.update_ms or now_ms(),
    }
    positions = [
        {
            key: view[key]
            for key in (
                "symbol",
                "positionSide",
                "positionAmt",
                "isolatedMargin",
                "notional",
                "isolatedWallet",
                "initialMargin",
                "maintMargin",
                "updateTime",
                "leverage",
                "entryPrice",
            )
        }
        | {"unrealizedProfit": view["unRealizedProfit"], "isolated": False}
        for view in (_position_view(trading, account, s) for s in trading.venue.symbols)
    ]
    return {
        "feeTier": 0,
        "feeBurn": False,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
        "totalInitialMargin": _text(t["initial"]),
        "totalMaintMargin": "0",
        "totalWalletBalance": _text(t["wallet"]),
        "totalUnrealizedProfit": _text(t["unrealized"]),
        "totalMarginBalance": _text(t["wallet"] + t["unrealized"]),
        "totalPositionInitialMargin": _text(t["initial"]),
        "totalOpenOrderInitialMargin": "0",
        "totalCrossWalletBalance": _text(t["wallet"]),
        "totalCrossUnPnl": _text(t["unrealized"]),
        "availableBalance": _text(t["available"]),
        "maxWithdrawAmount": _text(t["available"]),
        "assets": [asset],
        "positions": positions,
    }


def balance(trading: Trading, account: Account, params: dict[str, str]) -> object:
    t = _totals(trading, account)
    return [
        {
            "accountAlias": "hftuiLocal",
            "asset": "USDT",
            "balance": _text(t["wallet"]),
            "crossWalletBalance": _text(t["wallet"]),
            "crossUnPnl": _text(t["unrealized"]),
            "availableBalance": _text(t["available"]),
            "maxWithdrawAmount": _text(t["available"]),
            "marginAvailable": True,
            "updateTime": account.update_ms or now_ms(),
        }
    ]


def leverage(trading: Trading, account: Account, params: dict[str, str]) -> object:
    symbol = trading.symbol_of(params).spec.symbol
    text = params.get("leverage", "")
    if not text:
        raise VenueError.mandatory("leverage")
    if not text.isdigit() or not 1 <= int(text) <= 125:
        raise VenueError(400, -4028, f"Leverage {text} is not valid")
    account.leverage[symbol] = int(text)
    return {"leverage": int(text), "maxNotionalValue": "1000000", "symbol": symbol}


def margin_type(trading: Trading, account: Account, params: dict[str, str]) -> object:
    trading.symbol_of(params)
    kind = params.get("marginType", "")
    if kind == "CROSSED":
        raise VenueError(400, -4046, "No need to change margin type.")
    if kind == "ISOLATED":
        # Isolated margin is not simulated: refused plainly rather than faked.
        raise VenueError(400, -4047, "Isolated margin is not supported by the local exchange.")
    raise VenueError.invalid("marginType")


def position_mode(trading: Trading, account: Account, params: dict[str, str]) -> object:
    if "dualSidePosition" not in params:
        return {"dualSidePosition": False}
    value = params["dualSidePosition"].lower()
    if value == "false":
        raise VenueError(400, -4059, "No need to change position side.")
    if value == "true":
        raise VenueError(400, -4059, "Hedge mode is not supported by the local exchange.")
    raise VenueError.invalid("dualSidePosition")


def commission(trading: Trading, account: Account, params: dict[str, str]) -> object:
    symbol = trading.symbol_of(params).spec.symbol
    return {
        "symbol": symbol,
        "makerCommissionRate": str(MAKER_FEE),
        "takerCommissionRate": str(TAKER_FEE),
    }


def brackets(trading: Trading, account: Account, params: dict[str, str]) -> object:
    def one(symbol: str) -> dict[str, object]:
        return {
            "symbol": symbol,
            "notionalCoef": 1.0,
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": 125,
                    "notionalCap": 1_000_000,
                    "notionalFloor": 0,
                    "maintMarginRatio": 0.004,
                    "cum": 0.0,
                }
            ],
        }

    if params.get("symbol"):
        return one(trading.symbol_of(params).spec.symbol)
    return [one(s) for s in trading.venue.symbols]


def listen_key_new(trading: Trading, account: Account, params: dict[str, str]) -> object:
    return {"listenKey": account.new_listen_key(now_ms(), trading.listen_key_lifetime_ms)}


def listen_key_keepalive(trading: Trading, account: Account, params: dict[str, str]) -> object:
    if account.listen_key is None or now_ms() >= account.listen_key_expires_ms:
        raise VenueError(400, -1125, "This listenKey does not exist.")
    account.listen_key_expires_ms = now_ms() + trading.listen_key_lifetime_ms
    return {"listenKey": account.listen_key}


def listen_key_close(trading: Trading, account: Account, params: dict[str, str]) -> object:
    account.listen_key = None
    account.listen_key_expires_ms = 0
    return {}


_COUNTDOWNS: Final = web.AppKey[dict[tuple[str, str], asyncio.TimerHandle]]("countdowns")


def countdown_cancel_all(
    countdowns: dict[tuple[str, str], asyncio.TimerHandle],
) -> Handler:
    """`POST /fapi/v1/countdownCancelAll`: cancel the symbol's open orders unless the client
    calls again within `countdownTime` ms; 0 disarms."""

    def handle(trading: Trading, account: Account, params: dict[str, str]) -> object:
        symbol = trading.symbol_of(params).spec.symbol
        text = params.get("countdownTime", "")
        if not text:
            raise VenueError.mandatory("countdownTime")
        if not text.isdigit():
            raise VenueError.invalid("countdownTime")
        slot = (account.api_key, symbol)
        previous = countdowns.pop(slot, None)
        if previous is not None:
            previous.cancel()
        millis = int(text)
        if millis:

            def fire() -> None:
                countdowns.pop(slot, None)
                trading.cancel_all(account, {"symbol": symbol})

            countdowns[slot] = asyncio.get_running_loop().call_later(millis / 1000, fire)
        return {"symbol": symbol, "countdownTime": text}

    return handle


def add_private_routes(app: web.Application, trading: Trading, algo: AlgoService) -> None:
    """Register every signed and user-stream endpoint."""
    app[TRADING_KEY] = trading
    r = app.router
    r.add_post("/fapi/v1/order", endpoint(lambda t, a, p: t.new_order(a, p)))
    r.add_get("/fapi/v1/order", endpoint(lambda t, a, p: t.query(a, p)))
    r.add_delete("/fapi/v1/order", endpoint(lambda t, a, p: t.cancel(a, p)))
    r.add_get("/fapi/v1/openOrder", endpoint(lambda t, a, p: t.open_order(a, p)))
    r.add_get("/fapi/v1/openOrders", endpoint(lambda t, a, p: t.open_orders(a, p)))
    r.add_get("/fapi/v1/allOrders", endpoint(lambda t, a, p: t.all_orders(a, p)))
    r.add_delete("/fapi/v1/allOpenOrders", endpoint(lambda t, a, p: t.cancel_all(a, p)))
    r.add_get("/fapi/v1/userTrades", endpoint(lambda t, a, p: t.user_trades(a, p)))
    r.add_post("/fapi/v1/batchOrders", endpoint(lambda t, a, p: t.batch_new(a, p)))
    r.add_post("/fapi/v1/algoOrder", endpoint(lambda t, a, p: algo.place(a, p)))
    r.add_get("/fapi/v1/algoOrder", endpoint(lambda t, a, p: algo.query(a, p)))
    r.add_delete("/fapi/v1/algoOrder", endpoint(lambda t, a, p: algo.cancel(a, p)))
    r.add_get("/fapi/v1/openAlgoOrders", endpoint(lambda t, a, p: algo.open_orders(a, p)))
    r.add_delete("/fapi/v1/algoOpenOrders", endpoint(lambda t, a, p: algo.cancel_all(a, p)))
    r.add_delete("/fapi/v1/batchOrders", endpoint(lambda t, a, p: t.batch_cancel(a, p)))
    for version in ("v2", "v3"):
        r.add_get(f"/fapi/{version}/account", endpoint(account_info))
        r.add_get(f"/fapi/{version}/balance", endpoint(balance))
        r.add_get(f"/fapi/{version}/positionRisk", endpoint(position_risk))
    r.add_post("/fapi/v1/leverage", endpoint(leverage))
    r.add_post("/fapi/v1/marginType", endpoint(margin_type))
    r.add_get("/fapi/v1/positionSide/dual", endpoint(position_mode))
    r.add_post("/fapi/v1/positionSide/dual", endpoint(position_mode))
    r.add_get("/fapi/v1/commissionRate", endpoint(commission))
    r.add_get("/fapi/v1/leverageBracket", endpoint(brackets))
    app[_COUNTDOWNS] = {}
    r.add_post("/fapi/v1/countdownCancelAll", endpoint(countdown_cancel_all(app[_COUNTDOWNS])))
    r.add_post("/fapi/v1/listenKey", endpoint(listen_key_new, signed=False))
    r.add_put("/fapi/v1/listenKey", endpoint(listen_key_keepalive, signed=False))
    r.add_delete("/fapi/v1/listenKey", endpoint(listen_key_close, signed=False))
