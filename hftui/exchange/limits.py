"""Rate limits as Binance USD-M applies them: request weight per IP per minute, orders per
account per 10 s and per minute, 429 with Retry-After, then escalating 418 bans.

Owns: the sliding windows and ban state. Windows are per-second buckets over the last
60 s, so the headers report what the client used in the trailing minute.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Limits", "RateLimiter", "Verdict", "request_weight"]

_STRIKES_BEFORE_BAN: Final = 3  # 429s answered while over the limit, before a 418


@dataclass(frozen=True, slots=True)
class Limits:
    weight_per_minute: int = 2400
    orders_per_10s: int = 300
    orders_per_minute: int = 1200
    ban_base_s: float = 120.0  # first ban; each later one doubles


@dataclass(slots=True)
class _Window:
    """Counts in per-second buckets over a trailing span."""

    span_s: int
    buckets: deque[list[int]] = field(default_factory=deque)  # [second, count]
    total: int = 0

    def _evict(self, second: int) -> None:
        while self.buckets and self.buckets[0][0] <= second - self.span_s:
            self.total -= self.buckets.popleft()[1]

    def used(self, second: int) -> int:
        self._evict(second)
        return self.total

    def add(self, second: int, amount: int) -> None:
        self._evict(second)
        if self.buckets and self.buckets[-1][0] == second:
            self.buckets[-1][1] += amount
        else:
            self.buckets.append([second, amount])
        self.total += amount

    def seconds_until_free(self, second: int) -> int:
        self._evict(second)
        return max(1, self.buckets[0][0] + self.span_s - second) if self.buckets else 1


@dataclass(slots=True)
class _Client:
    weight: _Window = field(default_factory=lambda: _Window(60))
    strikes: int = 0
    banned_until: float = 0.0
    bans: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to answer: status 200 to proceed, or 429/418 with Retry-After, plus headers."""

    status: int
    code: int
    msg: str
    retry_after_s: int
    headers: dict[str, str]


def request_weight(method: str, path: str, query: dict[str, str]) -> int:
    """The IP weight of one request, per the reference's endpoint table."""
    has_symbol = bool(query.get("symbol"))
    if path.endswith("/depth"):
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 500
        return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20
    table = {
        "/fapi/v1/exchangeInfo": 1,
        "/fapi/v1/trades": 5,
        "/fapi/v1/aggTrades": 20,
        "/fapi/v1/klines": 5,
        "/fapi/v1/allOrders": 5,
        "/fapi/v1/userTrades": 5,
        "/fapi/v2/account": 5,
        "/fapi/v3/account": 5,
        "/fapi/v2/balance": 5,
        "/fapi/v3/balance": 5,
        "/fapi/v2/positionRisk": 5,
        "/fapi/v3/positionRisk": 5,
        "/fapi/v1/countdownCancelAll": 10,
        "/fapi/v1/commissionRate": 20,
        "/fapi/v1/positionSide/dual": 30 if method == "GET" else 1,
        "/fapi/v1/batchOrders": 5 if method == "POST" else 1,
        "/fapi/v1/openAlgoOrders": 1 if has_symbol else 40,
    }
    if path in ("/fapi/v1/ticker/24hr",):
        return 1 if has_symbol else 40
    if path in ("/fapi/v1/openOrders",):
        return 1 if has_symbol else 40
    if path in ("/fapi/v1/ticker/bookTicker",):
        return 2 if has_symbol else 5
    if path in ("/fapi/v1/premiumIndex",):
        return 1 if has_symbol else 10
    if path == "/fapi/v1/order" and method == "POST":
        return 0  # new orders count against the order limits instead
    return table.get(path, 1)


class RateLimiter:
    """Sliding-window limiter keyed by client IP and by API key."""

    def __init__(self, limits: Limits, clock_s: Callable[[], float]) -> None:
        self.limits = limits
        self.clock_s = clock_s
        self._clients: dict[str, _Client] = {}
        self._orders: dict[str, tuple[_Window, _Window]] = {}

    def check(
        self, ip: str, weight: int, api_key: str | None, orders: int, orders_1m: int | None = None
    ) -> Verdict:
        """Account for one request and decide whether it may proceed."""
        now = self.clock_s()
        second = int(now)
        client = self._clients.setdefault(ip, _Client())
        if client.banned_until > now:
            until_ms = int(client.banned_until * 1000)
            return self._refuse(
                418,
                -1003,
                f"Way too many requests; IP({ip}) banned until {until_ms}. Please use the "
                "websocket for live updates to avoid bans.",
                int(client.banned_until - now) + 1,
                client,
                second,
            )
        limit = self.limits.weight_per_minute
        if client.weight.used(second) + weight > limit:
            client.strikes += 1
            if client.strikes > _STRIKES_BEFORE_BAN:
                client.banned_until = now + self.limits.ban_base_s * (2**client.bans)
                client.bans += 1
                client.strikes = 0
            return self._refuse(
                429,
                -1003,
                f"Too many requests; current limit of IP({ip}) is {limit} requests per minute. "
                "Please use the websocket for live updates to avoid polling the API.",
                client.weight.seconds_until_free(second),
                client,
                second,
            )
        client.strikes = 0
        client.weight.add(second, weight)
        headers = {"X-MBX-USED-WEIGHT-1M": str(client.weight.used(second))}
        if api_key is not None and orders:
            per_minute = orders if orders_1m is None else orders_1m
            ten, minute = self._orders.setdefault(api_key, (_Window(10), _Window(60)))
            for window, cap, count, label in (
                (ten, self.limits.orders_per_10s, orders, "10 SECONDS"),
                (minute, self.limits.orders_per_minute, per_minute, "1 MINUTE"),
            ):
                if window.used(second) + count > cap:
                    return Verdict(
                        429,
                        -1015,
                        f"Too many new orders; current limit is {cap} orders per {label}.",
                        window.seconds_until_free(second),
                        headers,
                    )
            ten.add(second, orders)
            minute.add(second, per_minute)
            headers["X-MBX-ORDER-COUNT-10S"] = str(ten.used(second))
            headers["X-MBX-ORDER-COUNT-1M"] = str(minute.used(second))
        return Verdict(200, 0, "", 0, headers)

    @staticmethod
    def _refuse(
        status: int, code: int, msg: str, retry: int, client: _Client, second: int
    ) -> Verdict:
        headers = {"X-MBX-USED-WEIGHT-1M": str(client.weight.used(second))}
        return Verdict(status, code, msg, max(1, retry), headers)
