"""Decimal text to integer units: the numba kernels and the pure-Python reader agree, exactly."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.book import decimal_units
from hftui.engine.kernels.decimal import (
    MALFORMED,
    OFF_GRID,
    TOO_LARGE,
    TOO_MANY,
    UNIT_LIMIT,
    decimal_units_,
    level_sides_,
    quoted_,
)
from hftui.protocol import format_units


def kernel(text: str, decimals: int) -> int:
    raw = text.encode()
    return int(decimal_units_(raw, 0, len(raw), decimals))


def python(text: str, decimals: int) -> int | None:
    try:
        return decimal_units(text, decimals)
    except ValueError:
        return None


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("64000.10", 2, 6400010),
        ("64000.1", 2, 6400010),
        ("64000.1000000", 2, 6400010),
        ("64000", 2, 6400000),
        ("0", 3, 0),
        ("0.000", 3, 0),
        ("007.5", 1, 75),
        ("1.250", 3, 1250),
        ("5.0", 0, 5),
        ("999999999999999999", 0, UNIT_LIMIT - 1),
        ("9999999999999999.99", 2, UNIT_LIMIT - 1),
    ],
)
def test_reads_exact_units(text: str, decimals: int, units: int) -> None:
    assert kernel(text, decimals) == units
    assert decimal_units(text, decimals) == units
    assert decimal_units(text.encode(), decimals) == units


@pytest.mark.parametrize(
    ("text", "decimals", "status"),
    [
        ("", 2, MALFORMED),
        (".5", 2, MALFORMED),
        ("5.", 2, MALFORMED),
        ("1.2.3", 2, MALFORMED),
        ("-1.00", 2, MALFORMED),
        ("+1.00", 2, MALFORMED),
        ("1e5", 2, MALFORMED),
        (" 1.00", 2, MALFORMED),
        ("1_000", 2, MALFORMED),
        ("nan", 2, MALFORMED),
        ("inf", 2, MALFORMED),
        ("\uff11\uff12", 2, MALFORMED),  # fullwidth digits: int() would take them
        ("\u00b2", 0, MALFORMED),  # superscript two: str.isdigit() says yes
        ("1.a0", 1, MALFORMED),  # malformed wins over off-grid
        ("64000.15", 1, OFF_GRID),
        ("0.0001", 3, OFF_GRID),
        ("1000000000000000000", 0, TOO_LARGE),
        ("10000000000000000.00", 2, TOO_LARGE),
        ("100000000000000000000000000", 0, TOO_LARGE),
    ],
)
def test_rejects(text: str, decimals: int, status: int) -> None:
    assert kernel(text, decimals) == status
    with pytest.raises(ValueError, match=r"malformed|decimals|too large"):
        decimal_units(text, decimals)


def test_python_reader_rejects_non_text() -> None:
    with pytest.raises(ValueError, match="malformed"):
        decimal_units(b"\xff1", 2)
    with pytest.raises(ValueError, match="malformed"):
        decimal_units(1.5, 2)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet="0123456789.-+e _a", max_size=24), decimals=st.integers(0, 8))
def test_kernel_and_python_agree_on_any_text(text: str, decimals: int) -> None:
    got = kernel(text, decimals)
    want = python(text, decimals)
    assert (got if got >= 0 else None) == want


@settings(max_examples=300, deadline=None)
@given(
    units=st.integers(0, UNIT_LIMIT - 1),
    decimals=st.integers(0, 8),
    padding=st.integers(0, 4),
)
def test_format_and_read_round_trip(units: int, decimals: int, padding: int) -> None:
    text = format_units(units, decimals)
    if padding:
        text += ("" if decimals else ".") + "0" * padding
    assert kernel(text, decimals) == units
    assert decimal_units(text, decimals) == units


def sides(bids: object, asks: object, cap: int = 64) -> tuple[int, list[int], list[int]]:
    """level_sides_ on orjson's encoding of (bids, asks), tick 0.10 and step 0.001."""
    rows = np.zeros((4, cap), np.int64)
    status, n_bids, n_asks = level_sides_(
        orjson.dumps((bids, asks)), 2, 3, 10, 1, rows[0], rows[1], rows[2], rows[3]
    )
    flat = [v for k in range(n_bids) for v in (rows[0, k], rows[1, k])]
    flat += [v for k in range(n_asks) for v in (rows[2, k], rows[3, k])]
    return int(status), [n_bids, n_asks], [int(v) for v in flat]


price_st = st.integers(0, 10**9).map(lambda t: format_units(t * 10, 2))
qty_st = st.integers(0, 10**9).map(lambda q: format_units(q, 3))
levels_st = st.lists(st.tuples(price_st, qty_st), max_size=20)


@settings(max_examples=200, deadline=None)
@given(bids=levels_st, asks=levels_st)
def test_level_lists_match_the_python_reader(
    bids: list[tuple[str, str]], asks: list[tuple[str, str]]
) -> None:
    status, counts, flat = sides(bids, asks)
    assert status == 0
    assert counts == [len(bids), len(asks)]
    want = [v for p, q in [*bids, *asks] for v in (decimal_units(p, 2) // 10, decimal_units(q, 3))]
    assert flat == want


@pytest.mark.parametrize(
    ("bids", "status"),
    [
        ([["64000.15", "1.000"]], OFF_GRID),  # off the 0.10 tick
        ([["64000.10", "1.0001"]], OFF_GRID),  # finer than the step
        ([["6x000.10", "1.000"]], MALFORMED),
        ([[64000.1, "1.000"]], MALFORMED),  # a number, not a string
        ([["64000.10"]], MALFORMED),
        ([["64000.10", "1.000", "x"]], MALFORMED),
        ([["64000.10", None]], MALFORMED),
        (["64000.10"], MALFORMED),
        ([["64000.10", "1\n"]], MALFORMED),  # orjson escapes it: a backslash
        ([["64000.10", "1.000"], ["1.005", "1"], ["bad", "1"]], OFF_GRID),  # first bad value
        ([["1.005", "1"], [1, "1"]], MALFORMED),  # a broken shape anywhere wins
        ([["1" * 30, "1.000"]], TOO_LARGE),
        ({"p": "1"}, MALFORMED),
    ],
)
def test_level_lists_reject(bids: object, status: int) -> None:
    assert sides(bids, [])[0] == status
    assert sides([], bids)[0] == status


def test_level_lists_report_when_full() -> None:
    levels = [["1.00", "1.000"]] * 5
    assert sides(levels, [], cap=4)[0] == TOO_MANY
    assert sides(levels, [], cap=5)[0] == 0


def test_level_lists_tolerate_whitespace() -> None:
    rows = np.zeros((4, 4), np.int64)
    raw = b' [ [ [ "1.00" , "2.000" ] ] , [ ] ] '
    assert level_sides_(raw, 2, 3, 10, 1, rows[0], rows[1], rows[2], rows[3]) == (0, 1, 0)
    assert rows[:2, 0].tolist() == [10, 2000]
    bad = b'[[["1.00","2.000"]],[]] x'
    assert level_sides_(bad, 2, 3, 10, 1, rows[0], rows[1], rows[2], rows[3])[0] == MALFORMED


def _quoted_reference(raw: bytes, decimals: int) -> tuple[int, int]:
    # What a quoted value reads as: the closing quote found first, then the digits between
    # read by `decimal_units_` (the list reader does both in one pass).
    if not raw.startswith(b'"'):
        return MALFORMED, 0
    end = raw.find(b'"', 1)
    if end < 0 or b"\\" in raw[1:end]:
        return MALFORMED, 0
    return end + 1, int(decimal_units_(raw, 1, end, decimals))


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet='0123456789."\\a-', max_size=30),
    quoted=st.booleans(),
    decimals=st.integers(0, 17),
)
def test_quoted_values_read_as_the_value_reader_reads_them(
    text: str, quoted: bool, decimals: int
) -> None:
    raw = (b'"' if quoted else b"") + text.encode() + b'",1'
    assert quoted_(raw, 0, len(raw), decimals) == _quoted_reference(raw, decimals)


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet="0123456789.", max_size=40),
    decimals=st.integers(0, 17),
)
def test_plain_decimals_read_as_the_value_reader_reads_them(text: str, decimals: int) -> None:
    # Digits and points only: the common case `quoted_` reads in its fast loops, including
    # values past the unit limit and finer than the grid.
    raw = b'"' + text.encode() + b'"]'
    assert quoted_(raw, 0, len(raw), decimals) == _quoted_reference(raw, decimals)
