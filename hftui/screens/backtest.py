"""Backtest reports: the saved runs, newest first, and the chosen one's summary and equity.

It only reads the report files `hftui backtest` wrote (under the data dir's `backtests/`);
nothing here runs a backtest or touches the engine.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from hftui.backtest.chart import braille_chart, sparkline
from hftui.backtest.report import load_report, summary_lines

__all__ = ["BacktestScreen", "find_reports"]


def find_reports(root: Path) -> list[Path]:
    """Directories under `root` holding a report.json, newest first."""
    try:
        found = [p.parent for p in root.glob("*/report.json") if p.is_file()]
    except OSError:
        return []
    return sorted(
        found, key=lambda p: ((p / "report.json").stat().st_mtime_ns, p.name), reverse=True
    )


class BacktestScreen(ModalScreen[None]):
    """The saved backtests in a list; the highlighted one's figures and equity chart."""

    CSS_PATH = "backtest.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "pagedown",
            "scroll_detail(1)",
            "Scroll down",
            id="backtest.down",
            show=False,
            priority=True,  # over the list's own paging: the list is short, the report long
        ),
        Binding(
            "pageup",
            "scroll_detail(-1)",
            "Scroll up",
            id="backtest.up",
            show=False,
            priority=True,
        ),
        Binding("r", "reload", "Reload", id="backtest.reload", tooltip="Look for reports again"),
        Binding("escape,q", "close", "Close", id="backtest.close", tooltip="Close"),
    ]

    def __init__(self, root: Path) -> None:
        """List the reports under `root` (it need not exist yet)."""
        super().__init__()
        self.root = root
        self.reports: list[Path] = []
        self.shown: dict[str, object] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="backtest-box") as box:
            box.border_title = "Backtests"
            with Horizontal():
                yield OptionList(id="backtest-list")
                with VerticalScroll(id="backtest-detail"):
                    yield Static(id="backtest-summary")
            yield Static(
                "↑↓ choose  PgDn/PgUp scroll  r reload  esc close",
                id="backtest-hint",
            )

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.reports = find_reports(self.root)
        options = self.query_one("#backtest-list", OptionList)
        options.clear_options()
        options.add_options([Option(p.name, id=str(k)) for k, p in enumerate(self.reports)])
        if self.reports:
            options.highlighted = 0
            self._show(self.reports[0])
        else:
            self.shown = None
            self._set(Text(f"No backtest reports in {self.root} yet."))
        options.focus()

    def action_scroll_detail(self, pages: int) -> None:
        detail = self.query_one("#backtest-detail", VerticalScroll)
        if pages > 0:
            detail.scroll_page_down()
        else:
            detail.scroll_page_up()

    def action_close(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionHighlighted, "#backtest-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and int(event.option.id) < len(self.reports):
            self._show(self.reports[int(event.option.id)])

    def on_resize(self) -> None:
        if self.shown is not None:
            self._draw(self.shown)

    def _show(self, directory: Path) -> None:
        try:
            report = load_report(directory)
        except (OSError, ValueError) as exc:
            self.shown = None
            self._set(Text(f"{directory.name}: unreadable report ({exc})"))
            return
        self.shown = report
        self._draw(report)

    def _draw(self, report: dict[str, object]) -> None:
        lines = summary_lines(report)
        equity = report.get("equity")
        sample = equity.get("sample") if isinstance(equity, dict) else None
        values = [float(v) for v in sample] if isinstance(sample, list) else []
        detail = self.query_one("#backtest-detail")
        width = max(16, detail.size.width - 16)
        colour = "green" if values and values[-1] >= 0 else "red"
        # A value too long for the panel wraps under itself, not under the labels.
        room = max(30, detail.size.width - 2)
        hang = [
            textwrap.fill(line, room, subsequent_indent=" " * 14, break_on_hyphens=False)
            for line in lines
        ]
        text = Text(hang[0] + "\n")
        if len(values) > 1:
            # One line near the top, so even a small terminal shows the curve's shape.
            text.append(f"{'equity':<14}")
            text.append(sparkline(values, width) + "\n", style=colour)
        text.append("\n".join(hang[1:]))
        if len(values) > 1:
            # The chart takes what height is left (a few rows at least).
            used = sum(h.count("\n") + 1 for h in hang)
            height = max(4, min(12, detail.size.height - used - 4))
            text.append(f"\n\nequity (USDT), {len(values)} points\n", style="bold")
            low, high = min(values), max(values)
            for k, line in enumerate(braille_chart(values, width, height)):
                label = (
                    f"{high:>+12.4f} "
                    if k == 0
                    else f"{low:>+12.4f} "
                    if k == height - 1
                    else " " * 13
                )
                text.append(label)
                text.append(line + "\n", style=colour)
        self._set(text)

    def _set(self, text: Text) -> None:
        self.query_one("#backtest-summary", Static).update(text)
