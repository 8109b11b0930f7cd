"""The loopback admin API: pause the market and arm faults for tests.

Every endpoint is a POST (GET for reading state) under `/admin/`, answering JSON. The
exchange binds loopback only, so this is reachable from the machine itself and nowhere else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Final

import orjson
from aiohttp import WSCloseCode, web

from hftui.exchange.book import BUY
from hftui.exchange.faults import Faults
from hftui.exchange.venue import Venue

__all__ = ["CONNECTIONS_KEY", "FAULTS_KEY", "add_admin_routes", "close_all"]

FAULTS_KEY: Final = web.AppKey("faults", Faults)
CONNECTIONS_KEY: Final = web.AppKey[set[web.WebSocketResponse]]("connections")
ADMIN_VENUE_KEY: Final = web.AppKey("admin_venue", Venue)
EXPIRE_KEY: Final = web.AppKey[Callable[[], int]]("expire_listen_keys")


def _ok(payload: object) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def _bad(msg: str) -> web.Response:
    return web.Response(
        status=400,
        body=orjson.dumps({"code": -1130, "msg": msg}),
        content_type="application/json",
    )


def _number(request: web.Request, name: str, default: float | None = None) -> float:
    text = request.query.get(name)
    if text is None:
        if default is None:
            raise ValueError(f"parameter {name!r} is required")
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"parameter {name!r} must be a number, got {text!r}") from None
    if value < 0:
        raise ValueError(f"parameter {name!r} must not be negative")
    return value


async def close_all(app: web.Application, message: bytes) -> int:
    """Close every stream connection; returns how many were open."""
    sockets: list[web.WebSocketResponse] = [*app[CONNECTIONS_KEY]]
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=message) for ws in sockets),
        return_exceptions=True,
    )
    return len(sockets)


Action = Callable[[web.Request, Faults], Awaitable[object]]


def _admin(action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        try:
            result = await action(request, request.app[FAULTS_KEY])
        except ValueError as exc:
            return _bad(str(exc))
        return _ok(result)

    return serve


async def _pause(request: web.Request, faults: Faults) -> object:
    request.app[ADMIN_VENUE_KEY].paused = True
    return {"paused": True}


async def _resume(request: web.Request, faults: Faults) -> object:
    request.app[ADMIN_VENUE_KEY].paused = False
    return {"paused": False}


async def _drop(request: web.Request, faults: Faults) -> object:
    return {"closed": await close_all(request.app, b"dropped by fault switch")}


async def _roll(request: web.Request, faults: Faults) -> object:
    # What the 24-hour connection limit does, now.
    return {"closed": await close_all(request.app, b"24h connection lifetime reached")}


async def _stall(request: web.Request, faults: Faults) -> object:
    stream = request.query.get("stream", "")
    seconds = _number(request, "seconds")
    faults.stalled[stream] = time.monotonic() + seconds
    return faults.describe()


async def _delay(request: web.Request, faults: Faults) -> object:
    stream = request.query.get("stream", "")
    faults.delayed[stream] = _number(request, "ms") / 1000
    return faults.describe()


def _symbol(request: web.Request) -> str:
    symbol = request.query.get("symbol", "")
    if symbol not in request.app[ADMIN_VENUE_KEY].symbols:
        raise ValueError(f"unknown symbol {symbol!r}")
    return symbol


async def _gap(request: web.Request, faults: Faults) -> object:
    faults.skip_depth[_symbol(request)] = int(_number(request, "count", 1))
    return faults.describe()


async def _duplicate(request: web.Request, faults: Faults) -> object:
    faults.duplicate_depth[_symbol(request)] = int(_number(request, "count", 1))
    return faults.describe()


async def _corrupt(request: web.Request, faults: Faults) -> object:
    faults.corrupt_depth[_symbol(request)] = int(_number(request, "count", 1))
    return faults.describe()


# The top five bids are in bookTicker and the partial-depth streams, which would give it away.
_MIN_WRONG_RANK: Final = 5


async def _wrong_qty(request: web.Request, faults: Faults) -> object:
    # One diff event that says the bid `rank` levels below the best holds more than it does,
    # while the venue's book keeps the right quantity. The event carries a fresh update id
    # (a change the book never made), so the U/u/pu chain stays intact and nothing but a
    # level-by-level comparison with a snapshot can tell. A real change of that level in the
    # same diff window would overwrite it with the truth: pause the market for a sure effect.
    venue = request.app[ADMIN_VENUE_KEY].symbols[_symbol(request)]
    rank = int(_number(request, "rank", 10))
    book, spec = venue.book, venue.spec
    if rank < _MIN_WRONG_RANK:
        raise ValueError(f"rank must be {_MIN_WRONG_RANK} or more: the top is visible elsewhere")
    if rank >= book.level_count(BUY):
        raise ValueError(f"rank {rank} is past the book's {book.level_count(BUY)} bid levels")
    tick = book.tick_at(BUY, rank)
    true_lots = book.total(BUY, tick)
    sent_lots = true_lots + max(1, true_lots // 2)
    if book.listener is None:
        raise ValueError("the book has no stream listener")
    book.update_id += 1
    book.listener(BUY, tick, sent_lots, book.update_id)
    level: dict[str, object] = {
        "symbol": spec.symbol,
        "side": "bid",
        "rank": rank,
        "price": spec.format_price(tick),
        "qty_sent": spec.format_qty(sent_lots),
        "qty_true": spec.format_qty(true_lots),
        "update_id": book.update_id,
    }
    faults.wrong_levels.append(level)
    return level


async def _http(request: web.Request, faults: Faults) -> object:
    status = int(_number(request, "status", 0))
    if status and not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400-599), or 0 with delay_ms")
    path = request.query.get("path", "")
    if path and not path.startswith("/"):
        raise ValueError("path must be a request path such as /fapi/v1/order")
    method = request.query.get("method", "").upper()
    if method not in ("", "GET", "POST", "PUT", "DELETE"):
        raise ValueError("method must be GET, POST, PUT or DELETE")
    code = request.query.get("code", "0")
    if not code.lstrip("-").isdigit():
        raise ValueError(f"parameter 'code' must be an integer, got {code!r}")
    faults.http_status = status
    faults.http_count = int(_number(request, "count", 1))
    faults.http_delay_s = _number(request, "delay_ms", 0) / 1000
    faults.http_code = int(code)
    faults.http_retry_after_s = int(_number(request, "retry_after", 0))
    faults.http_path = path
    faults.http_method = method
    return faults.describe()


def _amount(request: web.Request, name: str) -> str | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"parameter {name!r} must be a decimal, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"parameter {name!r} must be positive")
    return text


async def _filters(request: web.Request, faults: Faults) -> object:
    # Binance changes filters on a live symbol now and then; a client's cached exchangeInfo
    # is stale until it reloads, and the venue refuses by the new values meanwhile.
    venue = request.app[ADMIN_VENUE_KEY].symbols[_symbol(request)]
    min_notional = _amount(request, "min_notional")
    max_qty = _amount(request, "max_qty")
    if min_notional is None and max_qty is None:
        raise ValueError("give min_notional and/or max_qty")
    venue.spec = dataclasses.replace(
        venue.spec,
        min_notional=min_notional or venue.spec.min_notional,
        max_qty=max_qty or venue.spec.max_qty,
    )
    return {"symbol": venue.spec.symbol, "filters": venue.spec.info()["filters"]}


async def _expire(request: web.Request, faults: Faults) -> object:
    return {"expired": request.app[EXPIRE_KEY]()}


async def _clear(request: web.Request, faults: Faults) -> object:
    faults.clear()
    return faults.describe()


async def _state(request: web.Request, faults: Faults) -> object:
    return faults.describe() | {
        "paused": request.app[ADMIN_VENUE_KEY].paused,
        "connections": len(request.app[CONNECTIONS_KEY]),
    }


def add_admin_routes(
    app: web.Application, venue: Venue, faults: Faults, expire_listen_keys: Callable[[], int]
) -> None:
    app[FAULTS_KEY] = faults
    app[ADMIN_VENUE_KEY] = venue
    app[EXPIRE_KEY] = expire_listen_keys
    r = app.router
    r.add_post("/admin/market/pause", _admin(_pause))
    r.add_post("/admin/market/resume", _admin(_resume))
    r.add_get("/admin/faults", _admin(_state))
    r.add_post("/admin/faults/clear", _admin(_clear))
    r.add_post("/admin/faults/drop", _admin(_drop))
    r.add_post("/admin/faults/roll", _admin(_roll))
    r.add_post("/admin/faults/stall", _admin(_stall))
    r.add_post("/admin/faults/delay", _admin(_delay))
    r.add_post("/admin/faults/depth-gap", _admin(_gap))
    r.add_post("/admin/faults/depth-duplicate", _admin(_duplicate))
    r.add_post("/admin/faults/depth-corrupt", _admin(_corrupt))
    r.add_post("/admin/faults/depth-wrong-qty", _admin(_wrong_qty))
    r.add_post("/admin/faults/http", _admin(_http))
    r.add_post("/admin/faults/expire-listen-keys", _admin(_expire))
    r.add_post("/admin/symbols/filters", _admin(_filters))
