"""SVG snapshots of the TUI from a frozen engine state (files in snapshots/test_snapshots/).

Everything on screen comes from the region written by `tests.support.region` and the frozen
clock, so the pictures do not depend on when or where they are taken.
"""

from __future__ import annotations

from collections.abc import Callable

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader
from hftui.link import EngineLink
from tests.support.region import fill_header, frozen_region

SnapCompare = Callable[..., bool]


class TestDashboard:
    def test_dashboard_100x30(
        self, snap_compare: SnapCompare, frozen_clock: Callable[[], int]
    ) -> None:
        with frozen_region() as writer:
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, terminal_size=(100, 30))

    def test_engine_down_80x24(
        self, snap_compare: SnapCompare, frozen_clock: Callable[[], int]
    ) -> None:
        with frozen_region() as writer:
            fill_header(writer, heartbeat_age_s=9.0)
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, terminal_size=(80, 24))

    def test_quit_dialog_80x24(
        self, snap_compare: SnapCompare, frozen_clock: Callable[[], int]
    ) -> None:
        with frozen_region() as writer:
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, press=["q"], terminal_size=(80, 24))

    def test_help_80x24(self, snap_compare: SnapCompare, frozen_clock: Callable[[], int]) -> None:
        with frozen_region() as writer:
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=frozen_clock)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, press=["question_mark"], terminal_size=(80, 24))
