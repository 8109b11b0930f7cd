"""The user-data stream: our orders, fills and balances as the venue pushes them.

Owns: the listen key and the one WebSocket on it. It keeps the key alive, reconnects with
backoff when the socket drops or the venue says `listenKeyExpired` (then with a new key),
and hands every event to one callback. Events that are not JSON objects are counted and
dropped; the callback decides what the rest mean.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Final

import aiohttp
import orjson

from hftui.engine.binance.client import VenueClient
from hftui.engine.binance.rest import VenueError
from hftui.engine.market_data import Backoff

__all__ = ["UserStream"]

log = logging.getLogger(__name__)

_KEEPALIVE_S: Final = 25 * 60.0  # Binance keys live 60 min; a PUT extends them
_UNKNOWN_LISTEN_KEY: Final = -1125


class UserStream:
    def __init__(
        self,
        client: VenueClient,
        stream_url: str,
        on_event: Callable[[dict[str, object]], None],
        keepalive_s: float = _KEEPALIVE_S,
        heartbeat_s: float = 30.0,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.stream_url = stream_url.rstrip("/")
        self.on_event = on_event
        self.keepalive_s = keepalive_s
        # Pinged this often; a socket with no pong within half of it is rebuilt (a dead
        # connection can look open for minutes otherwise).
        self.heartbeat_s = heartbeat_s
        # Called after each reconnect: events may have been lost meanwhile (reconcile).
        self.on_reconnect = on_reconnect
        self.connected = False
        self.connected_event = asyncio.Event()
        self.reconnects = 0
        self.bad_frames = 0
        self.last_event_ns = 0
        self._stopping = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def run(self) -> None:
        """Keep the stream up until `stop()`."""
        backoff = Backoff(0.25, 10.0)
        async with aiohttp.ClientSession() as session:
            while not self._stopping.is_set():
                try:
                    key = await self.client.listen_key()
                    url = (
                        f"{self.stream_url}/private/ws?listenKey={key}"
                        "&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/listenKeyExpired"
                    )
                    beat = self.heartbeat_s
                    async with session.ws_connect(url, heartbeat=beat, compress=0) as ws:
                        self._ws = ws
                        self.connected = True
                        self.connected_event.set()
                        backoff.reset()
                        log.info("user stream connected")
                        if self.reconnects and self.on_reconnect is not None:
                            self.on_reconnect()
                        await self._serve(ws)
                except (VenueError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.warning("user stream failed", extra={"error": str(exc)})
                finally:
                    self._ws = None
                    self.connected = False
                    self.connected_event.clear()
                if self._stopping.is_set():
                    return
                self.reconnects += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff.next_delay())

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        keepalive = asyncio.create_task(self._keepalive())
        try:
            async for message in ws:
                if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    if message.type == aiohttp.WSMsgType.ERROR:
                        return
                    continue
                self.last_event_ns = time.time_ns()
                try:
                    data = orjson.loads(message.data)
                except orjson.JSONDecodeError:
                    self.bad_frames += 1
                    continue
                payload = data.get("data", data) if isinstance(data, dict) else None
                if not isinstance(payload, dict):
                    self.bad_frames += 1
                    continue
                if payload.get("e") == "listenKeyExpired":
                    log.warning("listen key expired; reconnecting with a new one")
                    return
                self.on_event(payload)
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            try:
                await self.client.keepalive_listen_key()
            except VenueError as exc:
                log.warning("listen key keepalive failed", extra={"error": str(exc)})
                if exc.code == _UNKNOWN_LISTEN_KEY and self._ws is not None:
                    await self._ws.close()  # a dead key hears nothing: start over with a new one

    async def rebuild(self) -> None:
        """Drop the socket and reconnect with a new listen key (a stream found to be losing
        events: the socket can stay up while the key behind it is gone)."""
        if self._ws is not None:
            await self._ws.close()

    async def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()
