"""The order ticket: side, type, quantity, price and flags, checked while typing.

The ticket checks what the snapshot lets it check: numbers, the price tick and the number
of decimals the symbol's quantities have. The venue's exact lot step, minimum notional and
every risk limit are the engine's to judge: enter sends the order, the engine's answer
comes back here, and a refusal stays in the ticket with its reason (a success closes it).
The kill switch (ctrl+k, a priority binding on the app) works while the ticket is open.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Static

from hftui.link import Notice, SymbolView
from hftui.protocol import Mode, OrderType, PlaceOrder, Side, format_units

__all__ = ["Choice", "OrderEntryScreen", "TicketCheck", "check_ticket"]

_NUMBER: Final = re.compile(r"^(\d+)(?:\.(\d*))?$|^\.(\d+)$")
_CENT: Final = Decimal("0.01")


def _decimal(text: str) -> Decimal | None:
    # Plain decimal text only (no signs, exponents or spaces inside), as the engine reads it.
    return Decimal(text) if _NUMBER.match(text) else None


def _places(text: str) -> int:
    return len(text.partition(".")[2])


@dataclass(frozen=True, slots=True)
class TicketCheck:
    """What the ticket would send, or why it will not."""

    problems: tuple[str, ...]  # empty: the order can go to the engine
    preview: str  # notional and resulting position; "" when the numbers are not there yet
    warning: str = ""  # worth knowing, not blocking (the price crosses the book)
    command: PlaceOrder | None = None


def check_ticket(
    symbol: SymbolView,
    side: Side,
    order_type: OrderType,
    qty_text: str,
    price_text: str,
    *,
    post_only: bool = False,
    reduce_only: bool = False,
) -> TicketCheck:
    """Check an order against the symbol's grid as published, and preview it.

    Args:
        symbol: the symbol's view: its decimals, tick, book top and position.
        side, order_type: what the ticket says.
        qty_text, price_text: what the trader typed (the price is ignored for market).
        post_only, reduce_only: the flags.

    Returns:
        The problems (empty when it can be sent), the preview and the command to send.
    """
    qty_text, price_text = qty_text.strip(), price_text.strip()
    qty, qty_problem = _check_qty(symbol, qty_text)
    problems = [qty_problem] if qty_problem else []
    price: Decimal | None = None
    if order_type is OrderType.LIMIT:
        price, price_problem = _check_price(symbol, price_text)
        problems += [price_problem] if price_problem else []
    elif post_only:
        problems.append("post-only: only a limit order can be post-only")
    preview, warning = _preview(symbol, side, order_type, qty, price, reduce_only)
    if order_type is OrderType.LIMIT and price is not None and not problems:
        warning = _crossing(symbol, side, price, post_only) or warning
    command = None
    if not problems:
        command = PlaceOrder(
            symbol.symbol,
            side,
            qty_text,
            price_text if order_type is OrderType.LIMIT else "",
            order_type,
            post_only=post_only,
            reduce_only=reduce_only,
        )
    return TicketCheck(tuple(problems), preview, warning, command)


def _check_qty(symbol: SymbolView, text: str) -> tuple[Decimal | None, str]:
    qty, qd = _decimal(text), symbol.qty_decimals
    if not text:
        return qty, "qty: type a quantity"
    if qty is None:
        return qty, f"qty: {text!r} is not a number"
    if qty <= 0:
        return qty, "qty: must be more than 0"
    if _places(text) > qd:
        step = format_units(1, qd)
        return qty, f"qty: {symbol.symbol} trades in steps of {step} ({qd} decimals)"
    return qty, ""


def _check_price(symbol: SymbolView, text: str) -> tuple[Decimal | None, str]:
    price, pd, tick = _decimal(text), symbol.price_decimals, symbol.tick_units
    if not text:
        return price, "price: a limit order needs a price"
    if price is None:
        return price, f"price: {text!r} is not a number"
    if price <= 0:
        return price, "price: must be more than 0"
    units = int(price.scaleb(pd))  # truncated: on or below the tick
    if _places(text) > pd or units % tick:
        below = units - units % tick
        nearest = f"{format_units(below, pd)} or {format_units(below + tick, pd)}"
        return price, f"price: off the tick {format_units(tick, pd)}; try {nearest}"
    return price, ""


def _preview(
    symbol: SymbolView,
    side: Side,
    order_type: OrderType,
    qty: Decimal | None,
    price: Decimal | None,
    reduce_only: bool,
) -> tuple[str, str]:
    pd, qd = symbol.price_decimals, symbol.qty_decimals
    if qty is None or qty <= 0:
        return "", ""
    if order_type is OrderType.MARKET:
        touch = symbol.ask_units if side is Side.BUY else symbol.bid_units
        price = Decimal(touch).scaleb(-pd) if touch >= 0 else None
    position = Decimal(symbol.position_units).scaleb(-qd)
    after = position + qty * int(side)
    warning = ""
    if reduce_only and (position == 0 or abs(after) > abs(position) or after * position < 0):
        warning = "reduce-only: this does not only reduce the position; the engine will refuse"
    parts = []
    if price is not None:
        approx = "≈ " if order_type is OrderType.MARKET else ""
        # Rounded here, not by the thread's decimal context, which other code may change.
        notional = (qty * price).quantize(_CENT, rounding=ROUND_HALF_EVEN)
        parts.append(f"notional {approx}{notional} USDT")
    parts.append(f"position {_qty(position, qd)} → {_qty(after, qd)}")
    return " · ".join(parts), warning


def _qty(value: Decimal, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return f"+{text}" if value > 0 else text


def _crossing(symbol: SymbolView, side: Side, price: Decimal, post_only: bool) -> str:
    units = int(price.scaleb(symbol.price_decimals))
    touch = symbol.ask_units if side is Side.BUY else symbol.bid_units
    if touch < 0:
        return ""
    crosses = units >= touch if side is Side.BUY else units <= touch
    if not crosses:
        return ""
    best = "ask" if side is Side.BUY else "bid"
    at = format_units(touch, symbol.price_decimals)
    if post_only:
        return f"crosses the best {best} {at}: a post-only order would be refused"
    return f"crosses the best {best} {at}: takes liquidity"


class Choice(Widget, can_focus=True):
    """One of a few words, the chosen one shown reversed; left/right or space change it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "step(-1)", "Previous", show=False),
        Binding("right,space", "step(1)", "Next", show=False),
    ]

    DEFAULT_CSS = """
    Choice { height: 1; width: auto; }
    Choice:focus { text-style: underline; }
    """

    index: reactive[int] = reactive(0)

    class Changed(Message):
        def __init__(self, choice: Choice) -> None:
            super().__init__()
            self.choice = choice

        @property
        def control(self) -> Choice:
            return self.choice

    def __init__(self, options: tuple[str, ...], index: int = 0, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.options = options
        self.set_reactive(Choice.index, index)

    @property
    def value(self) -> str:
        return self.options[self.index]

    def render(self) -> Text:
        text = Text()
        for k, option in enumerate(self.options):
            if k:
                text.append(" ")
            chosen = k == self.index
            text.append(f" {option} ", style="bold reverse" if chosen else "dim")
        return text

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return sum(len(o) + 2 for o in self.options) + len(self.options) - 1

    def action_step(self, step: int) -> None:
        self.index = (self.index + step) % len(self.options)

    def watch_index(self) -> None:
        self.post_message(self.Changed(self))


class OrderEntryScreen(ModalScreen[bool]):
    """Dismisses with True once the engine accepted the order, False when cancelled.

    Args:
        symbol: the symbol's view when the ticket opened (grid, book top, position); the
            app keeps it current through `follow`.
        side: buy or sell, as the key that opened it.
        price: the price to start with (the ladder's cursor or the touch); "" for none.
        qty: the quantity to start with (the last one sent on this symbol); "" for none.
        mode: the engine's mode, shown in the title (the app keeps it current through
            `follow_mode`).
        send: queues a command and returns its "sent" notice (or why it was not sent).
    """

    CSS_PATH = "order_entry.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: enter sends from every field, also from an input or a checkbox.
        Binding(
            "enter",
            "send",
            "Send",
            id="ticket.send",
            priority=True,
            tooltip="Send the order to the engine",
        ),
        Binding("escape", "cancel", "Cancel", id="ticket.cancel", tooltip="Close, send nothing"),
    ]

    def __init__(
        self,
        symbol: SymbolView,
        side: Side,
        *,
        price: str,
        qty: str,
        mode: Mode,
        send: Callable[[PlaceOrder], Notice],
    ) -> None:
        super().__init__()
        self.symbol = symbol
        self.side = side
        self.start_price = price
        self.start_qty = qty
        self.mode = mode
        self._send = send
        self.pending = 0  # request id of the order on its way; 0: none
        self.check = check_ticket(symbol, side, OrderType.LIMIT, qty, price)

    def compose(self) -> ComposeResult:
        symbol = self.symbol
        step = format_units(1, symbol.qty_decimals)
        tick = format_units(symbol.tick_units, symbol.price_decimals)
        with Vertical(id="ticket-box") as box:
            box.border_title = self._title()
            box.border_subtitle = self._touch()
            with Horizontal(classes="ticket-row"):
                yield Static("side", classes="ticket-label")
                index = 0 if self.side is Side.BUY else 1
                yield Choice(("BUY", "SELL"), index, id="ticket-side")
            with Horizontal(classes="ticket-row"):
                yield Static("type", classes="ticket-label")
                yield Choice(("LIMIT", "MARKET"), id="ticket-type")
            with Horizontal(classes="ticket-row"):
                yield Static("qty", classes="ticket-label")
                yield Input(self.start_qty, placeholder="quantity", id="ticket-qty")
                yield Static(f"step {step}", classes="ticket-grid")
            with Horizontal(classes="ticket-row"):
                yield Static("price", classes="ticket-label")
                yield Input(self.start_price, placeholder="price", id="ticket-price")
                yield Static(f"tick {tick}", classes="ticket-grid")
            with Horizontal(classes="ticket-row"):
                yield Static("flags", classes="ticket-label")
                yield Checkbox("post-only", id="ticket-post-only")
                yield Checkbox("reduce-only", id="ticket-reduce-only")
            yield Static("", id="ticket-problem", markup=False)
            yield Static("", id="ticket-preview", markup=False)
            yield Static("", id="ticket-answer", markup=False)
            yield Static(
                "enter sends · escape cancels · tab next field · ctrl+k kills",
                id="ticket-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one("#ticket-qty", Input).focus()
        self._recheck()

    def follow(self, symbol: SymbolView) -> None:
        """The symbol's newest view, while the ticket is open: the touch in the border and
        what depends on the book top or the position (crossing, a market order's notional,
        the position after, reduce-only) are judged again. What the trader typed stays."""
        old = self.symbol
        if symbol.symbol != old.symbol:
            return
        self.symbol = symbol
        if (symbol.bid_units, symbol.ask_units, symbol.position_units) == (
            old.bid_units,
            old.ask_units,
            old.position_units,
        ) or not self.is_mounted:
            return
        self.query_one("#ticket-box").border_subtitle = self._touch()
        self._recheck()

    def follow_mode(self, mode: Mode) -> None:
        """The engine's mode of now in the title: a kill or a switch elsewhere while the
        ticket is open must not leave it saying where the order would have gone before."""
        if mode is self.mode:
            return
        self.mode = mode
        if self.is_mounted:
            self.query_one("#ticket-box").border_title = self._title()

    def _touch(self) -> str:
        return f"bid {self.symbol.best_bid} · ask {self.symbol.best_ask}"

    def _title(self) -> str:
        return f"{self.side.name} {self.symbol.symbol} · {self.mode.label}"

    @property
    def order_type(self) -> OrderType:
        return OrderType[self.query_one("#ticket-type", Choice).value]

    def _recheck(self) -> None:
        order_type = self.order_type
        market = order_type is OrderType.MARKET
        price = self.query_one("#ticket-price", Input)
        price.disabled = market
        post_only = self.query_one("#ticket-post-only", Checkbox)
        post_only.disabled = market
        self.check = check_ticket(
            self.symbol,
            self.side,
            order_type,
            self.query_one("#ticket-qty", Input).value,
            "" if market else price.value,
            post_only=post_only.value and not market,
            reduce_only=self.query_one("#ticket-reduce-only", Checkbox).value,
        )
        box = self.query_one("#ticket-box")
        box.border_title = self._title()
        box.set_class(self.side is Side.SELL, "-sell")
        problem = self.query_one("#ticket-problem", Static)
        problem.update(self.check.problems[0] if self.check.problems else "ready to send")
        problem.set_class(bool(self.check.problems), "-bad")
        preview = self.check.preview
        if self.check.warning:
            preview = f"{preview}\n{self.check.warning}" if preview else self.check.warning
        self.query_one("#ticket-preview", Static).update(preview)

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        if not self.pending:  # a refusal of what was there before no longer applies
            self._answer_line("", False)
        self._recheck()

    @on(Choice.Changed)
    def _chosen(self, event: Choice.Changed) -> None:
        if event.choice.id == "ticket-side":
            self.side = Side.BUY if event.choice.value == "BUY" else Side.SELL
        self._recheck()

    def _answer_line(self, text: str, bad: bool) -> None:
        answer = self.query_one("#ticket-answer", Static)
        answer.update(text)
        answer.set_class(bad, "-bad")

    def action_send(self) -> None:
        # Enter, a priority binding, is handled here as soon as the app reads it, while keys
        # typed just before it may still wait in the focused field's own queue (a fast typist
        # or a paste of "0.01\r"): send once that field has taken them, not before.
        focused = self.focused
        if focused is None or not focused.call_later(self._send_now):
            self._send_now()  # no field, or one closing: nothing can be waiting in it

    def _send_now(self) -> None:
        if not self.is_attached:
            return  # closed (escape, a kill) while the enter was waiting
        if self.pending:
            self._answer_line("waiting for the engine's answer to the last one…", False)
            return
        self._recheck()
        command = self.check.command
        if command is None:
            self.app.bell()
            self._answer_line(f"not sent: {self.check.problems[0]}", True)
            return
        notice = self._send(command)
        if notice.pending:
            self.pending = notice.request_id
            self._answer_line("sent; waiting for the engine…", False)
        else:
            self._answer_line(notice.text, True)

    def answered(self, notice: Notice) -> None:
        """The engine's answer (or its absence) to the order this ticket sent."""
        if notice.request_id != self.pending or notice.pending:
            return
        self.pending = 0
        if notice.severity == "information":
            self.dismiss(True)
            return
        self.app.bell()
        self._answer_line(notice.text, True)

    def action_cancel(self) -> None:
        self.dismiss(False)
