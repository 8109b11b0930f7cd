"""Template: copy this file to start a strategy (to `strategies/NAME.py`, or to the directory
`[strategies] path` names), rename the classes, and add NAME to `[strategies] enabled`.

This one only watches: every `timer_interval_s` it logs the spread of `symbol` and how many
trades it saw. It places nothing. Save the file while the engine runs and it is reloaded with
its counters carried over (see `Strategy.snapshot_state`).

Parameters (`[strategies.params.template]`):
    symbol: the symbol watched ("BTCUSDT").
    report_every_s: seconds between two log lines (10.0).

Rules of the house: prices are ticks and quantities lots (convert decimal strings once, in
`on_start`, with `self.ctx.ticks`/`self.ctx.lots`); hooks are on the hot path, so read the
book in place and keep per-update work small; an exception or a hook slower than the budget
pauses the strategy, cancels its orders and drops the intents it made. Orders:
`self.ctx.place(symbol, side, lots, ticks, tif, reduce_only)` returns a client id ("" when
held, see `self.ctx.last_reason`, or in observe); `self.ctx.cancel(cid)`,
`self.ctx.replace(cid, ticks)`. Intents go to risk when the hook returns: one risk refuses
is never open (`self.ctx.is_open(cid)`). `self.ctx.position(symbol)` is this strategy's own
net position in lots in the current mode (0 in observe), kept over restarts.
"""

from __future__ import annotations

from dataclasses import dataclass

from hftui.strategy import Fill, OrderBook, Params, Strategy


@dataclass(frozen=True, slots=True)
class TemplateParams(Params):
    symbol: str = "BTCUSDT"
    report_every_s: float = 10.0


class Template(Strategy[TemplateParams]):
    params_type = TemplateParams
    timer_interval_s = 1.0

    def on_start(self) -> None:
        self.spread = -1  # ticks; -1 until both sides are seen
        self.trades = 0
        self.next_report_ns = 0

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        if symbol == self.params.symbol:
            bid, ask = book.best_bid(), book.best_ask()
            self.spread = ask - bid if bid >= 0 and ask >= 0 else -1

    def on_trade(self, symbol: str, price: int, qty: int, buyer_maker: bool, now_ns: int) -> None:
        if symbol == self.params.symbol:
            self.trades += 1

    def on_fill(self, fill: Fill) -> None:
        self.ctx.log(f"filled {fill.qty} lots at {fill.price} ticks")

    def on_timer(self, now_ns: int) -> None:
        if now_ns >= self.next_report_ns:
            self.next_report_ns = now_ns + int(self.params.report_every_s * 1e9)
            self.ctx.log(f"{self.params.symbol}: spread {self.spread} ticks, {self.trades} trades")
