"""The hftui Textual application: polls the engine link at a fixed rate and routes keys.

The app owns no trading state: everything it shows comes from `EngineLink.poll()`, once per
frame, whatever the feed rate. `run()` returns "stop" (stop the engine too) or "leave"
(leave it running); None only if the app ended without asking (a crash or a signal).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from hftui.link import EngineLink, EngineView
from hftui.screens.dashboard import DashboardScreen
from hftui.screens.help import HelpScreen, HelpSection
from hftui.screens.quit import QuitScreen

__all__ = ["HftuiApp"]


class HftuiApp(App[str]):
    """Keyboard-first workstation over one engine."""

    CSS_PATH = "app.tcss"
    TITLE = "hftui"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_prompt", "Quit", id="app.quit", tooltip="Quit (asks about the engine)"),
        Binding(
            # ctrl+q is Textual's own instant quit: here it asks too, so no key skips the question.
            "ctrl+c,ctrl+q",
            "quit_prompt",
            "Quit",
            id="app.quit_now",
            show=False,
            priority=True,
            tooltip="Quit from anywhere, even from a dialog",
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
        """Create the app over an attached engine link.

        Args:
            link: the engine's snapshot reader; the caller closes it after `run()`.
            spawned: True if this TUI started the engine (quitting then offers to stop it
                by default); False if it attached to a running one (default: leave it).
            refresh_hz: frames per second: the link is read and widgets redrawn this often.
            symbols_hint: configured symbols, listed until the engine publishes its own.
        """
        super().__init__()
        self.link = link
        self.spawned = spawned
        self.refresh_hz = refresh_hz
        self.symbols_hint = tuple(symbols_hint)
        self.selected = 0
        self.view: EngineView = link.poll()
        self.dashboard = DashboardScreen()

    def on_mount(self) -> None:
        self.push_screen(self.dashboard)
        self.poll_engine()
        # A fixed redraw rate, whatever the feed rate: the link is read once per frame.
        self.set_interval(1.0 / self.refresh_hz, self.poll_engine)

    def poll_engine(self) -> None:
        self.view = self.link.poll()
        self.dashboard.show(self.view, self.selected, self.symbols_hint)

    def _symbol_names(self) -> tuple[str, ...]:
        return tuple(s.symbol for s in self.view.symbols) or self.symbols_hint

    def action_select_symbol(self, index: int) -> None:
        if 0 <= index < max(1, len(self._symbol_names())):
            self.selected = index
            self.dashboard.show(self.view, self.selected, self.symbols_hint)
        else:
            self.bell()

    def action_next_symbol(self) -> None:
        self.action_select_symbol((self.selected + 1) % max(1, len(self._symbol_names())))

    def action_previous_symbol(self) -> None:
        self.action_select_symbol((self.selected - 1) % max(1, len(self._symbol_names())))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[HelpSection]:
        """Every key binding, by where it works, as the help screen lists them."""
        dashboard = _rows([*DashboardScreen.BINDINGS, *self.BINDINGS], self)
        dashboard.append(("1 … 8", "Show symbol N, as numbered in the symbol bar"))
        palette = self.get_key_display(Binding("ctrl+p", ""))
        dashboard.append((palette, "Command palette: actions and symbols by name"))
        return [
            ("Dashboard", dashboard),
            ("Quit dialog", _rows(QuitScreen.BINDINGS, self)),
            ("This help", _rows(HelpScreen.BINDINGS, self)),
        ]

    def action_quit_prompt(self) -> None:
        if isinstance(self.screen, QuitScreen):
            return

        def chosen(choice: str | None) -> None:
            if choice is not None:
                self.exit(choice)

        self.push_screen(QuitScreen(self.spawned, engine_alive=self.view.alive), chosen)

    async def action_quit(self) -> None:
        # Textual's own quit (command palette) must ask about the engine like every other.
        self.action_quit_prompt()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield SystemCommand("Quit", "Quit hftui (asks about the engine)", self.action_quit_prompt)
        yield SystemCommand("Help", "Every key binding", self.action_help)
        yield SystemCommand("Next symbol", "Show the next symbol", self.action_next_symbol)
        yield SystemCommand(
            "Previous symbol", "Show the previous symbol", self.action_previous_symbol
        )
        for index, name in enumerate(self._symbol_names()):
            yield SystemCommand(
                f"Show {name}",
                f"Book and trades of {name} (key {index + 1})",
                partial(self.action_select_symbol, index),
            )
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command


def _rows(bindings: Iterable[BindingType], app: App[str]) -> list[tuple[str, str]]:
    # One help row per binding: its keys as the footer shows them, and its tooltip.
    rows = []
    for binding in bindings:
        if not isinstance(binding, Binding) or binding.action.startswith("app.select_symbol"):
            continue
        keys = ", ".join(app.get_key_display(Binding(k, "")) for k in binding.key.split(","))
        rows.append((keys, binding.tooltip or binding.description))
    return rows
