"""Public REST calls over one keep-alive session, with venue errors turned into exceptions."""

from __future__ import annotations

import logging
import ssl
from typing import Final

import aiohttp
import orjson

__all__ = ["PublicRest", "VenueError"]

log = logging.getLogger(__name__)

_TIMEOUT: Final = aiohttp.ClientTimeout(total=10, connect=5)


class VenueError(RuntimeError):
    """A REST call failed: transport error, non-2xx status, or a body that is not JSON.

    `status` is the HTTP status (0: no answer), `code` and `venue_msg` the venue's own error
    code and message when it gave them, and `request_ms` the `timestamp` a signed request
    carried (venue clock; 0 when unsigned or never sent): after that plus recvWindow the venue
    refuses the request, which is what settles an unknown outcome.
    """

    def __init__(
        self,
        message: str,
        status: int = 0,
        code: int = 0,
        venue_msg: str = "",
        request_ms: int = 0,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.venue_msg = venue_msg
        self.request_ms = request_ms

    @property
    def detail(self) -> str:
        """The venue's words when it answered (`-2019 Margin is insufficient.`), else ours:
        short enough to survive a one-line answer."""
        if self.code and self.venue_msg:
            return f"{self.code} {self.venue_msg}"
        return str(self)


class PublicRest:
    """Unsigned REST calls. TLS uses the system trust store with verification on."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            context = ssl.create_default_context()  # verifies certificates and host names
            self._session = aiohttp.ClientSession(
                timeout=_TIMEOUT,
                connector=aiohttp.TCPConnector(ssl=context, limit=8),
                json_serialize=lambda obj: orjson.dumps(obj).decode(),
            )
        return self._session

    async def get(self, path: str, params: dict[str, str] | None = None) -> object:
        """GET `path` and return the decoded JSON body.

        Raises:
            VenueError: with the venue's status and error code when it gave one.
        """
        url = self.base_url + path
        try:
            async with self._client().get(url, params=params) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise VenueError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        try:
            data: object = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise VenueError(
                f"GET {path}: HTTP {status}, body is not JSON ({body[:80]!r})", status
            ) from None
        if status >= 400:
            code = data.get("code", 0) if isinstance(data, dict) else 0
            code = code if type(code) is int else 0  # an odd error body still gives its status
            msg = data.get("msg", "") if isinstance(data, dict) else ""
            raise VenueError(
                f"GET {path}: HTTP {status} code {code}: {msg}", status, code, str(msg)
            )
        return data

    async def exchange_info(self) -> dict[str, object]:
        data = await self.get("/fapi/v1/exchangeInfo")
        if not isinstance(data, dict) or not isinstance(data.get("symbols"), list):
            raise VenueError("exchangeInfo: response has no symbols list")
        return data

    async def depth(self, symbol: str, limit: int) -> dict[str, object]:
        data = await self.get("/fapi/v1/depth", {"symbol": symbol, "limit": str(limit)})
        if not isinstance(data, dict) or not isinstance(data.get("lastUpdateId"), int):
            raise VenueError(f"depth {symbol}: response has no lastUpdateId")
        return data

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
