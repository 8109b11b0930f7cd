"""Open orders: every symbol's, oldest first, with a cursor to pick one to cancel.

Focus it (`o`, or a click) and move with up/down or k/j; `x` asks the app to cancel the
order under the cursor (a `CancelRequested` message). The cursor follows its order, not
its row, so an order filling above it never moves the cancel onto another one.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip

from hftui.link import EngineView, OrderRow, age_text
from hftui.protocol import OrderStatus, OrderType, Side
from hftui.widgets.lines import DrawnLines
from hftui.widgets.positions import Column, fit_columns, join_cells

__all__ = ["OrdersPanel", "order_type_text"]


def order_type_text(order: OrderRow) -> str:
    """ "limit", "market", with "PO" (post-only) and "RO" (reduce-only) after it."""
    text = "limit" if order.order_type is OrderType.LIMIT else "market"
    if order.post_only:
        text += " PO"
    if order.reduce_only:
        text += " RO"
    return text


def _status(order: OrderRow) -> str:
    if order.status is OrderStatus.PENDING_NEW:
        return "sending"
    if order.status is OrderStatus.PENDING_CANCEL:
        return "canceling"
    return "partial" if order.status is OrderStatus.PARTIALLY_FILLED else "open"


class OrdersPanel(DrawnLines, can_focus=True):
    """The engine's open orders, with a keyboard cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False, tooltip="Orders: previous order"),
        Binding("down,j", "move(1)", "Down", show=False, tooltip="Orders: next order"),
        Binding(
            "x,delete",
            "cancel_selected",
            "Cancel",
            id="orders.cancel",
            tooltip="Orders: cancel the order under the cursor",
        ),
        Binding(
            "escape",
            "screen.focus_ladder",
            "Ladder",
            id="orders.back",
            show=False,
            tooltip="Orders: back to the ladder",
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "orders--header",
        "orders--buy",
        "orders--sell",
        "orders--cursor",
        "orders--stale",
        "orders--message",
    }

    class CancelRequested(Message):
        """The trader asked to cancel `order`."""

        def __init__(self, order: OrderRow) -> None:
            super().__init__()
            self.order = order

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.orders: tuple[OrderRow, ...] = ()
        self.total = 0
        self.now_ns = 0
        self.stale = True
        self.selected_id = ""  # client id under the cursor; "" before the first order
        self._key: object = None
        self._ages: tuple[str, ...] = ()
        self.border_title = "orders"

    @property
    def cursor(self) -> int:
        """Row index of the selected order (0 when it is gone)."""
        for k, order in enumerate(self.orders):
            if order.client_id == self.selected_id:
                return k
        return 0

    @property
    def selected(self) -> OrderRow | None:
        """The order under the cursor, or None when there are none."""
        return self.orders[self.cursor] if self.orders else None

    def show(self, view: EngineView) -> None:
        """Draw the open orders of `view`, aged by its clock, greyed out if it is old."""
        stale = not view.alive
        ages = tuple(age_text((view.now_ns - o.created_ns) / 1e9) for o in view.orders)
        key = (view.orders, view.orders_total, ages, stale, self.selected_id, self.has_focus)
        if key == self._key:
            return
        self._key = key
        row = self.cursor
        self.orders, self.total, self.now_ns, self.stale = (
            view.orders,
            view.orders_total,
            view.now_ns,
            stale,
        )
        # A vanished order (filled, canceled) hands the cursor to the row that took its place.
        if all(o.client_id != self.selected_id for o in self.orders):
            self.selected_id = (
                self.orders[min(row, len(self.orders) - 1)].client_id if self.orders else ""
            )
        more = (
            f" (+{self.total - len(self.orders)} not shown)"
            if self.total > len(self.orders)
            else ""
        )
        self._ages = ages
        self.set_borders(f"orders {self.total}{more}", self._hint())
        self.set_class(stale, "-stale")
        self.refresh()

    def action_move(self, step: int) -> None:
        if not self.orders:
            return
        k = max(0, min(len(self.orders) - 1, self.cursor + step))
        self.selected_id = self.orders[k].client_id
        self._key = None
        self.refresh()

    def action_cancel_selected(self) -> None:
        order = self.selected
        if order is None:
            self.app.bell()
            self.notify("no open order to cancel", title="cancel", severity="warning")
            return
        self.post_message(self.CancelRequested(order))

    def _hint(self) -> str:
        # The keys, where they act: the footer has no room for them at 80 columns.
        if not self.orders:
            return ""
        return "x cancels · esc back" if self.has_focus else "o selects"

    def on_focus(self) -> None:
        self.set_borders(self._borders[0] or "orders", self._hint())
        self.refresh()

    def on_blur(self) -> None:
        self.set_borders(self._borders[0] or "orders", self._hint())
        self.refresh()

    def _columns(self, width: int) -> list[tuple[Column[OrderRow], int]]:
        now = self.now_ns
        columns: tuple[Column[OrderRow], ...] = (
            Column("symbol", lambda o: o.symbol, 8, left=True),
            Column("side", lambda o: o.side.name, 9, left=True),
            Column("type", order_type_text, 2, left=True),
            Column("price", lambda o: o.price or "market", 10),
            Column("qty", lambda o: o.qty, 7),
            Column("filled", lambda o: o.filled, 4),
            Column("age", lambda o: age_text((now - o.created_ns) / 1e9), 5),
            Column("strategy", lambda o: o.strategy or "manual", 1, left=True),
            Column("status", _status, 0, left=True),
        )
        return fit_columns(columns, self.orders, width)

    def draw_key(self) -> object:
        return (
            self.orders,
            self._ages,
            self.stale,
            self.selected_id,
            self.has_focus,
            self.rich_style,
        )

    def draw(self, width: int, height: int) -> list[Strip]:
        if not self.orders:
            style = self.part_style("orders--stale" if self.stale else "orders--message")
            lines = [Strip([Segment(" " * width, style)], width)] * height
            if height:
                note = "no open orders".center(width)[:width].ljust(width)
                lines[(height - 1) // 2] = Strip([Segment(note, style)], width)
            return lines
        columns = self._columns(width)
        text = join_cells([(c.title, w, c.left) for c, w in columns])
        style = self.part_style("orders--stale" if self.stale else "orders--header")
        lines = [Strip([Segment(text[:width].ljust(width), style)], width)]
        # Scroll so that the cursor row stays on screen.
        rows = max(1, height - 1)
        cursor = self.cursor
        top = max(0, cursor - rows + 1)
        for order in self.orders[top : top + max(0, height - 1)]:
            k = top + len(lines) - 1
            text = join_cells([(c.text(order), w, c.left) for c, w in columns])
            if self.stale:
                name = "orders--stale"
            else:
                name = "orders--buy" if order.side is Side.BUY else "orders--sell"
            style = self.part_style(name)
            if k == cursor:
                # Marked even unfocused, so the trader sees what x would hit once focused.
                text = ">" + text[1:]
                if self.has_focus:
                    style = style + self.part_style("orders--cursor")
            lines.append(Strip([Segment(text[:width].ljust(width), style)], width))
        lines += [Strip.blank(width, self.rich_style)] * (height - len(lines))
        return lines[:height]
