"""The dashboard: mode banner, symbol bar, book ladder, trade tape and health bar."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from hftui.link import EngineView
from hftui.widgets.health_bar import HealthBar
from hftui.widgets.ladder import Ladder
from hftui.widgets.mode_banner import ModeBanner
from hftui.widgets.symbol_bar import SymbolBar
from hftui.widgets.tape import Tape

__all__ = ["DashboardScreen"]


class DashboardScreen(Screen[None]):
    """Arranges the widgets; the app pushes each new `EngineView` into `show`."""

    # On the screen so they replace Screen's own tab/shift+tab focus bindings.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "tab,right_square_bracket",
            "app.next_symbol",
            "Next symbol",
            id="dashboard.next_symbol",
            tooltip="Show the next symbol",
        ),
        Binding(
            "shift+tab,left_square_bracket",
            "app.previous_symbol",
            "Prev symbol",
            id="dashboard.previous_symbol",
            show=False,
            tooltip="Show the previous symbol",
        ),
        *[
            Binding(
                str(n),
                f"app.select_symbol({n - 1})",
                f"Symbol {n}",
                id=f"dashboard.symbol_{n}",
                show=False,
                tooltip=f"Show symbol {n}",
            )
            for n in range(1, 9)
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        # Held directly: `show` may run before the widgets are mounted.
        self.banner = ModeBanner(id="mode-banner")
        self.symbol_bar = SymbolBar(id="symbol-bar")
        self.ladder = Ladder(id="ladder")
        self.tape = Tape(id="tape")
        self.health = HealthBar(id="health-bar")

    def compose(self) -> ComposeResult:
        yield self.banner
        yield self.symbol_bar
        with Horizontal(id="market"):
            yield self.ladder
            yield self.tape
        yield self.health
        yield Footer()

    def show(self, view: EngineView | None, selected: int, symbols_hint: tuple[str, ...]) -> None:
        self.banner.show(view)
        self.health.show(view)
        names = tuple(s.symbol for s in view.symbols) if view and view.symbols else symbols_hint
        self.symbol_bar.show(names, selected)
        symbol = view.symbols[selected] if view and selected < len(view.symbols) else None
        if view is None:
            message = "waiting for engine…"
        elif not view.alive:
            message = f"engine {view.status}"
        elif view.status == "starting":
            message = "starting the local exchange…"
        else:
            message = "connecting…"
        self.ladder.show(symbol, message)
        self.tape.show(symbol)
