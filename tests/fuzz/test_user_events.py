"""`Execution.on_user_event` fed arbitrary JSON objects and mutated real user-data events
(ORDER_TRADE_UPDATE, ACCOUNT_UPDATE): it never raises, and what it keeps stays sound (no
order made up from a mangled update, P&L figures finite)."""

from __future__ import annotations

import copy
import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from hftui.config import Config
from hftui.engine.execution import Execution
from hftui.engine.instrument import parse_instruments
from hftui.engine.intents import Lots, OrderIntent, Ticks
from hftui.exchange.symbols import exchange_info
from hftui.protocol import Event, Mode, Side
from tests.fuzz import examples
from tests.fuzz.strategies import json_object, json_value

INSTRUMENTS = parse_instruments(exchange_info(("BTCUSDT",), 0), ["BTCUSDT"])

ORDER_FIELDS: dict[str, object] = {
    "s": "BTCUSDT",
    "c": "m1",
    "S": "BUY",
    "o": "LIMIT",
    "f": "GTC",
    "q": "0.010",
    "p": "60000.0",
    "ap": "60000.0",
    "x": "TRADE",
    "X": "PARTIALLY_FILLED",
    "i": 7,
    "l": "0.004",
    "z": "0.004",
    "L": "60000.0",
    "n": "0.0960",
    "N": "USDT",
    "T": 1_700_000_000_099,
    "t": 11,
    "m": True,
    "R": False,
    "rp": "0",
}
ORDER_UPDATE: dict[str, object] = {
    "e": "ORDER_TRADE_UPDATE",
    "E": 1_700_000_000_100,
    "T": 1_700_000_000_099,
    "o": ORDER_FIELDS,
}
ACCOUNT_UPDATE: dict[str, object] = {
    "e": "ACCOUNT_UPDATE",
    "E": 1_700_000_000_100,
    "T": 1_700_000_000_099,
    "a": {
        "m": "FUNDING_FEE",
        "S": "BTCUSDT",
        "B": [{"a": "USDT", "wb": "100", "cw": "100", "bc": "-0.0125"}],
        "P": [],
    },
}


def live_execution() -> tuple[Execution, str]:
    """An execution holding one live order the venue has (client id returned)."""
    events: list[Event] = []
    ex = Execution(Config(), INSTRUMENTS, events.append)
    cid = ex.next_client_id("manual")
    ex.tracker.submit(cid, OrderIntent("BTCUSDT", Side.BUY, Lots(10), Ticks(600_000)))
    ex._order_mode[cid] = Mode.LIVE
    return ex, cid


def sound(ex: Execution) -> None:
    pnl = ex.account.pnl(Mode.LIVE, {})
    assert math.isfinite(pnl.realized)
    assert math.isfinite(pnl.funding)
    for order in ex.tracker.open_orders():
        assert 0 <= order.filled <= order.intent.qty


def mutate(event: dict[str, object], path: list[str], value: object) -> dict[str, object]:
    """`event` with the field at `path` replaced by `value` (or removed, for `...`)."""
    out = copy.deepcopy(event)
    node: object = out
    for key in path[:-1]:
        assert isinstance(node, dict)
        node = node[key]
    assert isinstance(node, dict)
    if value is ...:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return out


ORDER_PATHS = [["e"], ["E"], ["o"]] + [["o", k] for k in ORDER_FIELDS]
ACCOUNT_PATHS = [["a"], ["a", "m"], ["a", "S"], ["a", "B"]]

mutations = st.one_of(
    st.tuples(st.just(ORDER_UPDATE), st.sampled_from(ORDER_PATHS)),
    st.tuples(st.just(ACCOUNT_UPDATE), st.sampled_from(ACCOUNT_PATHS)),
)
values = (
    json_value
    | st.just(...)
    | st.sampled_from(
        ["nan", "inf", "-inf", "1e400", "0.0000000001", "-1", "99999999999999999999", "m1", ""]
    )
)


@settings(max_examples=examples(300), deadline=None)
@given(payload=json_object)
@example(payload={"e": "ORDER_TRADE_UPDATE", "E": "x", "o": {"s": "BTCUSDT"}})
def test_any_object_is_taken_or_dropped(payload: dict[str, object]) -> None:
    ex, _ = live_execution()
    ex.on_user_event(payload)
    sound(ex)


@settings(max_examples=examples(300), deadline=None)
@given(base=mutations, value=values, more=st.lists(st.tuples(mutations, values), max_size=3))
@example(base=(ACCOUNT_UPDATE, ["a", "B"]), value=[{"a": "USDT", "bc": "nan"}], more=[])
@example(base=(ACCOUNT_UPDATE, ["a", "B"]), value=[{"a": "USDT", "bc": "inf"}], more=[])
def test_mangled_real_events_never_raise_and_keep_figures_sound(
    base: tuple[dict[str, object], list[str]],
    value: object,
    more: list[tuple[tuple[dict[str, object], list[str]], object]],
) -> None:
    ex, cid = live_execution()
    for (event, path), v in [(base, value), *more]:
        event = mutate(event, ["o", "c"], cid) if event is ORDER_UPDATE else event
        ex.on_user_event(mutate(event, path, v))
        sound(ex)
    # The real events still apply afterwards.
    real = mutate(ORDER_UPDATE, ["o", "c"], cid)
    ex.on_user_event(real)
    order = ex.tracker.get(cid)
    assert order is not None
    assert order.filled >= 4  # 0.004 on the 0.001 step: at least the real fill
    sound(ex)
