"""HTTP and WebSocket front of the local exchange (aiohttp, one port).

REST under `/fapi/...` (plus the spot stubs clients call at construction), streams under
`/ws`, `/stream` and the routed `/public`, `/market`, `/private` prefixes, and a loopback
admin API under `/admin/...` for tests. Every error is `{"code", "msg"}` JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from hftui.exchange.admin import CONNECTIONS_KEY, FAULTS_KEY
from hftui.exchange.limits import RateLimiter, request_weight
from hftui.exchange.streams import StreamHub, Subscriber, parse_stream
from hftui.exchange.symbols import exchange_info
from hftui.exchange.venue import Venue, now_ms

__all__ = ["build_app"]

log = logging.getLogger(__name__)

_PREFIXES: Final = ("", "/public", "/market", "/private")
_MAX_CONTROL_PER_S: Final = 10
_MAX_STREAMS: Final = 1024  # per connection
# Binance pings every 3 minutes and drops a client silent for 10: the same ratio at any scale.
_PONG_TIMEOUT_PINGS: Final = 10 / 3

VENUE_KEY: Final = web.AppKey("venue", Venue)
HUB_KEY: Final = web.AppKey("hub", StreamHub)
PING_KEY: Final = web.AppKey("ping_interval_s", float)
LIMITER_KEY: Final = web.AppKey("limiter", RateLimiter)
LIFETIME_KEY: Final = web.AppKey("connection_lifetime_s", float)


def error(status: int, code: int, msg: str) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"code": code, "msg": msg}),
        content_type="application/json",
    )


def ok(payload: object) -> web.Response:
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


# ---- REST ----------------------------------------------------------------------------------


async def ping(request: web.Request) -> web.Response:
    return ok({})


async def server_time(request: web.Request) -> web.Response:
    return ok({"serverTime": now_ms()})


async def info(request: web.Request) -> web.Response:
    venue = request.app[VENUE_KEY]
    specs = {name: v.spec for name, v in venue.symbols.items()}
    return ok(exchange_info(tuple(venue.symbols), now_ms(), specs))


async def depth(request: web.Request) -> web.Response:
    venue = request.app[VENUE_KEY]
    symbol = request.query.get("symbol", "")
    if not symbol:
        return error(
            400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
        )
    if symbol not in venue.symbols:
        return error(400, -1121, "Invalid symbol.")
    raw_limit = request.query.get("limit", "500")
    try:
        limit = int(raw_limit)
    except ValueError:
        return error(400, -1130, "Data sent for parameter 'limit' is not valid.")
    if limit > 1000 or limit < 1:
        return error(400, -1130, "Data sent for parameter 'limit' is not valid.")
    if not venue.depth_limit_ok(limit):
        return error(400, -4021, f"{limit} is not valid depth limit")
    return ok(venue.depth(symbol, limit))


async def empty_list(request: web.Request) -> web.Response:
    return ok([])


def _injected(status: int, code: int, retry_after_s: int, remote: str | None) -> web.Response:
    # The venue's own words for each status, so clients see what production would send.
    if status in (418, 429):
        ip = remote or "?"
        msg = (
            f"Way too many requests; IP({ip}) banned until {now_ms() + retry_after_s * 1000}. "
            "Please use the websocket for live updates to avoid bans."
            if status == 418
            else f"Too many requests; current limit of IP({ip}) is 2400 requests per minute. "
            "Please use the websocket for live updates to avoid polling the API."
        )
        response = error(status, code or -1003, msg)
    elif status == 503:
        response = error(
            status,
            code or -1000,
            "Unknown error, please check your request or try again later.",
        )
    else:
        response = error(status, code or (-1000 if status >= 500 else -1001), "Injected fault.")
    if retry_after_s:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


@web.middleware
async def rate_limits(request: web.Request, handler):  # type: ignore[no-untyped-def]
    # REST only: streams and the admin API are not weighed.
    if not request.path.startswith(("/fapi/", "/api/", "/sapi/")):
        return await handler(request)
    faults = request.app[FAULTS_KEY]
    status, delay = faults.take_http_fault(request.method, request.path)
    if delay:
        # Received in full, then held before it is processed, like a request queued inside
        # the venue: a client that gives up meanwhile does not stop it, and its recvWindow
        # is checked when it is processed, so a hold past the window ends in -1021.
        await request.read()  # aiohttp keeps the body for the handler
        await asyncio.sleep(delay)
    if status:
        return _injected(status, faults.http_code, faults.http_retry_after_s, request.remote)
    limiter = request.app[LIMITER_KEY]
    weight = request_weight(request.method, request.path, dict(request.query))
    # Order weight: 1 per new order; a batch counts 5 against 10 s and 1 against the minute.
    orders, orders_1m = 0, 0
    if request.method == "POST" and request.path == "/fapi/v1/order":
        orders, orders_1m = 1, 1
    elif request.method == "POST" and request.path == "/fapi/v1/batchOrders":
        orders, orders_1m = 5, 1
    verdict = limiter.check(
        request.remote or "?", weight, request.headers.get("X-MBX-APIKEY"), orders, orders_1m
    )
    if verdict.status != 200:
        response = error(verdict.status, verdict.code, verdict.msg)
        response.headers["Retry-After"] = str(verdict.retry_after_s)
    else:
        response = await handler(request)
    response.headers.update(verdict.headers)
    return response


@web.middleware
async def json_errors(request: web.Request, handler):  # type: ignore[no-untyped-def]
    # Clients index `code` and `msg` on every error; never let aiohttp answer in HTML.
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPNotFound:
        return error(404, -1000, f"Unknown path {request.path}.")
    except web.HTTPMethodNotAllowed:
        return error(405, -1000, f"Method {request.method} not allowed on {request.path}.")
    except web.HTTPException as exc:  # e.g. a plain GET on a stream path
        if exc.status < 400:
            raise
        return error(exc.status, -1000, exc.reason or "Request refused.")
    return response


# ---- streams -------------------------------------------------------------------------------


def _control_reply(hub: StreamHub, sub: Subscriber, text: str) -> dict[str, object]:
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return {"code": 3, "msg": f"Invalid JSON: {exc}", "id": None}
    if not isinstance(message, dict) or "method" not in message:
        return {"code": 2, "msg": "Invalid request: missing field 'method'", "id": None}
    request_id = message.get("id")
    if isinstance(request_id, dict | list):
        return {"code": 2, "msg": "Invalid request: request ID must be a scalar", "id": None}
    method, params = message["method"], message.get("params", [])
    if not isinstance(params, list):
        return {"code": 2, "msg": "Invalid request: params must be a list", "id": request_id}
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        return _subscription(hub, sub, method, params, request_id)
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": sorted(sub.streams), "id": request_id}
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        return _property(sub, method, params, request_id)
    return {"code": 2, "msg": f"Invalid request: unknown method {method!r}", "id": request_id}


def _subscription(
    hub: StreamHub, sub: Subscriber, method: str, params: list[object], request_id: object
) -> dict[str, object]:
    if not all(isinstance(name, str) for name in params):
        return {"code": 2, "msg": "Invalid request: stream names are strings", "id": request_id}
    if method == "SUBSCRIBE" and len(sub.streams | set(map(str, params))) > _MAX_STREAMS:
        return {
            "code": 2,
            "msg": f"Invalid request: a connection carries at most {_MAX_STREAMS} streams",
            "id": request_id,
        }
    for name in params:
        if method == "SUBSCRIBE":
            hub.subscribe(sub, str(name))
        else:
            hub.unsubscribe(sub, str(name))
    return {"result": None, "id": request_id}


def _property(
    sub: Subscriber, method: str, params: list[object], request_id: object
) -> dict[str, object]:
    if not params or params[0] != "combined":
        return {"code": 0, "msg": "Unknown property", "id": request_id}
    if method == "GET_PROPERTY":
        return {"result": sub.combined, "id": request_id}
    if len(params) != 2 or not isinstance(params[1], bool):
        return {"code": 1, "msg": "Invalid value type: expected Boolean", "id": request_id}
    sub.combined = params[1]
    return {"result": None, "id": request_id}


async def _sender(ws: web.WebSocketResponse, sub: Subscriber) -> None:
    while True:
        item = await sub.queue.get()
        if item is None:
            await ws.close(message=b"too slow")
            return
        frame, not_before = item
        if not_before:
            delay = not_before - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # an injected delay fault
        await ws.send_str(frame)


async def _pinger(
    ws: web.WebSocketResponse, interval_s: float, last_pong: list[float], lifetime_s: float
) -> None:
    opened = time.monotonic()
    while not ws.closed:
        await asyncio.sleep(min(interval_s, max(0.01, opened + lifetime_s - time.monotonic())))
        if time.monotonic() - opened >= lifetime_s:
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"24h connection lifetime reached")
            return
        if time.monotonic() - last_pong[0] > interval_s * _PONG_TIMEOUT_PINGS:
            await ws.close(message=b"no pong")
            return
        with contextlib.suppress(ConnectionResetError):
            await ws.ping()


async def stream(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB_KEY]
    combined = request.path.rstrip("/").endswith("/stream")
    names: list[str] = []
    listen_keys = _listen_keys(request.app)
    if combined:
        names = [n for n in request.query.get("streams", "").split("/") if n]
    else:
        tail = request.match_info.get("tail", "")
        # Any segment that is neither a stream nor a listen key (ccxt's `/public/ws/0`) is
        # just a connection label.
        names = [n for n in tail.split("/") if parse_stream(n) is not None or n in listen_keys]
    # User data by query: `/private/ws?listenKey=...` (a missing `events=` means all events).
    for key in request.query.getall("listenKey", []):
        if key in listen_keys:
            names.append(key)
    if len(set(names)) > _MAX_STREAMS:
        return error(400, -1000, f"A connection carries at most {_MAX_STREAMS} streams.")
    ws = web.WebSocketResponse(autoping=False, max_msg_size=1 << 16)
    await ws.prepare(request)
    connections = request.app[CONNECTIONS_KEY]
    connections.add(ws)
    sub = Subscriber(combined)
    for name in names:
        hub.subscribe(sub, name)
    last_pong = [time.monotonic()]
    sender = asyncio.create_task(_sender(ws, sub))
    pinger = asyncio.create_task(
        _pinger(ws, request.app[PING_KEY], last_pong, request.app[LIFETIME_KEY])
    )
    window_start, count = time.monotonic(), 0
    try:
        async for message in ws:
            if message.type == WSMsgType.PING:
                await ws.pong(message.data)
                continue
            if message.type == WSMsgType.PONG:
                last_pong[0] = time.monotonic()
                continue
            if message.type != WSMsgType.TEXT:
                continue
            now = time.monotonic()
            if now - window_start >= 1.0:
                window_start, count = now, 0
            count += 1
            if count > _MAX_CONTROL_PER_S:
                await ws.close(message=b"too many messages")
                break
            sub.offer(orjson.dumps(_control_reply(hub, sub, message.data)).decode())
    finally:
        connections.discard(ws)
        hub.drop(sub)
        sender.cancel()
        pinger.cancel()
    return ws


def _listen_keys(app: web.Application) -> set[str]:
    from hftui.exchange.private import TRADING_KEY

    trading = app.get(TRADING_KEY)
    if trading is None:
        return set()
    return {a.listen_key for a in trading.accounts.values() if a.listen_key is not None}


def build_app(
    venue: Venue,
    hub: StreamHub,
    ping_interval_s: float,
    limiter: RateLimiter,
    connection_lifetime_s: float,
) -> web.Application:
    """The aiohttp application of one exchange."""
    app = web.Application(middlewares=[json_errors, rate_limits])
    app[LIMITER_KEY] = limiter
    app[LIFETIME_KEY] = connection_lifetime_s
    app[FAULTS_KEY] = hub.faults
    app[CONNECTIONS_KEY] = set()
    app[VENUE_KEY] = venue
    app[HUB_KEY] = hub
    app[PING_KEY] = ping_interval_s
    routes = app.router
    routes.add_get("/fapi/v1/ping", ping)
    routes.add_get("/fapi/v1/time", server_time)
    routes.add_get("/fapi/v1/exchangeInfo", info)
    routes.add_get("/fapi/v1/depth", depth)
    routes.add_get("/api/v3/ping", ping)
    routes.add_get("/api/v3/time", server_time)
    routes.add_get("/sapi/v1/capital/config/getall", empty_list)
    for prefix in _PREFIXES:
        routes.add_get(f"{prefix}/ws", stream)
        routes.add_get(f"{prefix}/ws/{{tail:.*}}", stream)
        routes.add_get(f"{prefix}/stream", stream)
    return app
