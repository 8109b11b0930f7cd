"""Signed REST venue client with client-side rate budgets.

Owns: one keep-alive HTTP session, the clock offset to the venue (from `/fapi/v1/time`), the
credentials, and a `RateBudget` per venue limit. Every request waits on the budget first, so
the client throttles itself *before* the venue says 429; the budget is corrected from the
`X-MBX-USED-WEIGHT-*` / `X-MBX-ORDER-COUNT-*` headers, and a 429/418 stops every request
until its Retry-After has passed, so a ban never escalates.

The secret lives only inside `Credentials`, whose repr hides it; it is never logged or put
in an exception message.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import aiohttp
import orjson

from hftui.engine.binance.auth import encode_params, sign
from hftui.engine.binance.rest import VenueError
from hftui.engine.instrument import RateLimit, parse_rate_limits

__all__ = ["Credentials", "RateBudget", "VenueClient", "VenueTimeoutError"]

log = logging.getLogger(__name__)

_DEFAULT_BAN_S: Final = 10.0
_TIME_SKEW: Final = -1021


class VenueTimeoutError(VenueError):
    """No answer in time: the outcome is unknown. Query, never resend."""


class Credentials:
    """An API key and its secret; `repr` and `str` never show the secret."""

    __slots__ = ("_secret", "api_key")

    def __init__(self, api_key: str, secret: str) -> None:
        self.api_key = api_key
        self._secret = secret.encode()

    def sign(self, payload: str) -> str:
        return sign(self._secret, payload)

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.api_key[:6]}..., secret=<hidden>)"

    __str__ = __repr__


class RateBudget:
    """What this client spent per venue limit, in sliding windows."""

    def __init__(
        self,
        limits: Sequence[RateLimit] = (),
        headroom: float = 0.8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.headroom = headroom
        self.clock = clock
        self.banned_until = 0.0
        self.set_limits(limits)

    def set_limits(self, limits: Sequence[RateLimit]) -> None:
        self.limits = list(limits)
        self._spent: list[deque[tuple[float, int]]] = [deque() for _ in self.limits]
        self._reported: list[tuple[float, int]] = [(0.0, 0) for _ in self.limits]

    def _used(self, i: int, now: float) -> int:
        window = self.limits[i].window_s
        spent = self._spent[i]
        while spent and spent[0][0] <= now - window:
            spent.popleft()
        own = sum(n for _, n in spent)
        at, reported = self._reported[i]
        # The venue's count wins when larger (other clients on the same key or IP), until
        # its window has passed.
        return max(own, reported if now - at < window else 0)

    def _cost(self, limit: RateLimit, weight: int, orders: int) -> int:
        return weight if limit.kind == "REQUEST_WEIGHT" else orders

    def delay_for(self, weight: int, orders: int) -> float:
        """Seconds to wait before a request of this cost (0.0: go now)."""
        now = self.clock()
        wait = max(0.0, self.banned_until - now)
        for i, limit in enumerate(self.limits):
            cost = self._cost(limit, weight, orders)
            if not cost:
                continue
            cap = int(limit.limit * self.headroom)
            if self._used(i, now) + cost <= cap:
                continue
            spent = self._spent[i]
            # Wait for enough of our own spending to leave the window (or the whole window).
            freed, until = 0, now + limit.window_s
            excess = self._used(i, now) + cost - cap
            for at, n in spent:
                freed += n
                if freed >= excess:
                    until = at + limit.window_s
                    break
            wait = max(wait, until - now)
        return wait

    def spend(self, weight: int, orders: int) -> None:
        now = self.clock()
        for i, limit in enumerate(self.limits):
            cost = self._cost(limit, weight, orders)
            if cost:
                self._spent[i].append((now, cost))

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        now = self.clock()
        lowered = {k.lower(): v for k, v in headers.items()}
        for i, limit in enumerate(self.limits):
            value = lowered.get(limit.header)
            if value is not None and value.isdigit():
                self._reported[i] = (now, int(value))

    def banned_for(self, seconds: float) -> None:
        self.banned_until = max(self.banned_until, self.clock() + seconds)

    def usage(self) -> dict[str, float]:
        now = self.clock()
        return {
            limit.header: self._used(i, now) / limit.limit
            for i, limit in enumerate(self.limits)
            if limit.limit
        }


class VenueClient:
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
        self.budget = RateBudget()
        self.offset_ms = 0
        self.exchange_info: dict[str, object] = {}
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            context = ssl.create_default_context()  # verifies certificates and host names
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, connector=aiohttp.TCPConnector(ssl=context, limit=16)
            )
        return self._session

    async def start(self) -> None:
        """Measure the clock offset and load the venue's rate limits."""
        await self.sync_time()
        info = await self.request("GET", "/fapi/v1/exchangeInfo", signed=False, weight=1)
        if isinstance(info, dict):
            self.exchange_info = info
            self.budget.set_limits(parse_rate_limits(info))

    async def sync_time(self) -> None:
        before = time.time()
        data = await self.request("GET", "/fapi/v1/time", signed=False, weight=1)
        after = time.time()
        if isinstance(data, dict) and isinstance(data.get("serverTime"), int):
            midpoint_ms = (before + after) * 500
            self.offset_ms = int(data["serverTime"] - midpoint_ms)

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        *,
        signed: bool,
        weight: int,
        orders: int = 0,
    ) -> object:
        """One REST call, throttled, signed when asked; the decoded JSON body.

        Raises:
            VenueTimeoutError: no answer in time (the outcome is unknown).
            VenueError: a transport failure (status 0) or the venue's error.
        """
        while (delay := self.budget.delay_for(weight, orders)) > 0:
            log.info("throttling before the venue's limit", extra={"delay_s": round(delay, 3)})
            await asyncio.sleep(delay)
        self.budget.spend(weight, orders)
        headers: dict[str, str] = {}
        query = encode_params(params or {})
        if signed:
            if self.credentials is None:
                raise VenueError(f"{method} {path}: no API keys")
            stamp = {"timestamp": str(int(time.time() * 1000) + self.offset_ms)}
            stamp["recvWindow"] = str(self.recv_window_ms)
            query = f"{query}&{encode_params(stamp)}" if query else encode_params(stamp)
            query = f"{query}&signature={self.credentials.sign(query)}"
            headers["X-MBX-APIKEY"] = self.credentials.api_key
        url = f"{self.base_url}{path}"
        body: str | None = None
        if method == "POST":
            body = query
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif query:
            url = f"{url}?{query}"
        client_id = (params or {}).get("newClientOrderId") or (params or {}).get(
            "origClientOrderId"
        )
        try:
            async with self._client().request(method, url, data=body, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
                self.budget.observe_headers(resp.headers)
                retry_after = resp.headers.get("Retry-After", "")
        except TimeoutError as exc:
            raise VenueTimeoutError(f"{method} {path}: no answer in time", 0) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise VenueError(f"{method} {path}: {type(exc).__name__}: {exc}", 0) from exc
        if status in (418, 429):
            seconds = float(retry_after) if retry_after.isdigit() else _DEFAULT_BAN_S
            self.budget.banned_for(seconds)
            log.warning("venue rate limit hit", extra={"status": status, "retry_after": seconds})
        try:
            data: object = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise VenueError(
                f"{method} {path}: HTTP {status}, body is not JSON ({raw[:80]!r})", status
            ) from None
        if status >= 400:
            code = data.get("code", 0) if isinstance(data, dict) else 0
            msg = data.get("msg", "") if isinstance(data, dict) else ""
            code = code if isinstance(code, int) else 0
            extra = {"status": status, "code": code, "client_id": client_id}
            log.info("venue error", extra=extra)
            if code == _TIME_SKEW:
                await self.sync_time()
            raise VenueError(f"{method} {path}: HTTP {status} code {code}: {msg}", status, code)
        return data

    async def _dict(
        self, method: str, path: str, params: dict[str, str], weight: int, orders: int = 0
    ) -> dict[str, object]:
        data = await self.request(method, path, params, signed=True, weight=weight, orders=orders)
        if not isinstance(data, dict):
            raise VenueError(f"{method} {path}: expected an object, got {type(data).__name__}")
        return data

    async def new_order(self, params: dict[str, str]) -> dict[str, object]:
        return await self._dict("POST", "/fapi/v1/order", params, 0, orders=1)

    async def cancel_order(self, symbol: str, client_id: str) -> dict[str, object]:
        params = {"symbol": symbol, "origClientOrderId": client_id}
        return await self._dict("DELETE", "/fapi/v1/order", params, 1)

    async def cancel_all(self, symbol: str) -> dict[str, object]:
        return await self._dict("DELETE", "/fapi/v1/allOpenOrders", {"symbol": symbol}, 1)

    async def query_order(self, symbol: str, client_id: str) -> dict[str, object]:
        params = {"symbol": symbol, "origClientOrderId": client_id}
        return await self._dict("GET", "/fapi/v1/order", params, 1)

    async def open_orders(self, symbol: str | None = None) -> list[dict[str, object]]:
        params = {"symbol": symbol} if symbol else {}
        data = await self.request(
            "GET", "/fapi/v1/openOrders", params, signed=True, weight=1 if symbol else 40
        )
        if not isinstance(data, list):
            raise VenueError("openOrders: expected a list")
        return [row for row in data if isinstance(row, dict)]

    async def countdown_cancel_all(self, symbol: str, countdown_ms: int) -> dict[str, object]:
        params = {"symbol": symbol, "countdownTime": str(countdown_ms)}
        return await self._dict("POST", "/fapi/v1/countdownCancelAll", params, 10)

    async def listen_key(self) -> str:
        data = await self._keyed("POST")
        key = data.get("listenKey")
        if not isinstance(key, str):
            raise VenueError("listenKey: no key in the answer")
        return key

    async def _keyed(self, method: str) -> dict[str, object]:
        # listenKey endpoints take the API key header but no signature.
        if self.credentials is None:
            raise VenueError("listenKey: no API keys")
        url = f"{self.base_url}/fapi/v1/listenKey"
        headers = {"X-MBX-APIKEY": self.credentials.api_key}
        self.budget.spend(1, 0)
        try:
            async with self._client().request(method, url, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise VenueTimeoutError("listenKey: no answer in time", 0) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise VenueError(f"listenKey: {type(exc).__name__}: {exc}", 0) from exc
        try:
            data = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise VenueError(f"listenKey: HTTP {status}, body is not JSON", status) from None
        if status >= 400 or not isinstance(data, dict):
            code = data.get("code", 0) if isinstance(data, dict) else 0
            raise VenueError(f"listenKey: HTTP {status} code {code}", status, int(code or 0))
        return data

    async def keepalive_listen_key(self) -> None:
        await self._keyed("PUT")

    async def account(self) -> dict[str, object]:
        return await self._dict("GET", "/fapi/v2/account", {}, 5)

    async def position_risk(self) -> list[dict[str, object]]:
        data = await self.request("GET", "/fapi/v2/positionRisk", {}, signed=True, weight=5)
        if not isinstance(data, list):
            raise VenueError("positionRisk: expected a list")
        return [row for row in data if isinstance(row, dict)]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
