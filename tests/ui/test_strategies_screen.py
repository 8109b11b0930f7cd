"""Pilot tests of the strategies screen: opened with S and from the command palette, the
rows from the snapshot's strategies block, and pause, resume, reload and a parameter edit
(accepted, and refused with the engine's words inline) over real rings to a stub engine."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Static

from hftui.app import HftuiApp
from hftui.protocol import (
    PauseStrategy,
    ReloadStrategy,
    ResumeStrategy,
    SetStrategyParams,
)
from hftui.screens.help import HelpScreen
from hftui.screens.strategies import StrategiesScreen
from tests.ui.conftest import Desk, eventually
from tests.ui.stub_engine import StubStrategy

SIZES = [(80, 24), (160, 48)]


def strategies(desk: Desk) -> None:
    desk.engine.strategies = [
        StubStrategy(
            "momentum",
            "symbol=BTCUSDT qty=0.002 entry_bps=1.5",
            intents=12,
            open_orders=1,
            fills=3,
            realized=4.5,
            unrealized=-1.25,
            fees=0.75,
            p50_ns=4096,
            p99_ns=32768,
            max_ns=65536,
            calls=900,
            last_alert="strategy momentum started from strategies/momentum.py",
        ),
        StubStrategy(
            "market_maker",
            "symbol=ETHUSDT qty=0.010 gamma=0.1",
            state="paused",
            why="on_book raised ValueError: boom",
            errors=1,
        ),
    ]
    desk.engine.publish_strategies()


def screen(app: HftuiApp) -> StrategiesScreen:
    assert isinstance(app.screen, StrategiesScreen)
    return app.screen


def text_of(app: HftuiApp, selector: str) -> str:
    return str(screen(app).query_one(selector, Static).render())


@pytest.mark.parametrize("size", SIZES)
async def test_the_screen_shows_each_strategy(desk: Desk, size: tuple[int, int]) -> None:
    strategies(desk)
    app = desk.app()
    async with app.run_test(size=size) as pilot, desk.engine.running():
        await pilot.press("S")
        table = screen(app).query_one("#strategies-table", DataTable)
        await eventually(pilot, lambda: table.row_count == 2)
        assert [str(c) for c in table.get_row("momentum")] == [
            "momentum",
            "running",
            "12",
            "1",
            "3",
            "+2.50",
            "4.1/33",
            "66",
            "0",
        ]
        assert str(table.get_row("market_maker")[1]) == "paused"
        detail = text_of(app, "#strategies-detail")
        assert "momentum: running" in detail
        assert "params: symbol=BTCUSDT qty=0.002 entry_bps=1.5" in detail
        assert "last: strategy momentum started" in detail
        await pilot.press("j")
        detail = text_of(app, "#strategies-detail")
        assert "market_maker: paused (on_book raised ValueError: boom)" in detail
        await pilot.press("escape")
        assert not isinstance(app.screen, StrategiesScreen)


async def test_pause_resume_and_reload_go_to_the_engine(desk: Desk) -> None:
    strategies(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.press("S")
        await eventually(pilot, lambda: len(screen(app).rows) == 2)
        await pilot.press("p")
        await eventually(pilot, lambda: screen(app).rows[0].state == "paused")
        assert desk.engine.received == [PauseStrategy("momentum")]
        await eventually(pilot, lambda: "momentum paused" in text_of(app, "#strategies-answer"))
        await pilot.press("r")
        await eventually(pilot, lambda: screen(app).rows[0].state == "running")
        await pilot.press("L")
        await eventually(pilot, lambda: "reloaded" in text_of(app, "#strategies-answer"))
        assert desk.engine.received == [
            PauseStrategy("momentum"),
            ResumeStrategy("momentum"),
            ReloadStrategy("momentum"),
        ]
        answer = screen(app).query_one("#strategies-answer", Static)
        assert not answer.has_class("-error")


async def test_editing_parameters_sends_them_and_shows_a_refusal_inline(desk: Desk) -> None:
    strategies(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.press("S")
        await eventually(pilot, lambda: len(screen(app).rows) == 2)
        await pilot.press("e")
        edit = screen(app).query_one("#strategies-edit", Input)
        assert edit.display
        assert app.focused is edit
        assert edit.value == "symbol=BTCUSDT qty=0.002 entry_bps=1.5"
        # The cursor at the end and nothing selected: a key edits the line, not replaces it.
        await pilot.press("backspace", "2")
        assert edit.value == "symbol=BTCUSDT qty=0.002 entry_bps=1.2"

        # A key the strategy does not have: refused, said inline, the text stays to fix.
        edit.value = "qty=0.004 entry=2"
        await pilot.press("enter")
        answer = screen(app).query_one("#strategies-answer", Static)
        await eventually(pilot, lambda: answer.has_class("-error"))
        assert "no parameter 'entry'; the parameters are: symbol, qty, entry_bps" in str(
            answer.render()
        )
        assert edit.display
        assert edit.value == "qty=0.004 entry=2"
        assert screen(app).rows[0].params == "symbol=BTCUSDT qty=0.002 entry_bps=1.5"

        # Fixed: accepted, the editor closes and the new parameters show.
        edit.value = "qty=0.004 entry_bps=2.0"
        await pilot.press("enter")
        await eventually(pilot, lambda: not edit.display)
        assert not answer.has_class("-error")
        assert "qty 0.002 -> 0.004, entry_bps 1.5 -> 2.0" in str(answer.render())
        await eventually(pilot, lambda: "qty=0.004" in screen(app).rows[0].params)
        assert desk.engine.received == [
            SetStrategyParams("momentum", "qty=0.004 entry=2"),
            SetStrategyParams("momentum", "qty=0.004 entry_bps=2.0"),
        ]
        # Escape while editing leaves the parameters; a second escape closes the screen.
        await pilot.press("e", "escape")
        assert isinstance(app.screen, StrategiesScreen)
        assert not edit.display
        assert "left as they are" in str(answer.render())
        assert len(desk.engine.received) == 2
        await pilot.press("escape")
        assert not isinstance(app.screen, StrategiesScreen)


async def test_the_palette_and_help_know_the_screen(desk: Desk) -> None:
    strategies(desk)
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Strategies" in titles
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        sections = dict(app.help_sections())
        keys = dict(sections["Strategies (S)"])
        assert keys["p"] == "Pause the strategy"
        assert keys["e"].startswith("Edit its parameters")
        assert any("Strategies:" in text for _, text in sections["Dashboard"])


async def test_a_watching_tui_sends_nothing(desk: Desk) -> None:
    strategies(desk)
    app = desk.app(connected=False)
    async with app.run_test(size=(80, 24)) as pilot, desk.engine.running():
        await pilot.press("S")
        await eventually(pilot, lambda: len(screen(app).rows) == 2)
        await pilot.press("p")
        await pilot.pause(0.1)
        assert desk.engine.received == []
        assert app.notice is not None
        assert app.notice.severity == "error"
