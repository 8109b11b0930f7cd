"""`hftui record`: market data of the configured venue written to a recording, nothing else.

It runs the engine's `MarketData` (so what is recorded is exactly what the engine receives,
with the snapshots it fetched) until the time is up or a signal arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Sequence
from pathlib import Path

from hftui.config import Config
from hftui.engine.binance.rest import PublicRest
from hftui.engine.main import resolve_endpoints
from hftui.engine.market_data import MarketData
from hftui.recording import Recorder

__all__ = ["record"]


async def record(
    config: Config, symbols: Sequence[str], out: Path, seconds: float | None
) -> tuple[int, list[Path]]:
    """Record until `seconds` pass (None: until SIGINT/SIGTERM). Returns (lines, files)."""
    endpoints, exchange = await resolve_endpoints(config)
    rest = PublicRest(endpoints.rest_url)
    recorder = Recorder(out)
    market = MarketData(
        rest,
        endpoints.stream_url,
        symbols,
        config.market.depth_speed,
        config.market.stale_after_s,
    )
    market.recorder = recorder
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(market.run())
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
    finally:
        await market.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await rest.close()
        if exchange is not None:
            await exchange.stop()
        recorder.close()
    return recorder.lines, recorder.files
