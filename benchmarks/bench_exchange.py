"""Local exchange: what one subscriber receives, at the real clock and driven flat out.

Run: `python benchmarks/bench_exchange.py`. Both runs start the exchange in-process on a
loopback port and count what one WebSocket client reads from `btcusdt@depth@100ms`:

- clocked: the exchange's own timers (20 ms flow steps, 100 ms depth windows), so the figure
  is the book changes per second the synthetic market produces and the events carrying them;
- flat out: the market is paused and this script steps it and closes a depth window on every
  loop turn, so the figure is the most diff-depth events per second the server's publish and
  send path sustains to one subscriber (each event still holds a few real level changes).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson

from hftui.exchange.main import ExchangeConfig, RunningExchange, start

SECONDS = 5.0
STREAM = "btcusdt@depth@100ms"


async def _count(url: str, seconds: float) -> tuple[int, int, int]:
    # (events, levels, book changes) read from the stream in `seconds` of wall time; a
    # level changed twice in one window is sent once, so changes >= levels.
    events = levels = changes = 0
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{url.replace('http', 'ws')}/ws/{STREAM}") as ws,
    ):
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(ws.receive(), left)
            except TimeoutError:
                break
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = orjson.loads(message.data)
            events += 1
            levels += len(frame["b"]) + len(frame["a"])
            changes += frame["u"] - frame["U"] + 1
    return events, levels, changes


async def _drive(running: RunningExchange, stop: asyncio.Event) -> None:
    venue = running.venue
    btc = venue.symbols["BTCUSDT"]
    while not stop.is_set():
        btc.market.step(0.005)
        venue.flush_depth(100)
        await asyncio.sleep(0)  # let the sender and the client run


def _report(label: str, events: int, levels: int, changes: int) -> None:
    print(
        f"{label:9} {events / SECONDS:8.0f} events/s {levels / SECONDS:8.0f} levels/s"
        f" {changes / SECONDS:8.0f} book changes/s"
    )


async def main() -> None:
    running = await start(ExchangeConfig(symbols=("BTCUSDT",), seed=1))
    try:
        _report("clocked", *await _count(running.url, SECONDS))
        venue = running.venue
        venue.paused = True
        stop = asyncio.Event()
        driver = asyncio.create_task(_drive(running, stop))
        counts = await _count(running.url, SECONDS)
        stop.set()
        await driver
        _report("flat out", *counts)
    finally:
        await running.stop()


if __name__ == "__main__":
    asyncio.run(main())
