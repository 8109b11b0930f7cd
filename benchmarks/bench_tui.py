"""The TUI's cost: a full dashboard frame at 160x48, and its CPU while refreshing at 10 Hz.

Run: `python benchmarks/bench_tui.py [--frames N] [--seconds S] [--json]`.

The dashboard runs headless (Textual's `run_test`) over a real snapshot region holding the
engine-like state the UI snapshot tests use (`tests.support.region`), with the clock frozen.

- Frame: the region is changed (the trade count and the book's update id move), then one
  frame is timed: `poll_engine` (region read, widgets updated), a reflow of the screen, every
  widget repainted, and the full update encoded to terminal bytes on a 160x48 truecolor
  console writing nowhere. Baseline in the same run: one 20-row rich `Table` built and
  printed to the same kind of console. Goal: p50 <= 8 ms.
- Frame as painted: the same change, but painted as the app paints it at each refresh:
  `poll_engine`, then only the widgets that asked for a repaint render again (the screen,
  its containers and unchanged panels paint from their caches) and the partial update is
  encoded. A full repaint happens on a resize or a screen switch; this is every other frame.
- CPU: the app refreshing at 10 Hz for S seconds while a thread rewrites the region at
  20 Hz, as a feed would; process CPU time (minus the writer thread's own) over wall time,
  as a percentage of one core. Headless, so the terminal encoding of each frame is not in
  this figure (the frame figure has it). Baseline: a bare Textual app redrawing one line at
  the same rate. Goal: <= 20 % of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.table import Table
from textual._compositor import CompositorUpdate
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Static

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' frozen region
from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.link import EngineLink
from tests.support.region import FROZEN_NS, fill_symbol, frozen_region

SIZE: Final = (160, 48)
FRAME_GOAL_MS: Final = 8.0
CPU_GOAL_PCT: Final = 20.0
REFRESH_HZ: Final = 10.0
_WARM_FRAMES: Final = 5


class _Nowhere(io.StringIO):
    """A terminal that takes every byte and keeps none."""

    def write(self, text: str) -> int:
        return len(text)

    def isatty(self) -> bool:
        return True


def null_console() -> Console:
    width, height = SIZE
    return Console(
        file=_Nowhere(),
        force_terminal=True,
        color_system="truecolor",
        width=width,
        height=height,
        legacy_windows=False,
    )


def _move(region: SnapshotWriter, k: int) -> None:
    # Something new for every frame: both books' update ids and the trade tapes move.
    fill_symbol(region, 0, last_update_id=200_000 + k, trades=70 + k)
    fill_symbol(region, 1, last_update_id=300_000 + k, trades=90 + k)


def _app(region: SnapshotWriter, hz: float) -> HftuiApp:
    link = EngineLink(SnapshotReader(region.name), 4242, clock_ns=lambda: FROZEN_NS)
    return HftuiApp(link, spawned=True, refresh_hz=hz, symbols_hint=("BTCUSDT", "ETHUSDT"))


async def _frame_times(frames: int, full: bool) -> list[int]:
    """Times of `frames` frames; `full`: every widget repainted, else what the app repaints."""
    console = null_console()
    with frozen_region() as region:
        app = _app(region, 0.2)  # its own timer stays out of the way: frames are driven here
        try:
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause()
                times: list[int] = []
                clock = time.perf_counter_ns
                for k in range(frames + _WARM_FRAMES):
                    _move(region, k)
                    screen = app.screen
                    widgets = list(screen.walk_children(Widget, with_self=True))
                    gc.collect()
                    start = clock()
                    app.poll_engine()
                    update = _full_update(app) if full else _painted_update(app, widgets)
                    if isinstance(update, CompositorUpdate):  # as the driver writes it
                        console.file.write(update.render_segments(console))
                    times.append(clock() - start)
                    await pilot.pause()  # the app's own messages, untimed
        finally:
            app.link.reader.close()
    return times[_WARM_FRAMES:]


def _full_update(app: HftuiApp) -> object:
    # A reflow of the screen and every widget rendered and styled again, Textual's caches
    # dropped (as after a resize or a screen switch): the most a frame can cost. A panel
    # whose data did not change hands back the lines it drew (hftui.widgets.lines).
    screen = app.screen
    compositor = screen._compositor
    compositor.reflow(screen, app.size)
    for widget in screen.walk_children(Widget, with_self=True):
        widget._set_dirty()
    return compositor.render_update(full=True, screen_stack=app._background_screens)


def _painted_update(app: HftuiApp, widgets: list[Widget]) -> object:
    # What Textual does with the refreshes `poll_engine` asked for, done here in line: each
    # widget that asked to be repainted is one the screen updates (its `_check_refresh` and
    # the screen's update timer), and a layout asked for means a reflow and a full render.
    # Only the refreshed widgets render again; the rest paint from their caches. Class
    # changes (applied by the stylesheet on idle) are not in it: the frozen state has none.
    screen = app.screen
    compositor = screen._compositor
    if any(widget._layout_required for widget in widgets):
        compositor.reflow(screen, app.size)
        return compositor.render_update(full=True, screen_stack=app._background_screens)
    dirty = {widget for widget in widgets if widget._repaint_required}
    for widget in dirty:
        widget._repaint_required = False  # painted here, not again on idle
    compositor.update_widgets(dirty)
    return compositor.render_update(screen_stack=app._background_screens)


def rich_table_times(count: int) -> list[int]:
    """The baseline: a 20-row rich Table built and printed to a console writing nowhere."""
    console = null_console()
    clock = time.perf_counter_ns
    times = []
    for k in range(count + _WARM_FRAMES):
        gc.collect()
        start = clock()
        table = Table("price", "qty", "total", "side", "time", title="BTCUSDT")
        for row in range(20):
            price = 64_000.1 - row * 0.1 + k
            table.add_row(
                f"{price:,.2f}", f"{row * 0.125:.3f}", f"{row * 8.0:,.1f}", "bid", "11:06:40"
            )
        console.print(table)
        times.append(clock() - start)
    return times[_WARM_FRAMES:]


def frame(frames: int) -> dict[str, float]:
    """Median and p99 ms of a dashboard frame (as painted, and fully repainted), and of the
    rich Table baseline."""
    painted = sorted(asyncio.run(_frame_times(frames, full=False)))
    ours = sorted(asyncio.run(_frame_times(frames, full=True)))
    base = sorted(rich_table_times(frames))

    def ms(values: list[int], fraction: float) -> float:
        return values[min(len(values) - 1, int(len(values) * fraction))] / 1e6

    return {
        "frames": frames,
        "p50_ms": statistics.median(ours) / 1e6,
        "p99_ms": ms(ours, 0.99),
        "painted_p50_ms": statistics.median(painted) / 1e6,
        "painted_p99_ms": ms(painted, 0.99),
        "table_p50_ms": statistics.median(base) / 1e6,
        "table_p99_ms": ms(base, 0.99),
    }


class _Ticker(App[None]):
    """The baseline for CPU: Textual redrawing one line at the same rate."""

    def __init__(self, hz: float) -> None:
        super().__init__()
        self.hz = hz
        self.ticks = 0

    def compose(self) -> ComposeResult:
        yield Static("0", id="tick")

    def on_mount(self) -> None:
        self.set_interval(1.0 / self.hz, self.tick)

    def tick(self) -> None:
        self.ticks += 1
        self.query_one("#tick", Static).update(f"{self.ticks} frames")


async def _cpu_percent(
    make: Callable[[], App[Any]], seconds: float, feed: Callable[[int], None]
) -> float:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)  # mounted and settled
        stop = threading.Event()
        writer_cpu = [0.0]

        def write() -> None:
            start, k = time.thread_time(), 0
            while not stop.wait(0.05):
                feed(k)
                k += 1
            writer_cpu[0] = time.thread_time() - start

        writer = threading.Thread(target=write, daemon=True)
        cpu, wall = time.process_time(), time.monotonic()
        writer.start()
        await asyncio.sleep(seconds)
        stop.set()
        writer.join()
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        await pilot.pause()
    return 100.0 * max(cpu - writer_cpu[0], 0.0) / wall


def cpu(seconds: float) -> dict[str, float]:
    """% of one core: the dashboard at 10 Hz over a moving region, and the bare ticker."""
    with frozen_region() as region:
        app = _app(region, REFRESH_HZ)
        try:
            ours = asyncio.run(_cpu_percent(lambda: app, seconds, lambda k: _move(region, k)))
        finally:
            app.link.reader.close()
    base = asyncio.run(_cpu_percent(lambda: _Ticker(REFRESH_HZ), seconds, lambda k: None))
    return {"seconds": seconds, "hz": REFRESH_HZ, "ours_pct": ours, "baseline_pct": base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="frames to time")
    parser.add_argument("--seconds", type=float, default=10.0, help="CPU measuring time")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = {"frame": frame(args.frames), "cpu": cpu(args.seconds)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    f, c = result["frame"], result["cpu"]
    print(f"TUI at {SIZE[0]}x{SIZE[1]}, headless, frozen engine state")
    print(f"{'':36}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'full dashboard frame':36}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}  goal <= 8 ms")
    print(f"{'frame as painted':36}{f['painted_p50_ms']:>9.2f}{f['painted_p99_ms']:>9.2f}")
    print(f"{'baseline: 20-row rich Table':36}{f['table_p50_ms']:>9.2f}{f['table_p99_ms']:>9.2f}")
    print(
        f"CPU at {c['hz']:g} Hz over {c['seconds']:g} s: {c['ours_pct']:.1f} % of one core "
        f"(bare Textual ticker {c['baseline_pct']:.1f} %; goal <= {CPU_GOAL_PCT:g} %)"
    )


if __name__ == "__main__":
    main()
