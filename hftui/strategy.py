"""The plugin API a strategy imports: a base class, its parameters and the context it acts
through.

A strategy is a class deriving from `Strategy`, one per module in `strategies/` (or in the
directory `[strategies] path` names). The engine's strategy host creates it with a `Context`
and its frozen `Params`, then calls its hooks on the engine's loop:

- `on_start()` once the instance exists (again after a hot reload, before the previous
  instance's state is restored over the new one; see `snapshot_state`),
- `on_book(symbol, book, now_ns)` after every depth update of a synced book,
- `on_trade(symbol, price, qty, buyer_maker, now_ns)` for every market trade,
- `on_fill(fill)` for each fill of one of its own orders,
- `on_timer(now_ns)` every `timer_interval_s` seconds,
- `on_stop()` when the engine stops or the strategy is unloaded.

Intents (place, cancel, replace) go through the context. They are routed through risk and
execution, in the engine's current mode and in the order they were made, as soon as the hook
that made them returns: the hook's time is its own decision's, and a hook that raises or
overruns its budget sends none of them. In `observe` they are only risk-checked and shown as
"would send". A strategy never sees keys or the venue client. Prices are integer ticks and
quantities integer lots of the symbol's grid; `Context.ticks`/`Context.lots` convert the
trader's decimal strings once, in `on_start`.

Every hook runs under a guard: one that raises, or takes longer than the configured budget,
pauses that strategy (its open orders are cancelled) with an alert; the engine and the other
strategies go on. Hooks are on the hot path: read the book's `best_bid()`, `best_ask()`,
`microprice()`, `imbalance(n)` directly and avoid building objects per update.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Final, Generic, Protocol, TypeVar

from hftui.engine.book import OrderBook
from hftui.engine.orders import Fill
from hftui.protocol import Mode, Reason, Side, TimeInForce

__all__ = [
    "API_VERSION",
    "Context",
    "Fill",
    "Mode",
    "OrderBook",
    "Params",
    "Reason",
    "Side",
    "Strategy",
    "TimeInForce",
    "param_fields",
]

# Bumped when a hook or the context changes incompatibly. 2: intents are routed when the hook
# returns, so `place` gives a client id before risk has seen the order.
API_VERSION: Final = 2


@dataclass(frozen=True, slots=True)
class Params:
    """Base of a strategy's parameters: subclass it as a frozen dataclass whose fields all
    have defaults; `[strategies.params.NAME]` in the config overrides them by name."""


P = TypeVar("P", bound=Params)


class Context(Protocol):
    """What the host lets a strategy see and do."""

    @property
    def name(self) -> str:
        """The strategy's name: the owner of its orders, charged against its risk budget."""
        ...

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols the engine trades."""
        ...

    @property
    def mode(self) -> Mode:
        """The engine's trading mode."""
        ...

    @property
    def last_reason(self) -> Reason:
        """What became of the last routed `place` or `replace`: OK, or why nothing was placed.
        Routing happens when the hook returns, so a hook sees its previous hooks' outcome;
        the refusals decided at once (HALTED, KILLED, NOT_FOUND, BAD_QTY) are set at once."""
        ...

    def now_ns(self) -> int:
        """Wall-clock nanoseconds."""
        ...

    def ticks(self, symbol: str, price: str) -> int:
        """A decimal price as ticks of `symbol`. Raises ValueError when off the grid."""
        ...

    def lots(self, symbol: str, qty: str) -> int:
        """A decimal quantity as lots of `symbol`. Raises ValueError when off the grid."""
        ...

    def position(self, symbol: str) -> int:
        """This strategy's net position in lots (+ long), from its own fills in the current
        mode (paper and live are apart; 0 in observe). It carries over a restart: the engine
        rebuilds it from the journal's fills before anything trades."""
        ...

    def is_open(self, client_id: str) -> bool:
        """Whether one of this strategy's orders is still working."""
        ...

    def open_orders(self, symbol: str = "") -> list[str]:
        """Client ids of this strategy's working orders (of `symbol`)."""
        ...

    def place(
        self,
        symbol: str,
        side: Side,
        qty: int,
        price: int = 0,
        tif: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
    ) -> str:
        """Ask for a limit order (a market order when `price` is 0), sent when the hook
        returns.

        Returns the order's client id, or "" when nothing will be placed: held (paused,
        above `max_mode`, killed; see `last_reason`) or `observe` (risk-checked and shown as
        "would send"). An order risk refuses when it is routed never opens: `is_open` turns
        False and `last_reason` says why.
        """
        ...

    def cancel(self, client_id: str) -> bool:
        """Ask to cancel one of this strategy's orders (sent when the hook returns; one placed
        in the same hook is simply never sent); False if it is not working."""
        ...

    def replace(self, client_id: str, price: int, qty: int = 0) -> str:
        """Cancel `client_id` and place the same order at `price` (and `qty` lots, if not 0).

        The new order goes out at once, so for a moment both count against risk's limits.
        Returns the new client id, or "" as `place` does.
        """
        ...

    def log(self, text: str) -> None:
        """A line in the engine's log, tagged with the strategy's name."""
        ...


class Strategy(Generic[P]):
    """Base class of every strategy. Override the hooks you need; all default to nothing.

    Set `params_type` to your `Params` subclass. Do not override `__init__`: set state up in
    `on_start`, which also runs after a hot reload (then the old instance's state is
    restored over what it set, so new attributes get their start values).
    """

    api_version: ClassVar[int] = API_VERSION
    params_type: ClassVar[type[Params]] = Params
    timer_interval_s: ClassVar[float] = 1.0  # 0: no timer

    def __init__(self, ctx: Context, params: P) -> None:
        self.ctx = ctx
        self.params = params

    def on_start(self) -> None:
        """The strategy was loaded (or reloaded)."""

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        """A synced book changed. `book` is the live book: read it, do not keep copies."""

    def on_trade(self, symbol: str, price: int, qty: int, buyer_maker: bool, now_ns: int) -> None:
        """A market trade of `qty` lots at `price` ticks."""

    def on_fill(self, fill: Fill) -> None:
        """One of this strategy's orders traded."""

    def on_timer(self, now_ns: int) -> None:
        """Every `timer_interval_s` seconds."""

    def on_stop(self) -> None:
        """The engine is stopping or the strategy is being unloaded."""

    def snapshot_state(self) -> dict[str, object]:
        """The state carried across a hot reload: every attribute but the context and the
        parameters, by default."""
        return {k: v for k, v in vars(self).items() if k not in ("ctx", "params")}

    def restore_state(self, state: dict[str, object]) -> None:
        """Take over `state` from the previous instance (after `on_start`)."""
        for key, value in state.items():
            setattr(self, key, value)


def param_fields(params_type: type[Params]) -> dict[str, object]:
    """Each parameter's name and default, for validation and documentation."""
    out: dict[str, object] = {}
    for f in dataclasses.fields(params_type):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = dataclasses.MISSING
    return out
