"""The client-side rate budget on a fake clock, and credentials that never show the secret."""

from __future__ import annotations

import logging
import pickle
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hftui.engine.binance.auth import sign
from hftui.engine.binance.client import DEFAULT_LIMITS, Credentials, RateBudget, VenueClient
from hftui.engine.binance.rest import VenueError
from hftui.engine.instrument import RateLimit

WEIGHT_1M = RateLimit("REQUEST_WEIGHT", 60, 100)
ORDERS_10S = RateLimit("ORDERS", 10, 10)
ORDERS_1M = RateLimit("ORDERS", 60, 20)
SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def budget(*limits: RateLimit, headroom: float = 0.8) -> tuple[RateBudget, FakeClock]:
    clock = FakeClock()
    return RateBudget(limits or (WEIGHT_1M, ORDERS_10S, ORDERS_1M), headroom, clock), clock


def test_throttles_at_the_headroom_not_at_the_limit() -> None:
    b, _ = budget(WEIGHT_1M)
    for _ in range(80):
        assert b.delay_for(1, 0) == 0.0
        b.spend(1, 0)
    assert b.delay_for(1, 0) == pytest.approx(60.0)  # 81 > 0.8 x 100
    assert b.usage() == {"x-mbx-used-weight-1m": pytest.approx(0.8)}


def test_the_wait_is_until_enough_of_the_window_has_rolled_off() -> None:
    b, clock = budget(WEIGHT_1M)
    b.spend(30, 0)
    clock.now += 10
    b.spend(30, 0)
    clock.now += 10
    b.spend(20, 0)
    # 80 used; 25 more needs the first 30 gone, which happens 60 s after it was spent.
    assert b.delay_for(25, 0) == pytest.approx(40.0)
    # 40 more needs the first two spends gone.
    assert b.delay_for(40, 0) == pytest.approx(50.0)
    clock.now += 40
    assert b.delay_for(25, 0) == 0.0
    assert b.usage()["x-mbx-used-weight-1m"] == pytest.approx(0.5)


def test_orders_count_against_every_orders_window_and_not_the_weight() -> None:
    b, clock = budget()
    for _ in range(8):
        assert b.delay_for(0, 1) == 0.0
        b.spend(0, 1)
    assert b.delay_for(0, 1) == pytest.approx(10.0)  # the 10 s window is full at 8 of 10
    assert b.delay_for(5, 0) == 0.0  # weight is a separate limit
    clock.now += 10
    for _ in range(8):
        assert b.delay_for(0, 1) == 0.0
        b.spend(0, 1)
    # Now the 10 s window is full again, and the minute window has 16 of its 16 allowed.
    assert b.delay_for(0, 1) == pytest.approx(50.0)
    usage = b.usage()
    assert usage["x-mbx-order-count-10s"] == pytest.approx(0.8)
    assert usage["x-mbx-order-count-1m"] == pytest.approx(0.8)
    assert usage["x-mbx-used-weight-1m"] == 0.0


def test_headers_correct_the_count_upward_only() -> None:
    b, clock = budget(WEIGHT_1M)
    b.spend(10, 0)
    b.observe_headers({"X-MBX-USED-WEIGHT-1M": "75"})  # others share our IP
    assert b.usage()["x-mbx-used-weight-1m"] == pytest.approx(0.75)
    assert b.delay_for(5, 0) == 0.0
    assert b.delay_for(6, 0) == pytest.approx(60.0)
    b.observe_headers({"x-mbx-used-weight-1m": "3"})  # lower than our own count: ours wins
    assert b.usage()["x-mbx-used-weight-1m"] == pytest.approx(0.10)
    b.observe_headers({"x-mbx-used-weight-1m": "79"})
    clock.now += 59.5
    assert b.delay_for(2, 0) == pytest.approx(0.5)
    clock.now += 0.5  # the reported count has stood for a whole window
    assert b.delay_for(2, 0) == 0.0
    assert b.usage()["x-mbx-used-weight-1m"] == 0.0


def test_garbage_headers_are_ignored() -> None:
    b, _ = budget(WEIGHT_1M)
    b.observe_headers({"x-mbx-used-weight-1m": "lots", "x-mbx-order-count-10s": "-3"})
    assert b.usage()["x-mbx-used-weight-1m"] == 0.0


def test_a_ban_blocks_everything_until_retry_after() -> None:
    b, clock = budget()
    b.banned_for(30)
    assert b.delay_for(0, 0) == pytest.approx(30.0)
    assert b.delay_for(1, 1) == pytest.approx(30.0)
    assert b.ban_remaining() == pytest.approx(30.0)
    b.banned_for(5)  # a shorter one never shortens the block
    clock.now += 29
    assert b.delay_for(1, 0) == pytest.approx(1.0)
    clock.now += 1
    assert b.delay_for(1, 1) == 0.0
    assert b.ban_remaining() == 0.0


def test_a_request_bigger_than_the_headroom_goes_into_an_empty_window() -> None:
    b, clock = budget(WEIGHT_1M)
    assert b.delay_for(90, 0) == 0.0
    b.spend(1, 0)
    assert b.delay_for(90, 0) == pytest.approx(60.0)
    clock.now += 60
    assert b.delay_for(90, 0) == 0.0


def test_set_limits_keeps_the_history_of_the_same_limit() -> None:
    b, _ = budget(WEIGHT_1M)
    b.spend(40, 0)
    b.set_limits([RateLimit("REQUEST_WEIGHT", 60, 50), ORDERS_10S])
    assert b.usage() == {
        "x-mbx-used-weight-1m": pytest.approx(0.8),
        "x-mbx-order-count-10s": 0.0,
    }
    assert b.delay_for(1, 0) > 0
    assert b.limits == [RateLimit("REQUEST_WEIGHT", 60, 50), ORDERS_10S]


def test_headroom_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="headroom"):
        RateBudget([WEIGHT_1M], headroom=1.5)


# An action: (seconds to advance, weight, orders, a header value to observe or None).
ACTIONS = st.lists(
    st.tuples(
        st.integers(0, 15),
        st.integers(0, 30),
        st.integers(0, 3),
        st.none() | st.integers(0, 200),
    ),
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(actions=ACTIONS, headroom=st.sampled_from([0.5, 0.8, 1.0]))
def test_never_more_than_headroom_times_the_limit_in_any_window(
    actions: list[tuple[int, int, int, int | None]], headroom: float
) -> None:
    limits = (WEIGHT_1M, RateLimit("ORDERS", 10, 8), ORDERS_1M)
    b, clock = budget(*limits, headroom=headroom)
    sent: list[tuple[float, int, int]] = []
    for advance, weight, orders, header in actions:
        clock.now += advance
        if header is not None:
            b.observe_headers({"x-mbx-used-weight-1m": str(header)})
        # What `VenueClient.request` does: wait as told, ask again, then send.
        for _ in range(10):
            delay = b.delay_for(weight, orders)
            if delay <= 0:
                break
            clock.now += delay
        assert b.delay_for(weight, orders) == 0.0  # waiting as told always frees it
        b.spend(weight, orders)
        sent.append((clock.now, weight, orders))
    for limit in limits:
        cap = int(limit.limit * headroom + 1e-9)
        for start, _, _ in sent:
            in_window = [
                w if limit.kind == "REQUEST_WEIGHT" else o
                for t, w, o in sent
                if start <= t < start + limit.window_s
            ]
            assert sum(in_window) <= cap, (limit, start)


def test_credentials_never_show_the_secret() -> None:
    credentials = Credentials(KEY, SECRET)
    for text in (
        repr(credentials),
        str(credentials),
        f"{credentials}",
        repr(VenueClient("x", credentials)),
    ):
        assert SECRET not in text
        assert SECRET[:8] not in text
    assert KEY[:6] in repr(credentials)
    assert KEY not in repr(credentials)
    assert not hasattr(credentials, "__dict__")  # nothing but the slots
    assert SECRET not in repr(credentials._secret)
    with pytest.raises(TypeError):
        pickle.dumps(credentials)


def test_credentials_sign_as_binance_publishes() -> None:
    payload = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
        "&recvWindow=5000&timestamp=1591702613943"
    )
    signature = Credentials(KEY, SECRET).sign(payload)
    assert signature == "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    assert signature == sign(SECRET.encode(), payload)


def test_missing_credentials_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="required") as info:
        Credentials(KEY, "")
    assert KEY not in str(info.value)
    with pytest.raises(ValueError, match="required") as info:
        Credentials("", SECRET)
    assert SECRET not in str(info.value)


async def test_a_signed_request_without_keys_fails_before_sending() -> None:
    client = VenueClient("http://127.0.0.1:9", None)
    try:
        with pytest.raises(VenueError, match="no API keys"):
            await client.request("GET", "/fapi/v2/account", signed=True, weight=5)
    finally:
        await client.close()


async def test_a_transport_failure_is_status_0_and_logs_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # Port 9 (discard) on loopback: nothing listens in the test environment.
    client = VenueClient("http://127.0.0.1:9", Credentials(KEY, SECRET), timeout_s=2.0)
    try:
        with pytest.raises(VenueError) as info:
            await client.new_order({"symbol": "BTCUSDT", "newClientOrderId": "abc-1"})
    finally:
        await client.close()
    assert info.value.status == 0
    # No connection was made: known not sent, so an order's outcome is not in doubt.
    assert info.value.request_ms == 0
    assert "not sent" in str(info.value)
    rendered = "".join(traceback.format_exception(info.value))
    assert SECRET not in rendered
    for record in caplog.records:
        assert SECRET not in str(record.__dict__)
    assert any(getattr(r, "client_id", None) == "abc-1" for r in caplog.records)


async def test_a_ban_refuses_without_sending() -> None:
    client = VenueClient("http://127.0.0.1:9", Credentials(KEY, SECRET))
    try:
        client.budget.banned_for(30)
        with pytest.raises(VenueError, match="rate limited") as info:
            await client.query_order("BTCUSDT", "abc")
        assert info.value.status == 429
        assert info.value.code == -1003
    finally:
        await client.close()


def test_the_default_limits_are_binances() -> None:
    client = VenueClient("http://127.0.0.1:9", None)
    assert client.budget.limits == list(DEFAULT_LIMITS)
    assert set(client.budget.usage()) == {
        "x-mbx-used-weight-1m",
        "x-mbx-order-count-1m",
        "x-mbx-order-count-10s",
    }


def test_a_venue_error_shows_the_venues_words_in_short() -> None:
    answered = VenueError(
        "POST /fapi/v1/order: HTTP 400 code -2019: Margin is insufficient.",
        400,
        -2019,
        "Margin is insufficient.",
        1_700_000_000_000,
    )
    assert answered.detail == "-2019 Margin is insufficient."
    assert answered.request_ms == 1_700_000_000_000
    silent = VenueError("POST /fapi/v1/order: no answer in time")
    assert silent.detail == "POST /fapi/v1/order: no answer in time"
