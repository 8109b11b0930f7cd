"""The health bar's tick-to-order: shown at 160x48 once strategies have traded, and the first
piece to go on a narrow terminal (files in snapshots/test_snapshots_health/)."""

from __future__ import annotations

from collections.abc import Callable

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.link import EngineLink
from hftui.widgets.health_bar import HealthBar, fit
from tests.support.region import FROZEN_NS, frozen_region

SnapCompare = Callable[..., bool]


def _with_t2o(writer: SnapshotWriter, p50_ns: int, p99_ns: int) -> None:
    writer.begin_header()
    writer.header["t2o_p50_ns"] = p50_ns
    writer.header["t2o_p99_ns"] = p99_ns
    writer.header["t2o_samples"] = 256
    writer.end_header()


def _line(link: EngineLink, width: int) -> str:
    return "".join(text for text, _ in fit(link.poll(), width))


def test_tick_to_order_shows_when_there_is_room_and_goes_first() -> None:
    with frozen_region() as writer:
        link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=lambda: FROZEN_NS)
        assert "t2o" not in _line(link, 200)  # no strategy order yet: nothing to show
        _with_t2o(writer, 42_300, 181_000)
        wide = _line(link, 200)
        assert wide.endswith(" │ engine up 1m00s │ local │ t2o 42µs p99 181µs")
        # Short of room, the feeds fold into a count first; one cell short of that line,
        # tick-to-order goes and everything else stays.
        compact = _line(link, len(wide) - 1)
        assert compact.startswith(" feeds 2/2 live │ ")
        assert compact.endswith(" │ local │ t2o 42µs p99 181µs")
        fitted = _line(link, len(compact) - 1)
        assert fitted == compact.removesuffix(" │ t2o 42µs p99 181µs")
        _with_t2o(writer, 2_500_000, 1_200_000_000)
        assert _line(link, 200).endswith(" │ t2o 2.5ms p99 1.2s")
        link.close()


async def test_the_bar_repaints_when_tick_to_order_changes() -> None:
    with frozen_region() as writer:
        link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=lambda: FROZEN_NS)
        app = HftuiApp(link, spawned=True, refresh_hz=20)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            bar = app.screen.query_one(HealthBar)
            shown = bar.view
            app.poll_engine()
            assert bar.view is shown  # nothing this line draws changed
            _with_t2o(writer, 42_300, 181_000)
            app.poll_engine()
            assert bar.view is not shown
            assert bar.view is not None
            assert bar.view.t2o_p50_ns == 42_300


def test_dashboard_with_tick_to_order_160x48(
    snap_compare: SnapCompare, frozen_clock: Callable[[], int]
) -> None:
    with frozen_region() as writer:
        _with_t2o(writer, 42_300, 181_000)
        link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
        app = HftuiApp(link, spawned=True, refresh_hz=20)
        assert snap_compare(app, terminal_size=(160, 48))


def test_dashboard_with_tick_to_order_80x24(
    snap_compare: SnapCompare, frozen_clock: Callable[[], int]
) -> None:
    with frozen_region() as writer:
        _with_t2o(writer, 42_300, 181_000)
        link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
        app = HftuiApp(link, spawned=True, refresh_hz=20)
        assert snap_compare(app, terminal_size=(80, 24))
