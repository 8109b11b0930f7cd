"""Signed REST venue client with client-side rate budgets.

Owns: one keep-alive HTTP session, the clock offset to the venue (from `/fapi/v1/time`), the
credentials, the last `exchangeInfo`, and a `RateBudget` over the venue's rate limits. Every
request waits on the budget first, so the client throttles itself *before* the venue says 429;
the budget is corrected from the `X-MBX-USED-WEIGHT-*` / `X-MBX-ORDER-COUNT-*` headers, and
after a 429/418 nothing is sent until its Retry-After has passed, so a ban never escalates.

The secret lives only inside `Credentials` (as bytes in an object whose repr hides it); it
is never logged, put in an exception message, or held in a local variable of this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Final

import aiohttp
import orjson
from yarl import URL

from hftui.engine.binance.auth import encode_params
from hftui.engine.binance.rest import VenueError
from hftui.engine.instrument import RateLimit, parse_rate_limits

__all__ = ["DEFAULT_LIMITS", "Credentials", "RateBudget", "VenueClient", "VenueTimeoutError"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]

# Binance's published limits: the budget until exchangeInfo says otherwise.
DEFAULT_LIMITS: Final = (
    RateLimit("REQUEST_WEIGHT", 60, 2400),
    RateLimit("ORDERS", 60, 1200),
    RateLimit("ORDERS", 10, 300),
)
# Without a Retry-After: a 429 waits out a whole weight window, a 418 Binance's first ban.
_DEFAULT_RETRY_S: Final = {429: 60.0, 418: 120.0}
_TIME_SKEW: Final = -1021
_BAD_SIGNATURE: Final = -1022
_FORM: Final = "application/x-www-form-urlencoded"


class VenueTimeoutError(VenueError):
    """No answer in time: the outcome is unknown. Query the order, never resend it."""


class _Secret:
    """The secret's bytes; signs without ever handing them out."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, payload: str) -> str:
        # Same HMAC-SHA256 as auth.sign, computed here so no frame holds the key as a local.
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # also what str() shows
        return "<hidden>"

    def __reduce__(self) -> str:
        raise TypeError("a secret cannot be pickled")


class Credentials:
    """An API key and its secret; `repr` and `str` show a key prefix, never the secret."""

    __slots__ = ("_secret", "api_key")

    def __init__(self, api_key: str, secret: str) -> None:
        if not api_key or not secret:
            raise ValueError("an API key and a secret are both required")
        self.api_key = api_key
        self._secret = _Secret(secret.encode())

    def sign(self, payload: str) -> str:
        """Lowercase hex HMAC-SHA256 of `payload`: exactly the encoded parameters sent."""
        return self._secret.sign(payload)

    def __repr__(self) -> str:  # also what str() shows
        return f"Credentials(api_key='{self.api_key[:6]}…', secret=<hidden>)"


@dataclass(slots=True)
class _Track:
    """One limit: our own spends in a sliding window, and the venue's last reported count."""

    limit: RateLimit
    spent: deque[tuple[float, int]] = field(default_factory=deque)  # (time, cost)
    total: int = 0
    reported: int = 0
    reported_at: float = -math.inf

    def evict(self, now: float) -> None:
        # Same comparison as `ready_at` uses, so waiting exactly that long always frees it.
        window = self.limit.window_s
        while self.spent and self.spent[0][0] + window <= now:
            self.total -= self.spent.popleft()[1]

    def venue_count(self, now: float) -> int:
        # A reported count stands for a whole window: we cannot see how it will decay.
        return self.reported if now < self.reported_at + self.limit.window_s else 0

    def used(self, now: float) -> int:
        self.evict(now)
        return max(self.total, self.venue_count(now))

    def ready_at(self, now: float, cost: int, cap: int) -> float:
        """The earliest time at which `cost` more stays within `cap`."""
        self.evict(now)
        at = now
        excess = self.total + cost - cap
        if excess > 0:
            freed = 0
            for spent_at, n in self.spent:
                freed += n
                if freed >= excess:
                    at = spent_at + self.limit.window_s
                    break
        if self.venue_count(now) + cost > cap:
            at = max(at, self.reported_at + self.limit.window_s)
        return at


class RateBudget:
    """Client-side budget per venue limit.

    Counts what this client spent in each window, corrected from the response headers (the
    venue's number wins when larger: other processes may share the IP or the key), and says
    how long to wait before a request would exceed `headroom` of any limit. After a 429/418
    it blocks everything until Retry-After.
    """

    def __init__(
        self, limits: Sequence[RateLimit], headroom: float = 0.8, clock: Clock = time.monotonic
    ) -> None:
        if not 0 < headroom <= 1:
            raise ValueError("headroom must be in (0, 1]")
        self.headroom = headroom
        self.clock = clock
        self.banned_until = -math.inf
        self._tracks: list[_Track] = []
        self.set_limits(limits)

    @property
    def limits(self) -> list[RateLimit]:
        return [t.limit for t in self._tracks]

    def set_limits(self, limits: Sequence[RateLimit]) -> None:
        """Replace the limits (from exchangeInfo), keeping the history of those kept."""
        old = {t.limit.header: t for t in self._tracks}
        tracks = []
        for limit in limits:
            kept = old.get(limit.header)
            track = _Track(limit)
            if kept is not None:
                track.spent, track.total = kept.spent, kept.total
                track.reported, track.reported_at = kept.reported, kept.reported_at
            tracks.append(track)
        self._tracks = tracks

    def _cap(self, limit: RateLimit) -> int:
        return math.floor(limit.limit * self.headroom + 1e-9)

    @staticmethod
    def _cost(limit: RateLimit, weight: int, orders: int) -> int:
        return weight if limit.kind == "REQUEST_WEIGHT" else orders

    def ban_remaining(self) -> float:
        """Seconds until a 429/418 stops blocking (0.0: not blocked)."""
        return max(0.0, self.banned_until - self.clock())

    def delay_for(self, weight: int, orders: int) -> float:
        """Seconds to wait before a request of this cost may be sent (0.0: go now).

        A request costing more than the headroom on its own goes when its window is empty.

        Args:
            weight: its IP weight.
            orders: how many orders it counts against the ORDERS limits.
        """
        now = self.clock()
        at = max(now, self.banned_until)
        for track in self._tracks:
            cost = self._cost(track.limit, weight, orders)
            if cost > 0:
                at = max(at, track.ready_at(now, cost, max(cost, self._cap(track.limit))))
        return at - now

    def spend(self, weight: int, orders: int) -> None:
        """Record a request of this weight and order count as sent now."""
        now = self.clock()
        for track in self._tracks:
            cost = self._cost(track.limit, weight, orders)
            if cost > 0:
                track.evict(now)
                track.spent.append((now, cost))
                track.total += cost

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        """Take the venue's counts from a response's usage headers (any case)."""
        now = self.clock()
        lowered = {k.lower(): v for k, v in headers.items()}
        for track in self._tracks:
            value = lowered.get(track.limit.header, "").strip()
            if value.isdigit():
                track.reported, track.reported_at = int(value), now

    def banned_for(self, seconds: float) -> None:
        """Block every request for `seconds`: a 429's or 418's Retry-After."""
        self.banned_until = max(self.banned_until, self.clock() + max(0.0, seconds))

    def usage(self) -> dict[str, float]:
        """Fraction of each limit used in its current window, keyed by header name."""
        now = self.clock()
        return {
            t.limit.header: t.used(now) / t.limit.limit for t in self._tracks if t.limit.limit > 0
        }

    def peek(self) -> list[tuple[str, int, int]]:
        """(header, used in the current window, limit) per limit, changing nothing: for a
        reader on another thread (the metrics exporter), where `usage` would evict from
        deques the loop owns. The spends are copied first (one C-level copy under the GIL)."""
        now = self.clock()
        out = []
        for track in list(self._tracks):
            window = track.limit.window_s
            spent = sum(cost for at, cost in tuple(track.spent) if at + window > now)
            out.append((track.limit.header, max(spent, track.venue_count(now)), track.limit.limit))
        return out


def _retry_after(status: int, value: str | None) -> float:
    try:
        seconds = float(value or "nan")
    except ValueError:
        seconds = math.nan
    return seconds if math.isfinite(seconds) and seconds > 0 else _DEFAULT_RETRY_S[status]


class VenueClient:
    """Signed REST calls to Binance USD-M (or the local exchange) over one keep-alive session."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        recv_window_ms: int = 5000,
        timeout_s: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.recv_window_ms = recv_window_ms
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 5.0))
        self.budget = RateBudget(DEFAULT_LIMITS)
        self.offset_ms = 0  # venue clock minus ours
        self.rtt_ms = 0.0
        self.exchange_info: dict[str, object] = {}
        self._limit_status = 429  # what the last 429/418 was, for refusals during its block
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"VenueClient({self.base_url!r}, {self.credentials!r})"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            context = ssl.create_default_context()  # verifies certificates and host names
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_headers_sent)
            self._session = aiohttp.ClientSession(
                timeout=self.timeout,
                connector=aiohttp.TCPConnector(ssl=context, limit=16),
                trace_configs=[trace],
            )
        return self._session

    async def start(self) -> None:
        """Measure the clock offset, then load exchangeInfo and its rate limits (VenueError
        when the venue does not answer usably)."""
        await self.sync_time()
        info = await self.request("GET", "/fapi/v1/exchangeInfo", signed=False, weight=1)
        if not isinstance(info, dict):
            raise VenueError("exchangeInfo: the answer is not an object")
        self.exchange_info = info
        limits = parse_rate_limits(info)
        if limits:
            self.budget.set_limits(limits)
        else:
            log.warning("exchangeInfo has no rateLimits; keeping Binance's published ones")

    async def sync_time(self) -> None:
        """Measure the venue's clock offset at the midpoint of one round trip."""
        await self._admit("GET", "/fapi/v1/time", 1, 0)
        before = time.time()
        data = await self._exchange("GET", "/fapi/v1/time", {}, signed=False, keyed=False)
        after = time.time()
        server = data.get("serverTime") if isinstance(data, dict) else None
        if not isinstance(server, int):
            raise VenueError("time: the answer has no serverTime")
        self.offset_ms = round(server - (before + after) * 500)
        self.rtt_ms = (after - before) * 1000
        measured = {"offset_ms": self.offset_ms, "rtt_ms": round(self.rtt_ms, 2)}
        log.info("venue clock measured", extra=measured)

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        *,
        signed: bool,
        weight: int,
        orders: int = 0,
        keyed: bool = False,
        on_sent: Callable[[], None] | None = None,
    ) -> object:
        """One REST call: throttled by the budget, signed when asked.

        Args:
            method: HTTP method.
            path: e.g. "/fapi/v1/order".
            params: request parameters, sent in this order.
            signed: add timestamp, recvWindow and signature (TRADE / USER_DATA endpoints).
            weight: the endpoint's IP weight.
            orders: how many orders it counts against the ORDERS limits.
            keyed: send the API key header without signing (USER_STREAM endpoints).
            on_sent: called once the request is written to the connection (the kill
                switch times "every cancel sent" by it).

        Returns:
            The decoded JSON body.

        Raises:
            VenueTimeoutError: no answer in time; the outcome is unknown.
            VenueError: a transport failure (status 0), the venue's error (its status and
                code), or a 429/418 block still running (nothing was sent).
        """
        await self._admit(method, path, weight, orders)
        return await self._exchange(
            method, path, params or {}, signed=signed, keyed=keyed, on_sent=on_sent
        )

    async def _admit(self, method: str, path: str, weight: int, orders: int) -> None:
        # Refuse rather than wait out a ban: an order sent minutes late is a stale order.
        while True:
            banned = self.budget.ban_remaining()
            if banned > 0:
                raise VenueError(
                    f"{method} {path}: not sent, rate limited for {banned:.1f} s more",
                    self._limit_status,
                    -1003,
                )
            delay = self.budget.delay_for(weight, orders)
            if delay <= 0:
                break
            log.info(
                "throttling before the venue's limit",
                extra={"path": path, "delay_s": round(delay, 3), "usage": self.budget.usage()},
            )
            await asyncio.sleep(delay)
        self.budget.spend(weight, orders)

    def _encode(
        self, method: str, path: str, params: dict[str, str], signed: bool, keyed: bool
    ) -> tuple[URL, bytes | None, dict[str, str], int]:
        headers: dict[str, str] = {}
        now_ms = 0
        query = encode_params(params)
        credentials = self.credentials
        if signed or keyed:
            if credentials is None:
                raise VenueError(f"{method} {path}: no API keys configured")
            headers["X-MBX-APIKEY"] = credentials.api_key
        if signed and credentials is not None:
            now_ms = int(time.time() * 1000) + self.offset_ms
            stamp = encode_params(
                {"recvWindow": str(self.recv_window_ms), "timestamp": str(now_ms)}
            )
            query = f"{query}&{stamp}" if query else stamp
            query = f"{query}&signature={credentials.sign(query)}"
        if method in ("POST", "PUT") and query:
            headers["Content-Type"] = _FORM
            return URL(self.base_url + path, encoded=True), query.encode(), headers, now_ms
        # encoded=True: the bytes on the wire are exactly the bytes signed.
        target = f"{self.base_url}{path}?{query}" if query else self.base_url + path
        return URL(target, encoded=True), None, headers, now_ms

    async def _exchange(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        *,
        signed: bool,
        keyed: bool,
        on_sent: Callable[[], None] | None = None,
    ) -> object:
        url, body, headers, stamp = self._encode(method, path, params, signed, keyed)
        extra: dict[str, object] = {"method": method, "path": path}
        client_id = params.get("newClientOrderId") or params.get("origClientOrderId")
        if client_id:
            extra["client_id"] = client_id
        started = time.monotonic()
        try:
            async with self._client().request(
                method, url, data=body, headers=headers, trace_request_ctx=on_sent
            ) as resp:
                raw = await resp.read()
                status = resp.status
                self.budget.observe_headers(resp.headers)
                retry_after = resp.headers.get("Retry-After")
        except aiohttp.ConnectionTimeoutError as exc:
            log.warning("venue connect timed out", extra=extra)
            raise VenueError(f"{method} {path}: connect timed out, not sent", 0) from exc
        except TimeoutError as exc:
            log.warning("venue request timed out; outcome unknown", extra=extra)
            raise VenueTimeoutError(
                f"{method} {path}: no answer in time", 0, request_ms=stamp
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            # No connection was made, so nothing was sent: the outcome is known (no order).
            log.warning("venue unreachable", extra=extra | {"error": type(exc).__name__})
            raise VenueError(f"{method} {path}: {type(exc).__name__}: {exc}, not sent", 0) from exc
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("venue transport error", extra=extra | {"error": type(exc).__name__})
            raise VenueError(
                f"{method} {path}: {type(exc).__name__}: {exc}", 0, request_ms=stamp
            ) from exc
        extra |= {"status": status, "elapsed_ms": round((time.monotonic() - started) * 1000, 2)}
        if status in (418, 429):
            seconds = _retry_after(status, retry_after)
            self._limit_status = status
            self.budget.banned_for(seconds)
            log.error("venue rate limit hit", extra=extra | {"retry_after_s": seconds})
        try:
            data: object = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            log.warning("venue answer is not JSON", extra=extra)
            # An unreadable 2xx leaves the outcome unknown, like a transport failure.
            raise VenueError(
                f"{method} {path}: HTTP {status}, body is not JSON ({raw[:80]!r})",
                status if status >= 400 else 0,
                request_ms=stamp,
            ) from None
        if status < 400:
            log.debug("venue request", extra=extra)
            return data
        code = data.get("code", 0) if isinstance(data, dict) else 0
        msg = data.get("msg", "") if isinstance(data, dict) else ""
        code = code if isinstance(code, int) else 0
        extra |= {"code": code, "venue_msg": str(msg)[:200]}
        level = logging.WARNING if code in (_TIME_SKEW, _BAD_SIGNATURE) else logging.INFO
        log.log(level, "venue error", extra=extra)
        error = VenueError(
            f"{method} {path}: HTTP {status} code {code}: {msg}", status, code, str(msg), stamp
        )
        if code == _TIME_SKEW:
            # Our clock drifted from the venue's: measure again so the caller's retry works.
            try:
                await self.sync_time()
            except VenueError as exc:
                log.warning("clock resync failed", extra={"error": str(exc)})
        raise error

    async def _object(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        weight: int,
        orders: int = 0,
        on_sent: Callable[[], None] | None = None,
    ) -> dict[str, object]:
        data = await self.request(
            method, path, params, signed=True, weight=weight, orders=orders, on_sent=on_sent
        )
        if not isinstance(data, dict):
            raise VenueError(f"{method} {path}: expected an object, got {type(data).__name__}")
        return data

    async def _rows(
        self, path: str, params: dict[str, str], weight: int
    ) -> list[dict[str, object]]:
        data = await self.request("GET", path, params, signed=True, weight=weight)
        if not isinstance(data, list):
            raise VenueError(f"GET {path}: expected a list, got {type(data).__name__}")
        return [row for row in data if isinstance(row, dict)]

    async def new_order(self, params: dict[str, str]) -> dict[str, object]:
        """`POST /fapi/v1/order` (weight 0, one order); `params` with `newClientOrderId`."""
        return await self._object("POST", "/fapi/v1/order", params, 0, orders=1)

    async def cancel_order(self, symbol: str, client_id: str) -> dict[str, object]:
        """`DELETE /fapi/v1/order` by client order id (weight 1); the canceled order."""
        params = {"symbol": symbol, "origClientOrderId": client_id}
        return await self._object("DELETE", "/fapi/v1/order", params, 1)

    async def cancel_all(
        self, symbol: str, on_sent: Callable[[], None] | None = None
    ) -> dict[str, object]:
        """`DELETE /fapi/v1/allOpenOrders` (weight 1); the venue's `{code: 200, msg}`."""
        params = {"symbol": symbol}
        return await self._object("DELETE", "/fapi/v1/allOpenOrders", params, 1, on_sent=on_sent)

    async def query_order(self, symbol: str, client_id: str) -> dict[str, object]:
        """`GET /fapi/v1/order` by client order id (weight 1); the order object."""
        params = {"symbol": symbol, "origClientOrderId": client_id}
        return await self._object("GET", "/fapi/v1/order", params, 1)

    async def open_orders(self, symbol: str | None = None) -> list[dict[str, object]]:
        """`GET /fapi/v1/openOrders` for one symbol (weight 1) or all (None: weight 40)."""
        params = {"symbol": symbol} if symbol else {}
        return await self._rows("/fapi/v1/openOrders", params, 1 if symbol else 40)

    async def countdown_cancel_all(self, symbol: str, countdown_ms: int) -> dict[str, object]:
        """`POST /fapi/v1/countdownCancelAll` (weight 10): unless called again within
        `countdown_ms`, the venue cancels the symbol's orders; 0 disarms."""
        params = {"symbol": symbol, "countdownTime": str(countdown_ms)}
        return await self._object("POST", "/fapi/v1/countdownCancelAll", params, 10)

    async def listen_key(self) -> str:
        """`POST /fapi/v1/listenKey` (weight 1, API key only); the user-data stream key."""
        data = await self.request("POST", "/fapi/v1/listenKey", signed=False, keyed=True, weight=1)
        key = data.get("listenKey") if isinstance(data, dict) else None
        if not isinstance(key, str) or not key:
            raise VenueError("listenKey: the answer has no key")
        return key

    async def keepalive_listen_key(self) -> None:
        """`PUT /fapi/v1/listenKey` (weight 1): extend the key's validity to 60 minutes."""
        await self.request("PUT", "/fapi/v1/listenKey", signed=False, keyed=True, weight=1)

    async def account(self) -> dict[str, object]:
        """`GET /fapi/v2/account` (weight 5): balances, margins and positions."""
        return await self._object("GET", "/fapi/v2/account", {}, 5)

    async def balances(self) -> list[dict[str, object]]:
        """`GET /fapi/v2/balance` (weight 5): each asset's wallet and available balance."""
        return await self._rows("/fapi/v2/balance", {}, 5)

    async def position_risk(self) -> list[dict[str, object]]:
        """`GET /fapi/v2/positionRisk`, budgeted at 10 (Binance raised it from 5 in 2024)."""
        return await self._rows("/fapi/v2/positionRisk", {}, 10)

    async def close(self) -> None:
        """Close the session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _headers_sent(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    # A request without a body is on the wire once its headers are written.
    on_sent = context.trace_request_ctx
    if callable(on_sent):
        on_sent()
