"""The hftui Textual application: polls the engine link at a fixed rate and routes keys.

The app owns no trading state: everything it shows comes from `EngineLink.poll()`, once per
frame. It returns "stop" (stop the engine too) or "leave" (leave it running) from `run()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from hftui.link import EngineLink, EngineView
from hftui.screens.dashboard import DashboardScreen
from hftui.screens.help import HelpScreen
from hftui.screens.quit import QuitScreen

__all__ = ["HftuiApp"]


class HftuiApp(App[str]):
    """Keyboard-first workstation over one engine."""

    CSS_PATH = "app.tcss"
    TITLE = "hftui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_prompt", "Quit", id="app.quit", tooltip="Quit (asks about the engine)"),
        Binding(
            "ctrl+c",
            "quit_prompt",
            "Quit",
            id="app.quit_ctrl_c",
            show=False,
            priority=True,
            tooltip="Quit (asks about the engine)",
        ),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key binding"),
    ]

    def __init__(
        self,
        link: EngineLink,
        *,
        spawned: bool,
        refresh_hz: float = 10.0,
        symbols_hint: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.link = link
        self.spawned = spawned
        self.refresh_hz = refresh_hz
        self.symbols_hint = tuple(symbols_hint)
        self.selected = 0
        self.view: EngineView | None = None
        self.dashboard = DashboardScreen()

    def on_mount(self) -> None:
        self.push_screen(self.dashboard)
        self.poll_engine()
        # A fixed redraw rate, whatever the feed rate: the link is read once per frame.
        self.set_interval(1.0 / self.refresh_hz, self.poll_engine)

    def poll_engine(self) -> None:
        self.view = self.link.poll()
        self.dashboard.show(self.view, self.selected, self.symbols_hint)

    def _symbol_count(self) -> int:
        if self.view is not None and self.view.symbols:
            return len(self.view.symbols)
        return max(1, len(self.symbols_hint))

    def action_select_symbol(self, index: int) -> None:
        if 0 <= index < self._symbol_count():
            self.selected = index
            self.dashboard.show(self.view, self.selected, self.symbols_hint)
        else:
            self.bell()

    def action_next_symbol(self) -> None:
        self.action_select_symbol((self.selected + 1) % self._symbol_count())

    def action_previous_symbol(self) -> None:
        self.action_select_symbol((self.selected - 1) % self._symbol_count())

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        rows = []
        for binding in [*self.BINDINGS, *DashboardScreen.BINDINGS]:
            if not isinstance(binding, Binding) or binding.action.startswith("select_symbol"):
                continue
            keys = ", ".join(self.get_key_display(Binding(k, "")) for k in binding.key.split(","))
            rows.append((keys, binding.tooltip or binding.description))
        rows.append(("1 … 8", "Show symbol N (as numbered in the symbol bar)"))
        rows.append(("ctrl+p", "Command palette: every action by name"))
        self.push_screen(HelpScreen(rows))

    def action_quit_prompt(self) -> None:
        if isinstance(self.screen, QuitScreen):
            return

        def chosen(choice: str | None) -> None:
            if choice is not None:
                self.exit(choice)

        self.push_screen(QuitScreen(self.spawned), chosen)
