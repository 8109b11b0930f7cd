"""The market-data receive path (`MarketData.on_frame`, numba fast path and JSON path) fed
arbitrary bytes and mutated venue frames, mixed with the venue's real ones.

The contract: `on_frame` never raises; a frame that is not a usable event is counted in
`bad_frames` (or, for a depth event of a followed symbol, throws that book away); a book that
says it is synced always equals the venue's book at its update id; and once the venue's real
frames (and a snapshot when one is asked for) flow again every book is the venue's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hftui.engine.book import OrderBook, frame_run
from hftui.engine.kernels.book import FLAG_BITS
from hftui.engine.market_data import _MAX_FRAME, MarketData
from tests.fuzz import examples
from tests.fuzz.strategies import json_value
from tests.unit.engine.test_market_data import NAMES, Venue, engine, heal, sync_all, wire

FUZZ = settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Keys a parser could take for the event's own, to hide inside nested junk.
event_keys = st.sampled_from(["e", "s", "U", "u", "pu", "b", "a", "E", "data", "stream"])


def check(market: MarketData, venues: dict[str, Venue]) -> None:
    """The invariant: a synced book is the venue's book at the id it says it is at."""
    for feed in market.feeds:
        assert feed.sync is not None
        if feed.sync.synced:
            assert feed.sync.book.levels() == venues[feed.symbol].levels(feed.sync.last_update_id)


def junk_for(event: dict[str, Any], draw: Callable[[st.SearchStrategy[Any]], Any]) -> bytes:
    """One way of spoiling the venue's next event so that no reader can use it as it was."""
    how = draw(
        st.sampled_from(
            ["truncate", "retype", "huge id", "huge level", "bad envelope", "oversized"]
        )
    )
    frame = wire(event)
    if how == "truncate":
        return frame[: draw(st.integers(0, len(frame) - 1))]
    if how == "retype":
        key = draw(st.sampled_from(["U", "u", "pu", "b", "a", "s", "e"]))
        wrong = {
            "U": json_value.filter(lambda v: type(v) is not int),
            "u": json_value.filter(lambda v: type(v) is not int),
            "pu": json_value.filter(lambda v: type(v) is not int),
            "b": json_value.filter(lambda v: not isinstance(v, list)),
            "a": json_value.filter(lambda v: not isinstance(v, list)),
            "s": json_value.filter(lambda v: v not in NAMES),
            "e": json_value.filter(lambda v: v not in ("depthUpdate", "aggTrade", "bookTicker")),
        }[key]
        return wire(event | {key: draw(wrong)}) if key != "s" else _with_symbol(event, draw(wrong))
    if how == "huge id":
        key = draw(st.sampled_from(["U", "u", "pu"]))
        return wire(event | {key: draw(st.integers(2**63, 2**64 - 1))})
    if how == "huge level":
        side = draw(st.sampled_from(["b", "a"]))
        price = draw(st.sampled_from(["9" * 40 + ".0", "1" * 25, "-5.00", "1e400", "NaN"]))
        return wire(event | {side: [[price, "1.000"]]})
    if how == "bad envelope":
        return orjson.dumps(
            draw(st.sampled_from([[event], {"stream": "x", "data": [event]}, {"data": "s"}]))
        )
    # Well-formed but over the size limit.
    return wire(event | {"b": [["100.00", "1.000"]] * (_MAX_FRAME // 19 + 1)})


def _with_symbol(event: dict[str, Any], symbol: object) -> bytes:
    return orjson.dumps({"stream": "btcusdt@depth@100ms", "data": event | {"s": symbol}})


@FUZZ
@given(frames=st.lists(st.binary(max_size=300) | st.text(max_size=300), max_size=8))
@example(frames=[b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT","U":'])
@example(frames=['{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1e2","1"]],"a":[]}'])
def test_arbitrary_bytes_never_raise_and_leave_the_books_alone(frames: list[bytes | str]) -> None:
    market, venues, _ = engine()
    sync_all(market, venues)
    for frame in frames:
        before = market.bad_frames
        market.on_frame(frame, 0)
        try:
            parsed = orjson.loads(frame)
        except orjson.JSONDecodeError:
            assert market.bad_frames == before + 1  # not JSON: counted, every time
        else:
            assert market.bad_frames - before in (0, 1)
            if not isinstance(parsed, dict):
                assert market.bad_frames == before + 1
        check(market, venues)
    heal(market, venues)


@st.composite
def mixed_streams(draw: st.DrawFn) -> list[tuple[str, str]]:
    return draw(
        st.lists(
            st.tuples(st.sampled_from(NAMES), st.sampled_from(["real", "real", "junk", "nested"])),
            min_size=1,
            max_size=30,
        )
    )


@FUZZ
@given(steps=mixed_streams(), data=st.data(), seed=st.integers(0, 2**16))
def test_valid_frames_after_junk_still_apply(
    steps: list[tuple[str, str]], data: st.DataObject, seed: int
) -> None:
    market, venues, _ = engine(seed)
    sync_all(market, venues)
    chained = dict.fromkeys(NAMES, True)
    for symbol, kind in steps:
        venue = venues[symbol]
        event = venue.event()
        before = market.bad_frames
        if kind == "real":
            market.on_frame(wire(event), 0)
        elif kind == "junk":
            # The event is lost to the engine: its book may only resync, never go wrong.
            market.on_frame(junk_for(event, data.draw), 0)
            assert market.bad_frames == before + 1
        else:
            # The real event, with junk fields around it that reuse the event's own keys:
            # read as the event it carries, as Binance adds fields.
            junk = data.draw(
                st.dictionaries(event_keys, json_value | st.sampled_from(NAMES), max_size=3)
            )
            extra = {"x": junk, "y": [junk]}
            event = (extra | event) if data.draw(st.booleans()) else (event | extra)
            was_synced = {f.symbol: f.sync is not None and f.sync.synced for f in market.feeds}
            market.on_frame(wire(event), 0)
            assert market.bad_frames == before
            for feed in market.feeds:  # applied to its book, and no other book disturbed
                assert feed.sync is not None
                if feed.symbol != symbol:
                    assert feed.sync.synced == was_synced[feed.symbol]
                elif was_synced[symbol] and chained[symbol]:
                    assert feed.sync.synced
                    assert feed.sync.last_update_id == venue.update_id
        chained[symbol] = kind != "junk"  # a lost event breaks the chain until a resync
        check(market, venues)
        fed = market.feed(symbol)
        assert fed is not None
        assert fed.sync is not None
        if fed.sync.needs_snapshot and data.draw(st.booleans()):
            heal(market, venues)
            chained = dict.fromkeys(NAMES, True)
    heal(market, venues)


@FUZZ
@given(
    index=st.integers(0, 10_000),
    byte=st.integers(0, 255),
    repeat=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_a_flipped_byte_never_raises(index: int, byte: int, repeat: int, seed: int) -> None:
    # A flipped digit can make another valid event no reader could tell from the real one,
    # so only "never raises" and "a snapshot heals" hold here.
    market, venues, _ = engine(seed)
    sync_all(market, venues)
    venue = venues["BTCUSDT"]
    frame = bytearray(wire(venue.event()))
    for k in range(repeat):
        frame[(index + 7 * k) % len(frame)] = byte
    market.on_frame(bytes(frame), 0)
    market.on_frame(bytes(frame).decode(errors="replace"), 0)
    for feed in market.feeds:
        assert feed.sync is not None
        feed.sync.reset("test: start over")
    heal(market, venues)


# ---- what the fuzzing found (kept as plain regressions) ---------------------------------


def test_keys_nested_in_an_unknown_field_are_not_the_events() -> None:
    # The fast path once read the "b" inside "x" as the event's bids, and the "s" inside it
    # as the event's symbol; the JSON path (and now both) read the event's own.
    market, venues, _ = engine()
    sync_all(market, venues)
    btc = venues["BTCUSDT"]
    for extra in ({"x": {"b": [["90.00", "5.000"]], "a": []}}, {"x": {"s": "ETHUSDT"}}):
        event = btc.event()
        frame = orjson.dumps({"stream": "btcusdt@depth@100ms", "data": extra | event})
        market.on_frame(frame, 0)
        check(market, venues)
        feed = market.feed("BTCUSDT")
        assert feed is not None
        assert feed.sync is not None
        assert feed.sync.synced
        assert feed.sync.last_update_id == btc.update_id
    assert market.bad_frames == 0


def test_a_frame_wrapped_or_cut_after_its_levels_is_not_applied() -> None:
    # Each carries a whole event, but is not a JSON object: refused like any other.
    market, venues, _ = engine()
    sync_all(market, venues)
    btc = venues["BTCUSDT"]
    spoilers: list[Callable[[bytes], bytes]] = [
        lambda f: b"[" + f + b"]",
        lambda f: f[:-1],
        lambda f: f + b"x",
    ]
    for spoil in spoilers:
        before = market.bad_frames
        market.on_frame(spoil(wire(btc.event())), 0)
        assert market.bad_frames == before + 1
        check(market, venues)
    heal(market, venues)


# ---- the fast parser against the JSON path -------------------------------------------------


def json_event(frame: bytes) -> dict[str, Any] | None:
    """The event the JSON path finds in a frame the kernel took (None: not JSON). A frame it
    takes is one object, so the JSON is one too."""
    try:
        message = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    assert isinstance(message, dict)
    return message["data"] if isinstance(message.get("data"), dict) else message


def fast_and_json_agree(frame: bytes) -> None:
    """Whatever the numba parser takes from valid JSON, the JSON path reads the same way.

    The fast path scans rather than validates: a garbled frame that is not JSON, or has no
    event where the JSON path looks, may still be read (no venue sends one, and what it reads
    is the event the frame carries); a frame cut short or not one object is refused outright."""
    book = OrderBook("BTCUSDT", "0.10", "0.001")
    diff = book.parse_raw(frame)
    if diff is None:
        return
    event = json_event(frame)
    if event is None or not all(key in event for key in ("U", "u", "pu", "b", "a")):
        return  # not an event to the JSON path: dropped there, so nothing to disagree on
    assert (event["U"], event["u"], event["pu"]) == (
        diff.first_id,
        diff.final_id,
        diff.prev_final_id,
    )
    for side, ticks, lots, n in (
        ("b", diff.bid_ticks, diff.bid_lots, diff.n_bids),
        ("a", diff.ask_ticks, diff.ask_lots, diff.n_asks),
    ):
        want_ticks, want_lots = book._parse(event[side])
        assert ticks[:n].tolist() == want_ticks.tolist()
        assert lots[:n].tolist() == want_lots.tolist()


VALID = orjson.dumps(
    {
        "stream": "btcusdt@depth@100ms",
        "data": {
            "e": "depthUpdate",
            "E": 1_700_000_000_123,
            "s": "BTCUSDT",
            "U": 5,
            "u": 7,
            "pu": 4,
            "b": [["64000.10", "1.000"], ["63999.90", "0.000"]],
            "a": [["64000.20", "2.500"]],
        },
    }
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    frame = bytearray(VALID)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(frame)))
        how = draw(st.sampled_from(["set", "insert", "delete", "copy"]))
        piece = draw(
            st.sampled_from([b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\", b"0", b" ", b"-"])
            | st.binary(min_size=1, max_size=3)
        )
        if how == "set" and at < len(frame):
            frame[at : at + len(piece)] = piece
        elif how == "insert":
            frame[at:at] = piece
        elif how == "delete":
            del frame[at : at + draw(st.integers(1, 8))]
        else:
            start = draw(st.integers(0, len(frame)))
            frame[at:at] = frame[start : start + draw(st.integers(1, 30))]
    return bytes(frame)


@settings(max_examples=examples(500), deadline=None)
@given(frame=mutated() | st.binary(max_size=200))
@example(frame=VALID[:-1])
@example(frame=b"[" + VALID + b"]")
@example(frame=VALID.replace(b'"data":{', b'"x":{"b":[["1.00","1.000"]]},"data":{'))
@example(frame=VALID[:-1] + b',"U":9,"b":[["1.00","1.000"]]}')  # envelope keys after "data"
@example(frame=b'{"U":9,' + VALID[1:])  # and before it
def test_what_the_fast_parser_takes_the_json_path_reads_the_same(frame: bytes) -> None:
    fast_and_json_agree(frame)


# ---- the same for bookTicker frames, which a burst's kernel reads too ---------------------

TICKER = orjson.dumps(
    {
        "stream": "btcusdt@bookTicker",
        "data": {
            "e": "bookTicker",
            "u": 9,
            "s": "BTCUSDT",
            "b": "64000.10",
            "B": "1.500",
            "a": "64000.20",
            "A": "0.250",
            "T": 1_700_000_000_123,
            "E": 1_700_000_000_124,
        },
    }
)


def ticker_fast_and_json_agree(frame: bytes) -> None:
    """Whatever bookTicker the kernel takes from valid JSON, the JSON path reads the same."""
    book = OrderBook("BTCUSDT", "0.10", "0.001")
    book.follow(0, True)  # a live book, which takes bookTickers
    if not book.take_run(*frame_run([frame]), 0, 0) >> FLAG_BITS:
        return
    event = json_event(frame)
    if event is None or not all(key in event for key in ("u", "b", "B", "a", "A", "s", "e")):
        return
    assert (event["e"], event["s"], event["u"]) == ("bookTicker", "BTCUSDT", book.ticker_u)
    assert book.ticker() == (
        book.price_to_ticks(event["b"]),
        book.qty_to_lots(event["B"]),
        book.price_to_ticks(event["a"]),
        book.qty_to_lots(event["A"]),
    )


@st.composite
def mutated_ticker(draw: st.DrawFn) -> bytes:
    frame = bytearray(TICKER)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(frame)))
        piece = draw(
            st.sampled_from([b'"', b",", b":", b"\\", b"0", b".", b" ", b"-", b"[", b"]"])
            | st.binary(min_size=1, max_size=3)
        )
        if draw(st.booleans()):
            frame[at:at] = piece
        else:
            del frame[at : at + draw(st.integers(1, 6))]
    return bytes(frame)


@settings(max_examples=examples(500), deadline=None)
@given(frame=mutated_ticker())
@example(frame=TICKER)
@example(frame=TICKER.replace(b'"b":"64000.10"', b'"b":"64000.10","b":[["1.00","1.000"]]'))
@example(frame=TICKER.replace(b'"B":"1.500"', b'"B":"1.5001"'))  # finer than the step
@example(frame=TICKER.replace(b'"b":"64000.10"', b'"b":"64000.15"'))  # off the tick
def test_what_the_kernel_takes_from_a_book_ticker_the_json_path_reads_the_same(
    frame: bytes,
) -> None:
    ticker_fast_and_json_agree(frame)
