"""SVG snapshots of the strategies screen (files in snapshots/test_snapshots_strategies/).

Frozen inputs only: the frozen region and clock, and the stub engine's strategies block and
answers."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import Input, Static

from hftui.screens.strategies import StrategiesScreen
from tests.ui.conftest import Desk, eventually
from tests.ui.test_strategies_screen import strategies

SnapCompare = Callable[..., bool]


async def _open(pilot: Pilot[str]) -> StrategiesScreen:
    await pilot.press("S")
    screen = pilot.app.screen
    assert isinstance(screen, StrategiesScreen)
    await eventually(pilot, lambda: len(screen.rows) == 2)
    return screen


def test_strategies_80x24(snap_compare: SnapCompare, desk: Desk) -> None:
    strategies(desk)

    async def run_before(pilot: Pilot[str]) -> None:
        await _open(pilot)
        await pilot.pause()

    assert snap_compare(desk.app(), run_before=run_before, terminal_size=(80, 24))


def test_strategies_edit_refused_160x48(snap_compare: SnapCompare, desk: Desk) -> None:
    strategies(desk)

    async def run_before(pilot: Pilot[str]) -> None:
        screen = await _open(pilot)
        await pilot.press("e")
        screen.query_one("#strategies-edit", Input).value = "qty=0.004 entry=2"
        await pilot.press("enter")
        answer = screen.query_one("#strategies-answer", Static)

        def refused() -> bool:
            desk.engine.step()  # the stub answers here: no engine task in a snapshot run
            return answer.has_class("-error")

        await eventually(pilot, refused)
        # The app learns of the answer at its next poll and shows a toast then: let it come,
        # then clear it (the toast's picture belongs to the app's tests).
        await pilot.pause(0.3)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(desk.app(), run_before=run_before, terminal_size=(160, 48))
