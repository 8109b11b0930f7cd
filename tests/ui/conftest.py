"""Pilot-test setup for the trading keys: a frozen region with a stub engine on real rings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.pilot import Pilot

from hftui.app import HftuiApp
from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.link import EngineLink
from hftui.remote import EngineControl
from tests.support.region import FROZEN_NS, frozen_region
from tests.ui.stub_engine import StubEngine, stub_engine


@dataclass(frozen=True)
class Desk:
    """What a trading test works with: the region, the engine behind the rings, and the
    TUI's handle on those rings."""

    region: SnapshotWriter
    engine: StubEngine
    control: EngineControl

    def app(self, *, connected: bool = True) -> HftuiApp:
        """A TUI over the region (frozen clock); `connected=False` gives it no rings."""
        link = EngineLink(SnapshotReader(self.region.name), 4242, clock_ns=lambda: FROZEN_NS)
        return HftuiApp(
            link,
            spawned=True,
            refresh_hz=20,
            symbols_hint=("BTCUSDT", "ETHUSDT"),
            control=self.control if connected else None,
        )


@pytest.fixture
def desk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Desk]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))  # the command ring's lock file
    with frozen_region() as region, stub_engine(region) as (engine, control):
        yield Desk(region, engine, control)


async def eventually(
    pilot: Pilot[str], condition: Callable[[], object], timeout_s: float = 5.0
) -> None:
    """Let the app run until `condition()` holds (instead of a guessed pause)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)
