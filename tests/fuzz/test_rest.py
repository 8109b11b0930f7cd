"""The REST client against a loopback server answering whatever hypothesis picks: HTML error
pages, truncated JSON, JSON of the wrong shape, Binance error objects with odd fields, empty
bodies, 429/418 with any Retry-After.

The contract: every call returns what its signature says or raises `VenueError` whose message
names the call; a 429/418 blocks the next request without sending it; and live execution, fed
the same answers for its orders and cancels, answers every request once and never fails a task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
import pytest
from aiohttp import web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hftui.config import Config
from hftui.engine.binance.client import Credentials, VenueClient
from hftui.engine.binance.rest import PublicRest, VenueError
from hftui.engine.execution import Execution
from hftui.engine.instrument import parse_instruments
from hftui.engine.intents import Lots, OrderIntent, Ticks
from hftui.exchange.symbols import exchange_info
from hftui.protocol import Event, Mode, OrderType, Side
from tests.fuzz import examples
from tests.fuzz.strategies import json_value

FUZZ = settings(
    max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

ORDER = {
    "orderId": 7,
    "symbol": "BTCUSDT",
    "status": "NEW",
    "clientOrderId": "m1",
    "price": "60000.0",
    "avgPrice": "0.00",
    "origQty": "0.010",
    "executedQty": "0.000",
    "cumQuote": "0.00000",
    "timeInForce": "GTC",
    "type": "LIMIT",
    "reduceOnly": False,
    "side": "BUY",
    "updateTime": 1_700_000_000_000,
}
HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    retry_after: str | None


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(
            ["html", "truncated", "wrong shape", "error", "empty", "bytes", "odd order"]
        )
    )
    if kind == "html":
        return HTML
    if kind == "truncated":
        whole = orjson.dumps(ORDER)
        return whole[: draw(st.integers(1, len(whole) - 1))]
    if kind == "wrong shape":
        return orjson.dumps(draw(json_value))
    if kind == "error":
        code = draw(st.integers(-5000, 0) | json_value)
        return orjson.dumps({"code": code, "msg": draw(json_value)})
    if kind == "empty":
        return b""
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    field = draw(st.sampled_from(sorted(ORDER)))
    return orjson.dumps(ORDER | {field: draw(json_value)})


answers = st.builds(
    Answer,
    status=st.sampled_from([200, 200, 400, 401, 403, 404, 408, 409, 418, 429, 500, 502, 503]),
    body=bodies(),
    content_type=st.sampled_from(["application/json", "text/html", "text/plain"]),
    retry_after=st.none() | st.sampled_from(["1", "0", "-5", "nan", "inf", "soon", "1e9"]),
)


class FuzzVenue:
    """A loopback HTTP server: each path answers as the test says (`answers`), else `default`;
    it counts the requests it saw."""

    def __init__(self, default: Answer) -> None:
        self.default = default
        self.answers: dict[tuple[str, str], Answer] = {}
        self.requests = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        answer = self.answers.get((request.method, request.path), self.default)
        headers = {"Retry-After": answer.retry_after} if answer.retry_after is not None else {}
        return web.Response(
            status=answer.status,
            body=answer.body,
            headers=headers | {"Content-Type": answer.content_type},
        )

    async def __aenter__(self) -> FuzzVenue:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


Call = Callable[[VenueClient], Awaitable[object]]


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _is_rows(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(row, dict) for row in value)


# Each call, the words its errors must carry, and what a success returns.
CALLS: dict[str, tuple[Call, tuple[str, ...], Callable[[object], bool]]] = {
    "new_order": (
        lambda c: c.new_order(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.010",
                "newClientOrderId": "m1",
            }
        ),
        ("/fapi/v1/order",),
        _is_object,
    ),
    "cancel_order": (lambda c: c.cancel_order("BTCUSDT", "m1"), ("/fapi/v1/order",), _is_object),
    "query_order": (lambda c: c.query_order("BTCUSDT", "m1"), ("/fapi/v1/order",), _is_object),
    "cancel_all": (lambda c: c.cancel_all("BTCUSDT"), ("/fapi/v1/allOpenOrders",), _is_object),
    "open_orders": (lambda c: c.open_orders(), ("/fapi/v1/openOrders",), _is_rows),
    "position_risk": (lambda c: c.position_risk(), ("/fapi/v2/positionRisk",), _is_rows),
    "account": (lambda c: c.account(), ("/fapi/v2/account",), _is_object),
    "countdown": (
        lambda c: c.countdown_cancel_all("BTCUSDT", 60_000),
        ("/fapi/v1/countdownCancelAll",),
        _is_object,
    ),
    "listen_key": (
        lambda c: c.listen_key(),
        ("/fapi/v1/listenKey", "listenKey"),
        lambda v: isinstance(v, str) and bool(v),
    ),
    "keepalive": (lambda c: c.keepalive_listen_key(), ("/fapi/v1/listenKey",), lambda v: v is None),
    "sync_time": (lambda c: c.sync_time(), ("/fapi/v1/time", "time:"), lambda v: v is None),
    "start": (lambda c: c.start(), ("/fapi/v1/time", "time:", "exchangeInfo"), lambda v: v is None),
}


async def outcome(call: Awaitable[object]) -> tuple[object, VenueError | None]:
    """What `call` returned, or the VenueError it raised; anything else fails the test."""
    try:
        return await call, None
    except VenueError as exc:
        return None, exc


async def _call(answer: Answer, name: str) -> None:
    call, words, returns = CALLS[name]
    async with FuzzVenue(answer) as venue:
        client = VenueClient(venue.url, Credentials("k" * 64, "s" * 64), timeout_s=3.0)
        try:
            result, error = await outcome(call(client))
            if error is None:
                assert answer.status < 400
                assert returns(result), result
                return
            assert any(w in str(error) for w in words), str(error)
            if answer.status in (418, 429):
                # Blocked: the next request is refused here and never reaches the venue.
                assert error.status == answer.status or "rate limited" in str(error)
                seen = venue.requests
                with pytest.raises(VenueError, match="rate limited"):
                    await call(client)
                assert venue.requests == seen
        finally:
            await client.close()


@FUZZ
@given(answer=answers, name=st.sampled_from(sorted(CALLS)))
@example(
    Answer(500, b'{"code":"-1001","msg":"Internal error"}', "application/json", None), "account"
)
@example(Answer(429, b'{"code":-1003}', "application/json", "soon"), "new_order")
@example(Answer(200, b"[1,2]", "application/json", None), "open_orders")
def test_every_answer_is_a_result_or_a_venue_error(answer: Answer, name: str) -> None:
    asyncio.run(_call(answer, name))


async def _public(answer: Answer, name: str) -> None:
    async with FuzzVenue(answer) as venue:
        rest = PublicRest(venue.url)
        kind: type
        try:
            if name == "exchange_info":
                result, error = await outcome(rest.exchange_info())
                key, kind = "symbols", list
            else:
                result, error = await outcome(rest.depth("BTCUSDT", 1000))
                key, kind = "lastUpdateId", int
        finally:
            await rest.close()
    if error is None:
        assert answer.status < 400
        assert isinstance(result, dict)
        assert isinstance(result.get(key), kind)
    else:
        assert "exchangeInfo" in str(error) or "depth" in str(error), str(error)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=answers, name=st.sampled_from(["exchange_info", "depth"]))
@example(Answer(503, b'{"code":"busy","msg":"later"}', "application/json", None), "depth")
@example(Answer(500, b'{"code":[1],"msg":null}', "application/json", None), "exchange_info")
def test_public_calls_turn_every_answer_into_a_result_or_a_venue_error(
    answer: Answer, name: str
) -> None:
    asyncio.run(_public(answer, name))


# ---- live execution over the same answers ------------------------------------------------

INSTRUMENTS = parse_instruments(exchange_info(("BTCUSDT",), 0), ["BTCUSDT"])


async def _live(place: Answer, cancel: Answer, order_type: OrderType) -> None:
    async with FuzzVenue(place) as venue:
        # A query finds the order as sent, so an unknown outcome settles at once.
        venue.answers[("GET", "/fapi/v1/order")] = Answer(200, b"", "application/json", None)
        venue.answers[("DELETE", "/fapi/v1/order")] = cancel
        events: list[Event] = []
        ex = Execution(Config(), INSTRUMENTS, events.append)
        ex.client = VenueClient(venue.url, Credentials("k" * 64, "s" * 64), timeout_s=3.0)
        failed: list[logging.LogRecord] = []
        catcher = _Catch(failed)
        logging.getLogger("hftui.engine.execution").addHandler(catcher)
        try:
            price = Ticks(600_000 if order_type == OrderType.LIMIT else 0)
            intent = OrderIntent("BTCUSDT", Side.BUY, Lots(10), price, order_type)
            placed: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            outcome = ex.submit(intent, Mode.LIVE, placed.set_result)
            cid = outcome.client_id
            body = orjson.dumps(ORDER | {"clientOrderId": cid, "type": order_type.name})
            venue.answers[("GET", "/fapi/v1/order")] = Answer(200, body, "application/json", None)
            # The answers speak of this order (sent once the loop runs the task).
            mine = b'"clientOrderId":"%s"' % cid.encode()
            for key, answer in (
                (("POST", "/fapi/v1/order"), place),
                (("DELETE", "/fapi/v1/order"), cancel),
            ):
                venue.answers[key] = dataclasses.replace(
                    answer, body=answer.body.replace(b'"clientOrderId":"m1"', mine)
                )
            await asyncio.wait_for(placed, 10)  # answered once, whatever the venue said
            order = ex.tracker.get(cid)
            assert order is not None
            if order.open and cid not in ex._unacked:
                cancelled: asyncio.Future[object] = asyncio.get_running_loop().create_future()
                if ex.cancel(cid, cancelled.set_result).ok:
                    await asyncio.wait_for(cancelled, 10)
            await asyncio.sleep(0)
            assert not failed, [r.getMessage() for r in failed]
        finally:
            logging.getLogger("hftui.engine.execution").removeHandler(catcher)
            for task in list(ex._tasks):
                task.cancel()
            await ex.client.close()


class _Catch(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "execution task failed":
            self.into.append(record)


OK_ORDER = Answer(200, orjson.dumps(ORDER), "application/json", None)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    place=answers | st.just(OK_ORDER),
    cancel=answers,
    order_type=st.sampled_from([OrderType.LIMIT, OrderType.MARKET]),
)
@example(
    OK_ORDER, Answer(200, b'{"code":200,"msg":"ok"}', "application/json", None), OrderType.LIMIT
)
def test_live_orders_and_cancels_are_answered_whatever_the_venue_says(
    place: Answer, cancel: Answer, order_type: OrderType
) -> None:
    asyncio.run(_live(place, cancel, order_type))
