"""The backtest screen over report files written by a real backtest run."""

from __future__ import annotations

import os
from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static

from hftui.backtest.report import write_report
from hftui.backtest.runner import run_backtest
from hftui.backtest.synthetic import SyntheticSource
from hftui.config import Config
from hftui.paths import data_dir
from hftui.screens.backtest import BacktestScreen
from tests.ui.conftest import Desk, eventually


def save_runs(root: Path) -> None:
    """Two short runs; the market maker's is the newer."""
    for k, (strategy, seed) in enumerate((("momentum", 4), ("market_maker", 3))):
        result = run_backtest(
            Config(), strategy, SyntheticSource(("BTCUSDT", "ETHUSDT"), seed, 20.0)
        )
        out = root / f"{strategy}-seed{seed}"
        write_report(out, *result)
        stamp = 1_700_000_000 + k
        os.utime(out / "report.json", (stamp, stamp))


def shown(screen: BacktestScreen) -> str:
    return str(screen.query_one("#backtest-summary", Static).content)


async def test_reports_listed_newest_first_with_summary_and_chart(desk: Desk) -> None:
    save_runs(data_dir() / "backtests")
    app = desk.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("B")
        await eventually(pilot, lambda: isinstance(app.screen, BacktestScreen))
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        options = screen.query_one("#backtest-list", OptionList)
        names = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert names == ["market_maker-seed3", "momentum-seed4"]
        text = shown(screen)
        assert "market_maker on BTCUSDT, ETHUSDT" in text
        assert "net P&L" in text
        assert "equity (USDT)" in text
        assert any("\u2800" <= ch <= "\u28ff" for ch in text)  # the braille chart
        detail = screen.query_one("#backtest-detail", VerticalScroll)
        await pilot.press("pagedown")  # 80x24: the chart is below the fold
        await eventually(pilot, lambda: detail.scroll_y > 0)
        await pilot.press("pageup")
        await eventually(pilot, lambda: detail.scroll_y == 0)
        await pilot.press("down")
        await eventually(pilot, lambda: "momentum on" in shown(screen))
        await pilot.press("escape")
        await eventually(pilot, lambda: not isinstance(app.screen, BacktestScreen))


async def test_no_reports_yet(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("B")
        await eventually(pilot, lambda: isinstance(app.screen, BacktestScreen))
        screen = app.screen
        assert isinstance(screen, BacktestScreen)
        assert "No backtest reports" in shown(screen)
        (data_dir() / "backtests" / "broken").mkdir(parents=True)
        (data_dir() / "backtests" / "broken" / "report.json").write_text("{}")
        await pilot.press("r")
        await eventually(pilot, lambda: "unreadable report" in shown(screen))
        await pilot.press("q")
        await eventually(pilot, lambda: not isinstance(app.screen, BacktestScreen))
