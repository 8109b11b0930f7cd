"""The raw-bytes depth parser agrees with the JSON path, and declines what it cannot read."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.book import OrderBook

price_st = st.integers(1, 10**8)
qty_st = st.integers(0, 10**7)
levels_st = st.lists(st.tuples(price_st, qty_st), max_size=30)


def price_text(ticks: int, style: int) -> str:
    whole, frac = divmod(ticks, 10)
    return [f"{whole}.{frac}0", f"{whole}.{frac}", f"{whole}.{frac}000"][style]


def qty_text(lots: int) -> str:
    return f"{lots // 1000}.{lots % 1000:03d}"


@settings(max_examples=300, deadline=None)
@given(
    bids=levels_st,
    asks=levels_st,
    ids=st.tuples(*(st.integers(0, 10**18 - 1) for _ in range(3))),  # 18 digits fit int64
    combined=st.booleans(),
    style=st.integers(0, 2),
)
def test_raw_parse_matches_json_path(
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    ids: tuple[int, int, int],
    combined: bool,
    style: int,
) -> None:
    book = OrderBook("BTCUSDT", "0.10", "0.001")
    event = {
        "e": "depthUpdate",
        "E": 1700000000123,
        "T": 1700000000120,
        "s": "BTCUSDT",
        "U": ids[0],
        "u": ids[1],
        "pu": ids[2],
        "b": [[price_text(p, style), qty_text(q)] for p, q in bids],
        "a": [[price_text(p, style), qty_text(q)] for p, q in asks],
        "ps": "BTCUSDT",
        "st": 1,
    }
    payload = {"stream": "btcusdt@depth@100ms", "data": event} if combined else event
    diff = book.parse_raw(orjson.dumps(payload))
    assert diff is not None
    assert (diff.first_id, diff.final_id, diff.prev_final_id) == ids
    assert diff.event_time_ms == 1700000000123
    assert diff.n_bids == len(bids)
    assert diff.n_asks == len(asks)
    assert diff.bid_ticks[: diff.n_bids].tolist() == [p for p, _ in bids]
    assert diff.bid_lots[: diff.n_bids].tolist() == [q for _, q in bids]
    assert diff.ask_ticks[: diff.n_asks].tolist() == [p for p, _ in asks]
    want_ticks, want_lots = book._parse(event["b"])  # type: ignore[arg-type]
    assert np.array_equal(diff.bid_ticks[: diff.n_bids], want_ticks)
    assert np.array_equal(diff.bid_lots[: diff.n_bids], want_lots)


BASE = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":7,"pu":4,'


@pytest.mark.parametrize(
    "frame",
    [
        BASE + b'"b":[["64000.15","1.000"]],"a":[]}',  # off the tick
        BASE + b'"b":[["64000.10","1.0001"]],"a":[]}',  # off the step
        BASE + b'"b":[["6x000.10","1.000"]],"a":[]}',  # not a number
        BASE + b'"b":[[64000.10,"1.000"]],"a":[]}',  # numbers unquoted
        BASE + b'"b":[["64000.10","1.000"]]}',  # no asks
        b'{"e":"depthUpdate","s":"BTCUSDT","U":5,"pu":4,"b":[],"a":[]}',  # no u
        BASE + b'"b":[["64000.10","1.000"',  # truncated
        BASE + b'"b":[["-1.00","1.000"]],"a":[]}',  # negative
        b"",
    ],
)
def test_raw_parse_declines_what_it_cannot_read(frame: bytes) -> None:
    assert OrderBook("BTCUSDT", "0.10", "0.001").parse_raw(frame) is None


def test_raw_parse_tolerates_spaces_and_unknown_fields() -> None:
    frame = (
        b'{ "e" : "depthUpdate", "X": {"nested": ["a", "b"]}, "s": "BTCUSDT", "U": 5, "u": 7,'
        b' "pu": 4, "b": [ [ "64000.10" , "1.000" ] ], "a": [ ], "flag": true }'
    )
    diff = OrderBook("BTCUSDT", "0.10", "0.001").parse_raw(frame)
    assert diff is not None
    assert diff.n_bids == 1
    assert int(diff.bid_ticks[0]) == 640001
