"""SVG snapshots of the TUI from a frozen engine state (files in snapshots/)."""

from __future__ import annotations

from collections.abc import Callable

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader
from hftui.link import EngineLink
from tests.support.region import FROZEN_NS, frozen_region

SnapCompare = Callable[..., bool]


class TestDashboard:
    def test_dashboard_100x30(self, snap_compare: SnapCompare) -> None:
        with frozen_region() as writer:
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=lambda: FROZEN_NS)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, terminal_size=(100, 30))

    def test_quit_dialog_80x24(self, snap_compare: SnapCompare) -> None:
        with frozen_region() as writer:
            link = EngineLink(SnapshotReader(writer.name), 4242, clock_ns=lambda: FROZEN_NS)
            app = HftuiApp(link, spawned=True, refresh_hz=20)
            assert snap_compare(app, press=["q"], terminal_size=(80, 24))
