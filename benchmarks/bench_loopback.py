"""Book ingest over a loopback websocket: the engine's receive loop against the bare client.

Run: `python benchmarks/bench_loopback.py [--messages N] [--repeats R]`.

A server process sends the same Binance-like diff-depth frames as `hftui bench ingest` (about
10 levels each) over a loopback websocket, as fast as it can, to one client in this process:

- bare aiohttp client: `ws.receive()` in a loop, counting frames and doing nothing else: what
  the websocket client allows (not quite a ceiling: a consumer that keeps up finds the queue
  empty on every frame and waits on it each time, while one that falls behind a little takes
  queued frames without waiting);
- engine: `MarketData`'s receive loop (`_receive`: frames the socket has queued drained in
  bursts, each burst's runs parsed and applied in numba) keeping the book, checked level by
  level against the book the frames make once they are all in.

Each figure is the median of the repeats, messages per second from the first frame to the
last. The two processes run on separate CPUs when there are two.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import time
from multiprocessing.connection import Connection

import aiohttp
import orjson
from aiohttp import web

from hftui.bench import STEP, SYMBOL, TICK, engine_path, make_frames
from hftui.engine.book import OrderBook
from hftui.engine.depth_sync import DepthSync
from hftui.engine.market_data import MarketData
from hftui.engine.warmup import warm_kernels


def _pin(cpu: int) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[cpu % len(cpus)]})


def _serve(frames: list[bytes], port_out: Connection) -> None:
    """The server process: every connection gets all the frames, flat out, then a close."""
    _pin(0)

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        for frame in frames:
            await ws.send_bytes(frame)
        await ws.close()
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/ws", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.send(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def _bare(url: str) -> tuple[int, float]:
    count = 0
    start = 0.0
    async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=0) as ws:
        while True:
            message = await ws.receive()
            if message.type is not aiohttp.WSMsgType.BINARY:
                break
            if not count:
                start = time.perf_counter()
            count += 1
    return count, time.perf_counter() - start


async def _engine(url: str, snapshot: bytes) -> tuple[int, float, MarketData]:
    snap = orjson.loads(snapshot)
    sync = DepthSync(OrderBook(SYMBOL, TICK, STEP))
    last = snap["lastUpdateId"]
    sync.on_diff(last, last, last - 1, [], [])
    sync.on_snapshot(last, snap["bids"], snap["asks"])
    market = MarketData(None, "ws://127.0.0.1:9", [SYMBOL], "100ms", 5.0)
    feed = market.feeds[0]
    feed.sync = sync
    sync.time_frames(feed.ingest, feed.feed_delay)
    first: list[float] = []
    take = market.on_frame

    def on_frame(frame: str | bytes, recv_ns: int) -> None:
        if not first:
            first.append(time.perf_counter())
        take(frame, recv_ns)

    market.on_frame = on_frame  # type: ignore[method-assign]
    takes = market.on_frames

    def on_frames(frames: list[bytes], recv_ns: int) -> None:
        if not first:
            first.append(time.perf_counter())
        takes(frames, recv_ns)

    market.on_frames = on_frames  # type: ignore[method-assign]
    async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=0) as ws:
        await market._receive(ws, "depth")
    return market.msgs_total, time.perf_counter() - first[0], market


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warm_kernels()
    snapshot, frames = make_frames(args.messages)
    # The book the frames make, for the engine's to be checked against.
    handle, _, expected_book = engine_path(snapshot)
    for frame in frames:
        handle(frame)
    expected = expected_book()
    ctx = mp.get_context("spawn")
    port_in, port_out = ctx.Pipe(duplex=False)
    server = ctx.Process(target=_serve, args=(frames, port_out), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{port_in.recv()}/ws"
        _pin(1)
        bare: list[float] = []
        ours: list[float] = []
        for _ in range(args.repeats):
            count, seconds = asyncio.run(_bare(url))
            if count != len(frames):
                raise RuntimeError(f"the bare client got {count} of {len(frames)} frames")
            bare.append(count / seconds)
            count, seconds, market = asyncio.run(_engine(url, snapshot))
            book = market.feeds[0].sync.book  # type: ignore[union-attr]
            bids, asks = book.levels()
            got = (
                [(float(book.format_price(t)), float(book.format_qty(q))) for t, q in bids],
                [(float(book.format_price(t)), float(book.format_qty(q))) for t, q in asks],
            )
            if count != len(frames) or market.bad_frames or got != expected:
                raise RuntimeError("the engine's book is not the one the frames make")
            ours.append(count / seconds)
    finally:
        server.kill()
        server.join()
    b, o = statistics.median(bare), statistics.median(ours)
    print(
        f"loopback ingest: {len(frames)} diffs of about 10 levels, flat out, median of "
        f"{args.repeats}; the engine's book checked against the frames'"
    )
    print(f"{'path':<40} {'msgs/s':>12}")
    print(f"{'bare aiohttp client, receive only':<40} {b:>12,.0f}")
    print(f"{'engine: MarketData receive loop':<40} {o:>12,.0f}")
    print(f"engine / bare client: {o / b:.2f}")


if __name__ == "__main__":
    main()
