"""Loss of the engine is shown and survived: once it has stopped (or died) the TUI offers to
restart it, or to reattach to one running now, and leaves with that choice for the CLI."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import orjson
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from hftui.screens.engine_lost import EngineLostScreen
from tests.support.region import fill_header
from tests.ui.conftest import Desk, eventually

SnapCompare = Callable[..., bool]


def _text(app: App[str]) -> str:
    return " ".join(str(w.content) for w in app.screen.query(Static))


async def test_a_stopped_engine_is_offered_a_restart(desk: Desk) -> None:
    fill_header(desk.region, stopping=True, heartbeat_age_s=5.0)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: isinstance(app.screen, EngineLostScreen), 6.0)
        # Pushed is not yet composed: its text comes with its first refresh.
        await eventually(pilot, lambda: "ENGINE LOST" in _text(app))
        text = _text(app)
        assert "ENGINE LOST: the engine (pid 4242) stopped" in text
        assert "[r] restart the engine" in text
        await pilot.press("a")  # nothing runs to reattach to: said, and the dialog stays
        assert isinstance(app.screen, EngineLostScreen)
        await pilot.press("r")
        await pilot.pause()
    assert app.return_value == "restart"


async def test_watching_on_is_asked_once_per_loss(desk: Desk) -> None:
    fill_header(desk.region, stopping=True, heartbeat_age_s=5.0)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: isinstance(app.screen, EngineLostScreen), 6.0)
        await pilot.press("w")
        await pilot.pause(2.5)
        assert app.screen is app.dashboard
        # Asked once; E asks again, at once (an escape pressed by reflex is not final).
        await pilot.press("E")
        await eventually(pilot, lambda: "[r] restart the engine" in _text(app))
        await pilot.press("escape")
        assert app.screen is app.dashboard
        # The kill switch still answers from here (it waits in the ring for an engine).
        await pilot.press("ctrl+k")
        await pilot.press("q")  # and quitting asks as always
        assert app.screen is not app.dashboard


async def test_e_on_an_engine_that_still_runs_says_why_there_is_no_restart(desk: Desk) -> None:
    def messages() -> list[str]:
        return [n.message for n in app._notifications]

    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("E")
        await eventually(pilot, lambda: "the engine (pid 4242) is up" in messages())
        # Silent, and its process is there (this one stands in for it): hung, not lost.
        app.link.engine_pid = os.getpid()
        fill_header(desk.region, heartbeat_age_s=5.0)
        await eventually(pilot, lambda: not app.view.alive)
        await pilot.pause(2.5)  # past the moment a lost engine is asked about
        assert app.screen is app.dashboard
        await pilot.press("E")
        pid = os.getpid()
        hung = (
            f"the engine (pid {pid}) is not responding but its process still runs: "
            f"stop it (kill {pid}) for a restart, or wait"
        )
        await eventually(pilot, lambda: hung in messages())
        assert app.screen is app.dashboard


async def test_an_engine_running_elsewhere_is_reattached(desk: Desk, tmp_path: Path) -> None:
    # Another engine of the instance runs now (this process stands in for it).
    run = tmp_path / "hftui" / "run"
    run.mkdir(parents=True, exist_ok=True)
    instance = desk.control.info.instance
    (run / f"{instance}.json").write_bytes(
        orjson.dumps(
            {
                "instance": instance,
                "pid": os.getpid(),
                "shm": desk.region.name,
                "started_ns": 1,
                "venue": "local",
                "venue_url": "http://127.0.0.1:1",
            }
        )
    )
    fill_header(desk.region, stopping=True, heartbeat_age_s=5.0)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(pilot, lambda: isinstance(app.screen, EngineLostScreen), 6.0)
        await eventually(pilot, lambda: "[a] reattach" in _text(app))  # pushed, then composed
        await pilot.press("r")  # a restart beside a running engine reattaches instead
        await pilot.pause()
    assert app.return_value == "reattach"


def test_engine_lost_80x24(desk: Desk, snap_compare: SnapCompare) -> None:
    fill_header(desk.region, stopping=True, heartbeat_age_s=5.0)

    async def lost(pilot: Pilot[str]) -> None:
        await eventually(pilot, lambda: isinstance(pilot.app.screen, EngineLostScreen), 6.0)
        await pilot.pause()

    assert snap_compare(desk.app(), terminal_size=(80, 24), run_before=lost)
