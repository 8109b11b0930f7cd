"""Rate limits: weights, sliding windows, 429 then escalating 418 bans, order counts."""

from __future__ import annotations

from hftui.exchange.limits import Limits, RateLimiter, request_weight


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_weights_follow_the_reference() -> None:
    assert request_weight("GET", "/fapi/v1/depth", {"limit": "5"}) == 2
    assert request_weight("GET", "/fapi/v1/depth", {"limit": "100"}) == 5
    assert request_weight("GET", "/fapi/v1/depth", {}) == 10
    assert request_weight("GET", "/fapi/v1/depth", {"limit": "1000"}) == 20
    assert request_weight("GET", "/fapi/v1/openOrders", {}) == 40
    assert request_weight("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}) == 1
    assert request_weight("GET", "/fapi/v1/positionSide/dual", {}) == 30
    assert request_weight("POST", "/fapi/v1/order", {}) == 0
    assert request_weight("GET", "/fapi/v1/ping", {}) == 1


def test_weight_window_slides_and_bans_escalate() -> None:
    clock = Clock()
    limiter = RateLimiter(Limits(weight_per_minute=10, ban_base_s=120), clock)
    for used in range(1, 11):
        verdict = limiter.check("1.2.3.4", 1, None, 0)
        assert verdict.status == 200
        assert verdict.headers["X-MBX-USED-WEIGHT-1M"] == str(used)
    refused = limiter.check("1.2.3.4", 1, None, 0)
    assert (refused.status, refused.code) == (429, -1003)
    assert 1 <= refused.retry_after_s <= 60
    assert limiter.check("5.6.7.8", 1, None, 0).status == 200  # limits are per IP
    for _ in range(3):
        assert limiter.check("1.2.3.4", 1, None, 0).status == 429
    banned = limiter.check("1.2.3.4", 1, None, 0)
    assert banned.status == 418  # kept hammering after 429s
    assert limiter.check("1.2.3.4", 1, None, 0).status == 418
    clock.now += 121  # first ban: two minutes; the window has slid too
    assert limiter.check("1.2.3.4", 1, None, 0).status == 200
    for _ in range(9):
        limiter.check("1.2.3.4", 1, None, 0)
    for _ in range(4):
        limiter.check("1.2.3.4", 1, None, 0)
    second_ban = limiter.check("1.2.3.4", 1, None, 0)
    assert second_ban.status == 418
    assert second_ban.retry_after_s > 200  # doubled


def test_order_counts_per_account() -> None:
    clock = Clock()
    limiter = RateLimiter(Limits(orders_per_10s=3, orders_per_minute=5), clock)
    for n in range(1, 4):
        verdict = limiter.check("ip", 0, "key", 1)
        assert verdict.headers["X-MBX-ORDER-COUNT-10S"] == str(n)
        assert verdict.headers["X-MBX-ORDER-COUNT-1M"] == str(n)
    refused = limiter.check("ip", 0, "key", 1)
    assert (refused.status, refused.code) == (429, -1015)
    assert limiter.check("ip", 0, "other-key", 1).status == 200
    clock.now += 11
    assert limiter.check("ip", 0, "key", 1).status == 200
    assert limiter.check("ip", 0, "key", 1).status == 200
    assert limiter.check("ip", 0, "key", 1).status == 429  # now the minute limit
