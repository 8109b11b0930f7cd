"""The dashboard: mode banner, symbol bar, book ladder and trade tape (and, wide, the price
chart, strategies and alerts), positions and open orders, health and notice bars.

The ladder has the focus (its cursor picks the price order entry starts at); `o` moves it to
the orders panel (its cursor picks the order `x` cancels) and escape brings it back.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from hftui.link import EngineStatus, EngineView, Notice
from hftui.protocol import OrderType, Side
from hftui.widgets.alerts import AlertsPanel
from hftui.widgets.chart import PriceChart
from hftui.widgets.health_bar import HealthBar
from hftui.widgets.ladder import Ladder
from hftui.widgets.lines import KeptPaint
from hftui.widgets.mode_banner import ModeBanner
from hftui.widgets.notice_bar import NoticeBar
from hftui.widgets.orders import OrdersPanel
from hftui.widgets.positions import PositionsPanel
from hftui.widgets.strategies_panel import StrategiesPanel
from hftui.widgets.symbol_bar import SymbolBar
from hftui.widgets.tape import Tape

__all__ = ["DashboardScreen", "engine_note"]

# Wide terminals get a third market column: the price chart, the strategies, the alerts.
_BREAKPOINTS: list[tuple[int, str]] = [(0, "-narrow"), (120, "-wide")]


class _Row(Horizontal):
    """A row its panels cover: painted as plain blank lines (as the screen, see BLANK)."""

    BLANK = True


class _Column(Vertical):
    """A column its panels cover (see `_Row`)."""

    BLANK = True


class _KeptKey(FooterKey, KeptPaint):
    """A footer key painted once: it changes only by a refresh, a style update (hover, a
    disabled binding) or a new footer (the bindings changed). FooterKey comes first: Textual
    takes a widget's CSS and component classes along the first bases."""


class _Footer(Footer):
    """Textual's footer, its keys painted once rather than at every full repaint."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if type(widget) is FooterKey:
                # The same key as built (its bindings to the footer's reactives included),
                # only its painting kept: the class adds no state of its own.
                widget.__class__ = _KeptKey
            yield widget


class DashboardScreen(Screen[None]):
    """Arranges the widgets; the app pushes each new `EngineView` into `show`."""

    # On the screen so they replace Screen's own tab/shift+tab focus bindings.
    CSS_PATH = "dashboard.tcss"
    HORIZONTAL_BREAKPOINTS = _BREAKPOINTS
    # The widgets cover the whole screen: its own background is painted as plain blank
    # lines, without the per-line styling pass (the same cells, a fraction of the work).
    BLANK = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "tab,right_square_bracket",
            "app.next_symbol",
            "Symbol",
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
        Binding(
            "b",
            "app.order_ticket('buy')",
            "Buy",
            id="dashboard.buy",
            tooltip="Buy ticket at the ladder cursor (or best bid)",
        ),
        Binding(
            "s",
            "app.order_ticket('sell')",
            "Sell",
            id="dashboard.sell",
            tooltip="Sell ticket at the ladder cursor (or best ask)",
        ),
        Binding(
            "o",
            "focus_orders",
            "Orders",
            id="dashboard.orders",
            show=False,  # the orders panel's own subtitle says it: the footer is full at 80
            tooltip="Open orders: pick one, x cancels it",
        ),
        Binding(
            "a",
            "toggle_alerts",
            "Alerts",
            id="dashboard.alerts",
            show=False,
            tooltip="Alerts: focus the alerts panel (a again closes)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        # Held directly: `show` may run before the widgets are mounted.
        self.banner = ModeBanner(id="mode-banner")
        self.symbol_bar = SymbolBar(id="symbol-bar")
        self.ladder = Ladder(id="ladder")
        self.tape = Tape(id="tape")
        self.positions = PositionsPanel(id="positions")
        self.orders = OrdersPanel(id="orders")
        self.chart = PriceChart(id="chart")
        self.strategies = StrategiesPanel(id="strategies")
        self.alerts = AlertsPanel(id="alerts")
        self.health = HealthBar(id="health-bar")
        self.notices = NoticeBar(id="notice-bar")

    def compose(self) -> ComposeResult:
        yield self.banner
        yield self.symbol_bar
        with _Row(id="market"):
            yield self.ladder
            yield self.tape
            with _Column(id="side"):
                yield self.chart
                yield self.strategies
                yield self.alerts
        with _Row(id="trading"):
            yield self.positions
            yield self.orders
        yield self.health
        yield self.notices
        yield _Footer(compact=True)

    def show(
        self,
        view: EngineView,
        selected: int,
        symbols_hint: tuple[str, ...],
        notice: Notice | None = None,
    ) -> None:
        """Push one frame of engine state down to the widgets (each skips what is unchanged).

        Args:
            view: the engine's state this frame.
            selected: index of the symbol the ladder and tape show.
            symbols_hint: symbol names to list before the engine has published any.
            notice: the last thing the trader was told about commands and events.
        """
        self.banner.show(view)
        self.health.show(view)
        self.notices.show(view, notice)
        names = tuple(s.symbol for s in view.symbols) or symbols_hint
        self.symbol_bar.show(names, selected)
        symbol = view.symbols[selected] if selected < len(view.symbols) else None
        note = engine_note(view)
        own: dict[int, Side] = {}
        if symbol is not None:
            for order in view.orders:
                if order.symbol == symbol.symbol and order.order_type is OrderType.LIMIT:
                    own[order.price_units] = order.side
        self.ladder.show(symbol, note, own)
        self.tape.show(symbol, stale=bool(note))
        self.chart.show(view, selected, note)
        self.strategies.show(view)
        self.positions.show(view, symbol.symbol if symbol is not None else None)
        self.orders.show(view)

    def action_focus_orders(self) -> None:
        self.orders.focus()

    def action_focus_ladder(self) -> None:
        self.ladder.focus()

    def action_toggle_alerts(self) -> None:
        if self.alerts.has_focus:
            self.ladder.focus()
        else:
            self.add_class("-alerts")  # shown first: a hidden widget cannot take the focus
            self.alerts.focus()

    # The alerts column shows on a narrow terminal exactly while the panel has the focus.
    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.set_class(event.widget is self.alerts, "-alerts")

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        if event.widget is self.alerts:
            self.remove_class("-alerts")


def engine_note(view: EngineView) -> str:
    """Why the book cannot be shown or trusted, or "" when the engine is up and serving."""
    status = view.status
    if status is EngineStatus.WAITING:
        return "waiting for engine…"
    if status is EngineStatus.STARTING:
        return "starting the local exchange…" if view.venue == "local" else "starting…"
    if status is EngineStatus.STOPPING:
        return "engine stopping…"
    if not view.alive:
        return f"engine {status}"
    if not view.symbols:
        return "connecting…"
    return ""
