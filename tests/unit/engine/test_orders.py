"""The order state machine and its venue parsers: payloads shaped exactly as the local exchange
writes them, the usual lifecycles, and (hypothesis) that any arrival order of an order's REST
answers and stream events, duplicates included, converges to the same end state."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.instrument import parse_instruments
from hftui.engine.intents import ClientId, Lots, OrderIntent, Ticks, VenueUpdate
from hftui.engine.orders import (
    Fill,
    OrderEvent,
    OrderTracker,
    update_from_rest,
    update_from_stream,
)
from hftui.exchange.accounts import money_text
from hftui.exchange.symbols import exchange_info
from hftui.protocol import OrderStatus, Side, TimeInForce

INSTRUMENTS = parse_instruments(exchange_info(("BTCUSDT", "ETHUSDT"), 0), ["BTCUSDT", "ETHUSDT"])
BTC = INSTRUMENTS["BTCUSDT"]  # tick 0.10 (2 price decimals), step 0.001
ETH = INSTRUMENTS["ETHUSDT"]
CID = ClientId("m-t1-1")
OID = 4053841112

NEW, PART, FILLED = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED
CANCELED, EXPIRED, REJECTED = OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED
PENDING_NEW, PENDING_CANCEL = OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL
TERMINAL_KINDS = {"filled", "canceled", "expired", "rejected"}


def _price(ticks: int) -> str:
    return money_text(Decimal(ticks * BTC.tick_units).scaleb(-BTC.price_decimals))


def _qty(lots: int) -> str:
    return money_text(Decimal(lots * BTC.lot_units).scaleb(-BTC.qty_decimals))


def rest(
    status: str, executed: int = 0, avg: str = "0", cid: str = CID, **extra: object
) -> dict[str, object]:
    """An order object as the local exchange's `order_object` writes it (new/query/cancel)."""
    body: dict[str, object] = {
        "orderId": OID,
        "symbol": "BTCUSDT",
        "status": status,
        "clientOrderId": cid,
        "price": "64000",
        "avgPrice": avg,
        "origQty": "0.01",
        "executedQty": _qty(executed),
        "cumQty": _qty(executed),
        "cumQuote": "0",
        "timeInForce": "GTC",
        "type": "LIMIT",
        "origType": "LIMIT",
        "reduceOnly": False,
        "closePosition": False,
        "side": "BUY",
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
        "updateTime": 1_700_000_000_123,
    }
    body.update(extra)
    return body


def stream(
    x: str,
    status: str,
    z: int = 0,
    ap: str = "0",
    *,
    last: int = 0,
    price: int = 0,
    trade_id: int = 0,
    fee: str = "0",
    maker: bool = False,
    er: str = "0",
) -> dict[str, object]:
    """The `o` of an ORDER_TRADE_UPDATE as the local exchange's `publish_order_event` writes it."""
    return {
        "s": "BTCUSDT",
        "c": CID,
        "S": "BUY",
        "o": "LIMIT",
        "f": "GTC",
        "q": "0.01",
        "p": "64000",
        "ap": ap,
        "sp": "0",
        "x": x,
        "X": status,
        "i": OID,
        "l": _qty(last),
        "z": _qty(z),
        "L": _price(price),
        "N": "USDT",
        "n": fee,
        "T": 1_700_000_000_200,
        "t": trade_id,
        "b": "0",
        "a": "0",
        "m": maker,
        "R": False,
        "wt": "CONTRACT_PRICE",
        "ot": "LIMIT",
        "ps": "BOTH",
        "cp": False,
        "rp": "0",
        "pP": False,
        "si": 0,
        "ss": 0,
        "V": "NONE",
        "pm": "NONE",
        "gtd": 0,
        "er": er,
    }


def s(o: dict[str, object]) -> VenueUpdate:
    return update_from_stream(o, 1_700_000_000_201, BTC)


def r(payload: dict[str, object]) -> VenueUpdate:
    return update_from_rest(payload, BTC)


def tracker(qty: int = 10, tif: TimeInForce = TimeInForce.GTC) -> OrderTracker:
    t = OrderTracker(lambda: 1)
    t.submit(CID, OrderIntent("BTCUSDT", Side.BUY, Lots(qty), Ticks(640_000), tif=tif))
    return t


def kinds(events: list[OrderEvent]) -> list[str]:
    return [e.kind for e in events]


# ---- parsing --------------------------------------------------------------------------------


def test_rest_result_of_a_filled_order() -> None:
    u = r(rest("FILLED", 10, "64012.3"))
    assert (u.client_id, u.symbol, u.status, u.venue_order_id) == (CID, "BTCUSDT", FILLED, OID)
    assert (u.filled, u.avg_price, u.update_ms) == (10, 6_401_230, 1_700_000_000_123)
    assert (u.last_qty, u.trade_id) == (0, 0)  # REST carries totals, never trades


def test_rest_ack_is_new_with_nothing_filled() -> None:
    assert (r(rest("NEW")).status, r(rest("NEW")).filled, r(rest("NEW")).avg_price) == (NEW, 0, 0)
    bare = {"orderId": OID, "symbol": "BTCUSDT", "status": "NEW", "clientOrderId": CID}
    u = r(bare)  # an ACK trimmed to the essentials still parses
    assert (u.status, u.filled, u.venue_order_id, u.update_ms) == (NEW, 0, OID, 0)


def test_rest_average_off_the_tick_rounds_half_up_and_expired_in_match_is_expired() -> None:
    assert r(rest("PARTIALLY_FILLED", 3, "64000.105")).avg_price == 6_400_011
    assert r(rest("EXPIRED_IN_MATCH", 3, "64000.104")).status == EXPIRED


def test_stream_new_trade_and_expiry() -> None:
    u = s(stream("NEW", "NEW"))
    assert (u.status, u.filled, u.last_qty, u.trade_id, u.fee) == (NEW, 0, 0, 0, 0.0)
    assert (u.venue_order_id, u.update_ms, u.reason) == (OID, 1_700_000_000_200, "")
    trade = stream(
        "TRADE", "PARTIALLY_FILLED", 3, "64000.1", last=3, price=640_001, trade_id=77,
        fee="0.0128", maker=True,
    )  # fmt: skip
    u = s(trade)
    assert (u.status, u.filled, u.avg_price) == (PART, 3, 6_400_010)
    assert (u.last_qty, u.last_price, u.trade_id, u.fee, u.maker) == (3, 640_001, 77, 0.0128, True)
    u = s(stream("EXPIRED", "EXPIRED", 3, "64000.1", er="2"))
    assert (u.status, u.last_qty, u.trade_id, u.reason) == (EXPIRED, 0, 0, "IOC remainder expired")
    no_time = {k: v for k, v in stream("NEW", "NEW").items() if k != "T"}
    assert update_from_stream(no_time, 5, BTC).update_ms == 5


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({k: v for k, v in rest("NEW").items() if k != "status"}, "'status'"),
        ({k: v for k, v in rest("NEW").items() if k != "clientOrderId"}, "'clientOrderId'"),
        ({k: v for k, v in rest("NEW").items() if k != "symbol"}, "'symbol'"),
        (rest("NEW", symbol="ETHUSDT"), "'symbol'"),
        (rest("WEIRD"), "'status': unknown status"),
        (rest("NEW", orderId="12"), "'orderId'"),
        (rest("NEW", orderId=True), "'orderId'"),
        (rest("NEW", updateTime=-1), "'updateTime'"),
        (rest("FILLED", executedQty=0.01), "'executedQty'"),
        (rest("FILLED", executedQty="0.0005"), "'executedQty'"),
        (rest("FILLED", executedQty="1e-3"), "'executedQty'"),
        (rest("FILLED", 3, avgPrice="abc"), "'avgPrice'"),
        (rest("NEW", clientOrderId=None), "'clientOrderId'"),
    ],
)
def test_malformed_rest_payloads_name_the_field(payload: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        r(payload)


def _trade() -> dict[str, object]:
    return stream("TRADE", "PARTIALLY_FILLED", 3, "64000", last=3, price=640_000, trade_id=9)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"z": None}, "'z'"),
        ({"X": "WEIRD"}, "'X': unknown status"),
        ({"x": 5}, "'x'"),
        ({"c": 12}, "'c'"),
        ({"s": "ETHUSDT"}, "'s'"),
        ({"t": 0}, "'t'"),
        ({"t": "9"}, "'t'"),
        ({"l": "0.0001"}, "'l'"),
        ({"L": "64000.05"}, "'L'"),  # off the 0.10 tick
        ({"n": "abc"}, "'n'"),
        ({"n": "nan"}, "'n'"),
        ({"m": "true"}, "'m'"),
        ({"i": 1.5}, "'i'"),
        ({"ap": "-1"}, "'ap'"),
    ],
)
def test_malformed_stream_payloads_name_the_field(change: dict[str, object], field: str) -> None:
    o = {**_trade(), **change}
    for key, value in change.items():
        if value is None:
            del o[key]
    with pytest.raises(ValueError, match=field):
        s(o)


def test_a_payload_that_is_not_an_object_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not an object"):
        update_from_rest([], BTC)  # type: ignore[arg-type]


_JSON = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([rest("FILLED", 3, "64000.1"), _trade()]),
    st.dictionaries(
        st.sampled_from(["status", "executedQty", "avgPrice", "orderId", "z", "l", "L", "t", "n",
                         "m", "ap", "X", "x", "T", "er", "symbol", "s"]),
        _JSON | st.lists(_JSON, max_size=2),
        max_size=4,
    ),
)  # fmt: skip
def test_any_garbled_payload_raises_value_error_or_parses(
    base: dict[str, object], change: dict[str, object]
) -> None:
    payload = {**base, **change}
    try:
        update = r(payload) if "clientOrderId" in base else s(payload)
    except ValueError:
        return
    assert update.filled >= 0
    assert update.last_qty >= 0


# ---- lifecycles -----------------------------------------------------------------------------


def test_new_partial_filled() -> None:
    t = tracker(10)
    order = t.get(CID)
    assert order is not None
    assert (order.status, order.remaining) == (PENDING_NEW, 10)
    assert kinds(t.apply(s(stream("NEW", "NEW")))) == ["accepted"]
    assert order.venue_order_id == OID
    one = stream(
        "TRADE", "PARTIALLY_FILLED", 4, "64000", last=4, price=640_000, trade_id=1, fee="0.1"
    )
    events = t.apply(s(one))
    assert kinds(events) == ["fill", "partially_filled"]
    assert events[0].fill == Fill(
        CID, "BTCUSDT", Side.BUY, Lots(4), Ticks(640_000), 0.1, False, 1, "manual",
        1_700_000_000_200,
    )  # fmt: skip
    two = stream(
        "TRADE", "FILLED", 10, "64000.6", last=6, price=640_010, trade_id=2, fee="0.2", maker=True
    )
    assert kinds(t.apply(s(two))) == ["fill", "filled"]
    assert (order.status, order.filled, order.avg_price) == (FILLED, 10, 6_400_060)
    assert not order.open
    assert order.fee == pytest.approx(0.3)
    assert order.remaining == 0
    assert t.apply(s(two)) == []
    assert t.apply(r(rest("FILLED", 10, "64000.6"))) == []
    assert t.open_orders() == []


def test_new_cancel_requested_canceled() -> None:
    t = tracker()
    t.apply(r(rest("NEW")))
    assert kinds(t.request_cancel(CID)) == ["cancel_requested"]
    assert t.request_cancel(CID) == []  # once is enough
    order = t.get(CID)
    assert order is not None
    assert order.status == PENDING_CANCEL
    assert order.open
    assert t.apply(s(stream("NEW", "NEW"))) == []  # a late NEW says nothing new
    events = t.apply(r(rest("CANCELED")))
    assert kinds(events) == ["canceled"]
    assert events[0].status == CANCELED
    assert t.apply(s(stream("CANCELED", "CANCELED"))) == []
    assert t.request_cancel(CID) == []
    assert t.open_orders() == []


def test_a_partial_fill_during_a_cancel_keeps_the_flag_then_cancels() -> None:
    t = tracker()
    t.apply(s(stream("NEW", "NEW")))
    t.request_cancel(CID)
    part = stream("TRADE", "PARTIALLY_FILLED", 3, "64000", last=3, price=640_000, trade_id=5)
    events = t.apply(s(part))
    assert kinds(events) == ["fill", "partially_filled"]
    assert events[-1].status == PENDING_CANCEL  # still being cancelled
    order = t.get(CID)
    assert order is not None
    assert order.cancel_requested
    assert kinds(t.apply(s(stream("CANCELED", "CANCELED", 3, "64000")))) == ["canceled"]
    assert (order.status, order.filled, order.remaining) == (CANCELED, 3, 7)


def test_a_fill_racing_a_cancel_ends_filled_whichever_answer_comes_first() -> None:
    full = s(stream("TRADE", "FILLED", 10, "64000", last=10, price=640_000, trade_id=8))
    for first_canceled in (True, False):
        t = tracker()
        t.apply(r(rest("NEW")))
        t.request_cancel(CID)
        # The cancel answer reports the quantity it saw; the trade arrives before or after it.
        answers = [r(rest("CANCELED")), full] if first_canceled else [full, r(rest("CANCELED"))]
        fills = [e.fill for a in answers for e in t.apply(a) if e.fill is not None]
        order = t.get(CID)
        assert order is not None
        assert (order.status, order.filled, len(fills)) == (FILLED, 10, 1)


def test_a_refused_cancel_clears_the_flag_and_a_query_settles_the_order() -> None:
    t = tracker()
    t.apply(r(rest("NEW")))
    t.request_cancel(CID)
    events = t.cancel_rejected(CID, "-2011 Unknown order sent.")
    assert kinds(events) == ["cancel_rejected"]
    assert events[0].status == NEW
    assert t.cancel_rejected(CID, "again") == []
    assert kinds(t.apply(r(rest("FILLED", 10, "64000")))) == ["filled"]  # no trade id: no fill


def test_reject_before_the_venue_answers() -> None:
    t = tracker()
    events = t.reject(CID, "-2019 Margin is insufficient.")
    assert kinds(events) == ["rejected"]
    assert (events[0].status, events[0].reason) == (REJECTED, "-2019 Margin is insufficient.")
    assert t.reject(CID, "again") == []
    assert t.open_orders() == []


def test_reject_after_the_venue_spoke_is_ignored_and_the_venue_overrides_a_local_reject() -> None:
    t = tracker()
    t.apply(r(rest("NEW")))
    assert t.reject(CID, "timeout") == []
    order = t.get(CID)
    assert order is not None
    assert order.status == NEW
    t2 = tracker()
    t2.reject(CID, "the venue never received it")
    assert kinds(t2.apply(s(stream("NEW", "NEW")))) == ["accepted"]  # it did: keep it visible
    order = t2.get(CID)
    assert order is not None
    assert (order.status, order.reason, order.open) == (NEW, "", True)


def test_an_ioc_expires_after_a_partial_fill_in_either_order() -> None:
    trade = s(stream("TRADE", "PARTIALLY_FILLED", 4, "64000", last=4, price=640_000, trade_id=3))
    result = r(rest("EXPIRED", 4, "64000", timeInForce="IOC"))
    expired = s(stream("EXPIRED", "EXPIRED", 4, "64000", er="2"))
    for updates in ([s(stream("NEW", "NEW")), trade, expired, result], [result, expired, trade]):
        t = tracker(10, TimeInForce.IOC)
        events = [e for u in updates for e in t.apply(u)]
        assert [e.kind for e in events if e.kind in TERMINAL_KINDS] == ["expired"]
        assert sum(1 for e in events if e.fill is not None) == 1
        order = t.get(CID)
        assert order is not None
        assert (order.status, order.filled, order.reason) == (EXPIRED, 4, "IOC remainder expired")


def test_submit_refuses_a_reused_client_id_and_a_zero_quantity() -> None:
    t = tracker()
    with pytest.raises(ValueError, match="already in use"):
        t.submit(CID, OrderIntent("BTCUSDT", Side.SELL, Lots(1), Ticks(640_000)))
    with pytest.raises(ValueError, match="positive"):
        t.submit(ClientId("m-t1-2"), OrderIntent("BTCUSDT", Side.SELL, Lots(0)))


def test_unknown_orders_are_logged_once_with_their_client_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = tracker()
    caplog.set_level(logging.WARNING, logger="hftui.engine.orders")
    other = r(rest("NEW", cid="web_abc"))
    assert t.apply(other) == []
    assert t.apply(other) == []
    records = [rec for rec in caplog.records if getattr(rec, "client_id", None) == "web_abc"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING


def test_an_update_for_another_symbol_is_dropped() -> None:
    t = tracker()
    eth = update_from_rest({**rest("FILLED", 10, "3000"), "symbol": "ETHUSDT"}, ETH)
    assert t.apply(eth) == []


def test_open_orders_by_symbol_and_forgetting_the_oldest_terminal_orders() -> None:
    clock = iter(range(1, 1000))
    t = OrderTracker(lambda: next(clock))
    for n in range(5):
        t.submit(ClientId(f"c{n}"), OrderIntent("BTCUSDT", Side.BUY, Lots(1), Ticks(640_000)))
    t.submit(ClientId("e"), OrderIntent("ETHUSDT", Side.BUY, Lots(1), Ticks(300_000)))
    for n in (3, 0, 1):  # rejected in this order: c3 oldest
        t.reject(ClientId(f"c{n}"), "no")
    assert {o.client_id for o in t.open_orders("BTCUSDT")} == {"c2", "c4"}
    assert len(t.open_orders()) == 3
    t.forget_terminal(keep=1)
    assert t.get("c3") is None
    assert t.get("c0") is None
    assert t.get("c1") is not None
    assert t.get("c2") is not None  # open orders are never forgotten


# ---- arrival order does not matter ----------------------------------------------------------


@dataclass(frozen=True)
class Life:
    """An order's true life at the venue: its trades, and how it ended."""

    qty: int
    trades: tuple[tuple[int, int, str, bool], ...]  # lots, price ticks, fee, maker
    end: OrderStatus | None  # CANCELED or EXPIRED; FILLED when the trades fill it; None: open
    rest_at: tuple[int, ...]  # REST answers (place, query) taken after that many trades


@st.composite
def lives(draw: st.DrawFn) -> Life:
    qty = draw(st.integers(1, 12))
    trades: list[tuple[int, int, str, bool]] = []
    left = qty
    for _ in range(draw(st.integers(0, 4))):
        if left == 0:
            break
        lots = draw(st.integers(1, left))
        price = draw(st.integers(639_990, 640_010))
        fee = draw(st.sampled_from(["0.0128", "0.0064", "-0.001", "0.3"]))
        trades.append((lots, price, fee, draw(st.booleans())))
        left -= lots
    end = FILLED if left == 0 else draw(st.sampled_from([None, CANCELED, EXPIRED]))
    rest_at = tuple(draw(st.lists(st.integers(0, len(trades)), max_size=3)))
    return Life(qty, tuple(trades), end, rest_at)


def _avg(trades: tuple[tuple[int, int, str, bool], ...]) -> tuple[int, str, int]:
    """Cumulative lots, the venue's average price text and its exact half-up price units."""
    lots = sum(t[0] for t in trades)
    if not lots:
        return 0, "0", 0
    units = sum(t[0] * t[1] * BTC.tick_units for t in trades)
    text = money_text(Decimal(units) / Decimal(lots) / Decimal(10**BTC.price_decimals))
    return lots, text, (2 * units + lots) // (2 * lots)


def venue_updates(life: Life) -> list[VenueUpdate]:
    """Every REST answer and stream event the venue would send for this life."""
    out = [s(stream("NEW", "NEW"))]
    for k, (lots, price, fee, maker) in enumerate(life.trades, start=1):
        z, ap, _ = _avg(life.trades[:k])
        status = "FILLED" if z == life.qty else "PARTIALLY_FILLED"
        out.append(s(stream("TRADE", status, z, ap, last=lots, price=price, trade_id=100 + k,
                            fee=fee, maker=maker)))  # fmt: skip
    for k in life.rest_at:
        z, ap, _ = _avg(life.trades[:k])
        status = "NEW" if z == 0 else "FILLED" if z == life.qty else "PARTIALLY_FILLED"
        out.append(r(rest(status, z, ap)))
    if life.end in (CANCELED, EXPIRED):
        z, ap, _ = _avg(life.trades)
        name = life.end.name
        out.append(s(stream(name, name, z, ap, er="2")))
        out.append(r(rest(name, z, ap)))  # the cancel answer, or an IOC's RESULT
    return out


@dataclass(frozen=True)
class Outcome:
    state: tuple[OrderStatus, int, int, float, int]  # status, filled, avg price, fee, order id
    fills: frozenset[Fill]
    terminal: list[str]  # the terminal events seen, in order
    cancel_requested: bool


def run(life: Life, updates: list[VenueUpdate], cancel_first: bool) -> Outcome:
    """Apply in this order; the end state, the fills and the terminal events seen."""
    t = tracker(life.qty)
    if cancel_first:
        t.request_cancel(CID)
    events = [e for u in updates for e in t.apply(u)]
    order = t.get(CID)
    assert order is not None
    fills = frozenset(e.fill for e in events if e.fill is not None)
    terminal = [e.kind for e in events if e.kind in TERMINAL_KINDS]
    assert all(t.apply(u) == [] for u in updates)  # idempotent: everything again, no news
    state = (order.status, order.filled, order.avg_price, order.fee, order.venue_order_id)
    return Outcome(state, fills, terminal, order.cancel_requested)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_arrival_order_with_duplicates_converges_to_the_true_end_state(
    data: st.DataObject,
) -> None:
    life = data.draw(lives())
    cancel_first = data.draw(st.booleans())
    updates = venue_updates(life)
    dupes = data.draw(st.lists(st.sampled_from(updates), max_size=4))
    shuffled = data.draw(st.permutations(updates + dupes))

    in_order = run(life, updates, cancel_first)
    assert run(life, shuffled, cancel_first) == in_order

    # ... and that end state is the truth.
    lots, _, avg = _avg(life.trades)
    if lots == life.qty:
        status = FILLED
    elif life.end is not None:
        status = life.end
    else:
        status = PENDING_CANCEL if cancel_first else PART if lots else NEW
    fee = math.fsum(float(t[2]) for t in life.trades)
    assert in_order.state == (status, lots, avg, fee, OID)
    fills = {(f.trade_id, f.qty, f.price, f.maker) for f in in_order.fills}
    assert fills == {(100 + k, t[0], t[1], t[3]) for k, t in enumerate(life.trades, start=1)}
    assert in_order.terminal == ([status.label] if status.terminal else [])  # exactly once
    assert in_order.cancel_requested == cancel_first


def test_odd_venue_words_keep_status_and_filled_consistent() -> None:
    t = tracker(10)
    # FILLED with a short quantity: "filled" must mean filled == qty, so it reads partial.
    t.apply(r(rest("FILLED", 4, "64000")))
    order = t.get(CID)
    assert order is not None
    assert (order.status, order.filled) == (PART, 4)
    # A trade on an order already canceled is still a fill; the order stays canceled.
    t.apply(r(rest("CANCELED", 4, "64000")))
    late = stream("TRADE", "PARTIALLY_FILLED", 6, "64000", last=2, price=640_000, trade_id=4)
    assert kinds(t.apply(s(late))) == ["fill", "partially_filled"]
    assert (order.status, order.filled, order.open) == (CANCELED, 6, False)


def test_every_log_line_about_an_order_carries_its_client_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="hftui.engine.orders")
    t = tracker(10)
    t.apply(s(stream("NEW", "NEW")))
    t.request_cancel(CID)
    t.cancel_rejected(CID, "-2011")
    t.apply(s(stream("TRADE", "FILLED", 10, "64000", last=10, price=640_000, trade_id=1)))
    t.apply(r(rest("FILLED", 11, "64000")))  # more than ordered: warned about
    t.reject(CID, "late")
    records = [rec for rec in caplog.records if rec.name == "hftui.engine.orders"]
    assert len(records) >= 5
    assert all(getattr(rec, "client_id", None) == CID for rec in records)


def test_disagreeing_averages_at_the_same_fill_resolve_the_same_way_in_any_order() -> None:
    a, b = r(rest("PARTIALLY_FILLED", 4, "64000.1")), r(rest("PARTIALLY_FILLED", 4, "64000.12"))
    ends = []
    for updates in ([a, b], [b, a]):
        t = tracker(10)
        for u in updates:
            t.apply(u)
        order = t.get(CID)
        assert order is not None
        ends.append(order.avg_price)
    assert ends == [6_400_012, 6_400_012]
