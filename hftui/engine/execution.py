"""Execution: turns risk-approved intents into orders in the current mode, and keeps them.

Owns: the trading mode, the order tracker (every order this engine placed), the exposure
risk reads, the paper matcher, the venue client and the user-data stream. Intents come in
through `place`; venue answers, stream events and paper fills come back through
`_apply_updates`, the one place order state and positions change.

- observe: the intent is risk-checked and reported as "would send"; nothing leaves.
- paper: the order goes to the paper matcher, which fills it against the live book.
- live: the order is signed and sent. A send whose outcome is unknown (timeout, 5xx, a
  dropped connection) is *queried* by its client id until the venue says what happened, or
  until the request's recvWindow has passed without the venue knowing it (then it can never
  arrive: REJECTED); it is never sent again, so a retry cannot double an order.
- A venue refusal (filters, margin, 429/418, post-only) ends the order REJECTED with the
  venue's code and message as its reason. During a 429/418 ban nothing is sent: orders are
  refused before they leave, so the ban never escalates.
- A duplicate client id (-4116) means some open venue order already holds the id. The engine
  never reuses ids, so that order is ours only if the request reached the venue twice: it is
  queried, and adopted when it is exactly this order, placed after this send; otherwise the
  order is REJECTED naming the order that holds the id, whose updates are never taken as ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from hftui.config import Config, SymbolRisk
from hftui.engine.account import Account
from hftui.engine.balances import parse_balance_rows
from hftui.engine.binance.client import Credentials, VenueClient, VenueTimeoutError
from hftui.engine.binance.rest import VenueError
from hftui.engine.book import OrderBook
from hftui.engine.instrument import Instrument
from hftui.engine.intents import (
    MANUAL,
    ClientId,
    Lots,
    OrderIntent,
    Ticks,
    VenueUpdate,
    base36,
    new_client_id,
)
from hftui.engine.journal import Journal, StrategyFill, utc_day
from hftui.engine.metrics import OrderTimings
from hftui.engine.orders import (
    Fill,
    Order,
    OrderEvent,
    OrderTracker,
    update_from_rest,
    update_from_stream,
)
from hftui.engine.paper import PaperConfig, PaperMatcher
from hftui.engine.risk import Exposure, RiskEngine, RiskLimits, SymbolExposure, SymbolLimits
from hftui.engine.user_stream import UserStream
from hftui.protocol import (
    MANUAL_ORDER_PREFIX,
    RECENT_SLOTS,
    AlertRaised,
    Event,
    Mode,
    OrderChanged,
    OrderFilled,
    OrderStatus,
    OrderType,
    Reason,
    Side,
    TimeInForce,
    format_units,
)

__all__ = ["Execution", "Outcome", "risk_limits"]

log = logging.getLogger(__name__)

_QUERY_DELAYS_S: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
_KEEP_FINISHED: Final = 2000  # finished orders remembered (late updates, the orders block)
_FORGET_EVERY: Final = 500  # finished orders between two clean-ups
_UNKNOWN_ORDER: Final = -2013  # query: order does not exist
_CANCEL_UNKNOWN: Final = -2011  # cancel: unknown order
_DUPLICATE_ID: Final = -4116
# Beyond the measured round trip: how far our estimate of the venue's clock may be off.
_CLOCK_SLACK_MS: Final = 100


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a place/cancel request."""

    reason: Reason
    text: str
    client_id: str = ""

    @property
    def ok(self) -> bool:
        return self.reason == Reason.OK


def _no_fill_hook(fill: Fill) -> None:
    pass


def risk_limits(config: Config) -> RiskLimits:
    """The risk engine's limits from the `[risk]` section."""
    r = config.risk

    def limits(s: SymbolRisk) -> SymbolLimits:
        return SymbolLimits(
            s.max_order_qty,
            s.max_order_notional,
            s.max_position,
            s.max_open_orders,
            s.price_band_bps,
        )

    return RiskLimits(
        default=limits(r.default),
        per_symbol={name: limits(s) for name, s in r.symbols},
        max_open_orders_total=r.max_open_orders_total,
        max_orders_per_s=r.max_orders_per_s,
        daily_loss_limit=r.daily_loss_limit,
        strategy_budgets=dict(r.budgets),
    )


def venue_reason(exc: VenueError) -> Reason:
    """The refusal code for a venue error."""
    if exc.status in (418, 429):
        return Reason.RATE_LIMITED
    if isinstance(exc, VenueTimeoutError):
        return Reason.TIMEOUT
    if exc.status == 0 or exc.status >= 500:
        return Reason.VENUE_DOWN
    if exc.code in (-2019, -2018) or (exc.code == -2010 and "margin" in str(exc).lower()):
        return Reason.INSUFFICIENT_MARGIN
    if exc.code == -5022:
        return Reason.POST_ONLY
    if exc.code == _DUPLICATE_ID:
        return Reason.DUPLICATE
    return Reason.VENUE_REJECT


def _maybe_sent(exc: VenueError) -> bool:
    """Whether a failed request may have reached the venue (so its outcome is unknown)."""
    return isinstance(exc, VenueTimeoutError) or exc.status >= 500 or exc.request_ms > 0


def _describe_payload(payload: Mapping[str, object]) -> str:
    """A venue order object in a few words: `8000000012 BUY 0.02 @ 60000 NEW`."""
    where = "market" if payload.get("type") == "MARKET" else f"@ {payload.get('price')}"
    return (
        f"{payload.get('orderId')} {payload.get('side')} {payload.get('origQty')} {where} "
        f"{payload.get('status')}"
    )


class Execution:
    def __init__(
        self,
        config: Config,
        instruments: Mapping[str, Instrument],
        publish: Callable[[Event], None],
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        self.instruments = dict(instruments)
        self.publish = publish
        self.clock_ns = clock_ns
        self.mode = Mode.OBSERVE
        self.tracker = OrderTracker(clock_ns)
        self.account = Account(self.instruments, clock_ns)
        self.exposure = Exposure()
        for symbol in self.instruments:
            self.exposure.symbols[symbol] = SymbolExposure()
        self.risk = RiskEngine(risk_limits(config), self.instruments)
        p = config.paper
        self.paper = PaperMatcher(
            self.instruments,
            PaperConfig(int(p.latency_ms * 1e6), p.maker_fee_rate, p.taker_fee_rate),
        )
        self.client: VenueClient | None = None
        self.user_stream: UserStream | None = None
        self.rest_url = ""
        self.stream_url = ""
        self._order_mode: dict[str, Mode] = {}
        self._open: dict[str, tuple[str, Side, int, int, str]] = {}  # cid -> sym, side, lots, px
        self._refused: dict[str, Reason] = {}  # why the venue refused an order, for its events
        self._terminal_waiters: dict[str, list[asyncio.Future[Order]]] = {}  # see when_terminal
        # The last finished orders, oldest first, for the orders block (how each one ended).
        self.recent: deque[ClientId] = deque(maxlen=RECENT_SLOTS)
        self._finished_since_forget = 0  # see _forget_old
        # Live orders sent and not yet acknowledged: a cancel of one waits for its ack (a
        # cancel that overtook the send would find nothing, and the order would land live).
        self._unacked: set[str] = set()
        self._deferred_cancels: dict[str, Callable[[Outcome], None] | None] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._tag = base36(time.time_ns() // 1_000_000)[-7:]
        self._sequence = 0
        self._prefixes: dict[str, str] = {}  # order owner -> its client ids' prefix
        self._paper_timer: asyncio.TimerHandle | None = None
        self.orders_sent = 0
        self.refusals = 0
        self.would_send = 0
        self.timings = OrderTimings()  # tick-to-order and round trips, for the exporter
        self.venue_error = ""  # the venue's last failure (down, timeout, rate limit)
        self.venue_error_ns = 0
        self.version = 0  # bumped whenever orders or positions change; the publisher compares
        self.mids: dict[str, float] = {}
        self.on_daily_loss: Callable[[], None] | None = None
        self.touch: Callable[[str], tuple[int, int]] | None = None  # best bid/ask in ticks
        self.mark_price: Callable[[str], float] | None = None  # the venue's mark, USDT; 0: none
        self.on_fill: Callable[[Fill], None] = _no_fill_hook  # the strategy host's hook
        self.journal: Journal | None = None  # orders, events and fills go here when set
        self.on_stream_reconnect: Callable[[], None] | None = None  # reconciliation's hook

    # ---- plumbing -------------------------------------------------------------------------

    def spawn(self, coro: Awaitable[object], name: str) -> asyncio.Task[object]:
        """Run `coro` as a task the engine keeps (and cancels at shutdown)."""
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("execution task failed", exc_info=task.exception())

    def next_client_id(self, strategy: str) -> ClientId:
        self._sequence += 1
        prefix = self._prefixes.get(strategy)
        if prefix is None:  # once per owner: a strategy asks for one on every quote
            prefix = MANUAL_ORDER_PREFIX if strategy == "manual" else strategy[:8].replace("-", "_")
            self._prefixes[strategy] = prefix
        return new_client_id(prefix, self._tag, self._sequence)

    def _alert(self, level: int, text: str) -> None:
        log.log(level, text)
        self.publish(AlertRaised(level, text))

    def add_instrument(self, inst: Instrument, book: OrderBook) -> None:
        """A symbol followed at run time becomes tradable: risk limits (per-symbol or the
        default), exposure, positions, and the paper matcher's view of its book."""
        if inst.symbol in self.instruments:
            return
        self.instruments[inst.symbol] = inst  # shared with the account and the paper matcher
        self.account.add_symbol(inst.symbol)
        self.exposure.symbols[inst.symbol] = SymbolExposure()
        self.risk.add_instrument(inst)
        self.paper.see_book(inst.symbol, book)
        self.version += 1

    def set_mid(self, symbol: str, bid: int, ask: int) -> None:
        """The book's touch in ticks (-1 when a side is empty), before a risk check."""
        exp = self.exposure.symbols.get(symbol)
        if exp is None:
            return
        if bid > 0 and ask > 0:
            exp.mid = (bid + ask) // 2
            self.mids[symbol] = (bid + ask) / 2
        else:
            exp.mid = 0

    # ---- placing --------------------------------------------------------------------------

    def describe(self, intent: OrderIntent) -> str:
        inst = self.instruments[intent.symbol]
        qty = inst.format_qty(intent.qty)
        where = (
            "at market"
            if intent.order_type == OrderType.MARKET
            else f"@ {inst.format_price(intent.price)}"
        )
        flags = " post-only" if intent.post_only else ""
        flags += " reduce-only" if intent.reduce_only else ""
        return f"{intent.side.name} {qty} {intent.symbol} {where}{flags}"

    def place(
        self,
        intent: OrderIntent,
        on_done: Callable[[Outcome], None] | None = None,
        client_id: ClientId | None = None,
    ) -> Outcome:
        """Risk-check `intent` and act on it in the current mode.

        Returns the immediate outcome. In live the venue's answer comes later, through
        `on_done` (called once, with the accepted or refused order). `client_id` is one
        `next_client_id` gave out earlier (a strategy's intent, routed after its hook); a
        refused order never uses it.
        """
        if self.touch is not None:
            self.set_mid(intent.symbol, *self.touch(intent.symbol))
        reason = self.risk.check(intent, self.exposure)
        if reason != Reason.OK:
            self.refusals += 1
            text = self.risk.refusal_text(reason, intent, self.exposure)
            log.info("order refused", extra={"reason": reason.name, "why": text})
            self.publish(
                OrderChanged(
                    "", intent.symbol, intent.side, OrderStatus.REJECTED, "", "", "", reason, text
                )
            )
            return Outcome(reason, text)
        if self.mode == Mode.OBSERVE:
            self.would_send += 1
            described = self.describe(intent)
            text = f"observe: would send {described}"
            if intent.strategy != MANUAL:
                text += f" [{intent.strategy}]"
            if log.isEnabledFor(logging.INFO):  # a record costs microseconds: only if kept
                log.info("would send", extra={"intent": described})
            # DEBUG: a report of what would have gone, not an alert; a quoting strategy
            # makes several a second, which the TUI shows on its notice line and counts in
            # the strategies panel, and keeps out of the alerts panel.
            self.publish(AlertRaised(logging.DEBUG, text))
            return Outcome(Reason.OK, text)
        self.risk.record_sent()
        return self.submit(intent, self.mode, on_done, client_id)

    def submit(
        self,
        intent: OrderIntent,
        mode: Mode,
        on_done: Callable[[Outcome], None] | None = None,
        client_id: ClientId | None = None,
    ) -> Outcome:
        """Send an order in `mode` without the risk gate: only for `place` (after risk) and
        the kill switch's reduce-only flatten, which must work while killed."""
        cid = client_id or self.next_client_id(intent.strategy)
        self.tracker.submit(cid, intent)
        self._order_mode[cid] = mode
        self._journal_new(cid, intent, mode)
        self.orders_sent += 1
        self.version += 1
        described = self.describe(intent)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "order submitted", extra={"client_id": cid, "mode": mode.label, "order": described}
            )
        if mode == Mode.PAPER:
            self._track_open(cid)
            now = self.clock_ns()
            self.paper.submit(
                cid,
                intent.symbol,
                intent.side,
                intent.order_type,
                intent.tif,
                intent.price,
                intent.qty,
                now,
            )
            self.timings.handed(cid, now)
            self._schedule_paper()
            return Outcome(Reason.OK, f"paper order {cid}: {described}", cid)
        self._track_open(cid)
        self._unacked.add(cid)
        self.timings.defer(cid)
        self.spawn(self._send_live(cid, on_done), f"send {cid}")
        return Outcome(Reason.OK, f"sent {cid}: {described}", cid)

    async def _send_live(self, cid: ClientId, on_done: Callable[[Outcome], None] | None) -> None:
        order = self.tracker.get(cid)
        client = self.client
        if order is None or client is None:
            return
        intent = order.intent
        inst = self.instruments[intent.symbol]
        params = {
            "symbol": intent.symbol,
            "side": intent.side.name,
            "type": intent.order_type.name,
            "quantity": inst.format_qty(intent.qty),
            "newClientOrderId": cid,
            "newOrderRespType": "RESULT",
            "selfTradePreventionMode": self.config.live.self_trade_prevention,
        }
        if intent.order_type == OrderType.LIMIT:
            params["price"] = inst.format_price(intent.price)
            params["timeInForce"] = intent.tif.name
        if intent.reduce_only:
            params["reduceOnly"] = "true"
        sent_ms = self._venue_now_ms(client)
        self.timings.handed(cid, self.clock_ns())
        try:
            payload = await client.new_order(params)
        except VenueError as exc:
            reason = venue_reason(exc)
            if reason == Reason.DUPLICATE:
                await self._settle_duplicate(cid, exc, exc.request_ms or sent_ms, on_done)
                return
            detail = exc.detail
            if reason in (Reason.TIMEOUT, Reason.VENUE_DOWN) and _maybe_sent(exc):
                # The venue may have the order: find out, never resend.
                log.warning(
                    "order outcome unknown; querying",
                    extra={"client_id": cid, "error": str(exc)},
                )
                if await self._settle_by_query(cid, exc.request_ms or sent_ms):
                    order = self.tracker.get(cid)
                    status = order.status.label if order is not None else "unknown"
                    text = f"{cid} {status}: {self.describe(intent)} (settled by query)"
                    self._done(on_done, Outcome(Reason.OK, text, cid))
                    return
                detail = f"{detail}; the venue never received it"
            self._refuse(cid, reason, detail, on_done)
            return
        self._apply_payload(cid, payload)
        order = self.tracker.get(cid)
        status = order.status.label if order is not None else "sent"
        self._done(on_done, Outcome(Reason.OK, f"{cid} {status}: {self.describe(intent)}", cid))

    def _refuse(
        self,
        cid: ClientId,
        reason: Reason,
        detail: str,
        on_done: Callable[[Outcome], None] | None,
        foreign_order_id: int = 0,
    ) -> None:
        """The venue refused (or never got) the order: REJECTED, with the reason shown."""
        text = f"{reason.text}: {detail}"
        self._refused[cid] = reason
        if reason in (Reason.VENUE_DOWN, Reason.TIMEOUT, Reason.RATE_LIMITED):
            self.venue_error, self.venue_error_ns = text, self.clock_ns()
        if foreign_order_id:
            events = self.tracker.reject_foreign(cid, foreign_order_id, text)
        else:
            events = self.tracker.reject(cid, text)
        self._apply_events(events)
        self.refusals += 1
        self._done(on_done, Outcome(reason, f"{cid} {text}", cid))

    @staticmethod
    def _done(on_done: Callable[[Outcome], None] | None, outcome: Outcome) -> None:
        if on_done is not None:
            on_done(outcome)

    def _venue_now_ms(self, client: VenueClient) -> int:
        return self.clock_ns() // 1_000_000 + client.offset_ms

    def _apply_payload(self, cid: ClientId, payload: Mapping[str, object]) -> bool:
        """Merge a REST order object; False (logged) when it cannot be read."""
        order = self.tracker.get(cid)
        if order is None:
            return False
        try:
            update = update_from_rest(payload, self.instruments[order.intent.symbol])
        except ValueError as exc:
            log.error("unreadable order answer", extra={"client_id": cid, "error": str(exc)})
            return False
        self._apply_updates([update])
        return True

    async def _query_order(self, cid: ClientId, request_ms: int) -> dict[str, object] | None:
        """Query the order until the venue says what it is: its order object, or None once it
        says "no such order" for a request stamped `request_ms` (venue clock) whose recvWindow
        has passed, so that it can never arrive. Transient failures are asked again."""
        order = self.tracker.get(cid)
        client = self.client
        if order is None or client is None:
            return None
        window_ms = self.config.live.recv_window_ms
        attempt = 0
        while True:
            delay = _QUERY_DELAYS_S[min(attempt, len(_QUERY_DELAYS_S) - 1)]
            attempt += 1
            await asyncio.sleep(delay)
            asked_ms = self._venue_now_ms(client)
            try:
                return await client.query_order(order.intent.symbol, cid)
            except VenueError as exc:
                slack_ms = client.rtt_ms + _CLOCK_SLACK_MS
                if exc.code == _UNKNOWN_ORDER and asked_ms - request_ms > window_ms + slack_ms:
                    return None
                log.info("order query failed", extra={"client_id": cid, "error": str(exc)})

    async def _settle_by_query(self, cid: ClientId, request_ms: int) -> bool:
        """Settle an unknown outcome by querying: True when the venue has the order (its
        state is merged), False when it never received it (see `_query_order`)."""
        payload = await self._query_order(cid, request_ms)
        if payload is None:
            return False
        self._apply_payload(cid, payload)
        return True

    async def _settle_duplicate(
        self,
        cid: ClientId,
        exc: VenueError,
        sent_ms: int,
        on_done: Callable[[Outcome], None] | None,
    ) -> None:
        """-4116: an open venue order already holds `cid`. Adopt it if it is this very order
        (the request reached the venue twice: same terms, created no earlier than `sent_ms`,
        the request's stamp on the venue's clock), else refuse, naming the order that holds
        it."""
        order = self.tracker.get(cid)
        client = self.client
        if order is None or client is None:
            return
        log.warning("duplicate client order id; querying", extra={"client_id": cid})
        payload = await self._query_order(cid, 0)  # this request was refused: no waiting
        if payload is None:
            detail = f"{exc.detail}; no venue order holds it now"
            self._refuse(cid, Reason.DUPLICATE, detail, on_done)
            return
        if self._is_this_order(cid, payload, sent_ms - int(client.rtt_ms) - _CLOCK_SLACK_MS):
            log.warning("the venue already had this order; adopted", extra={"client_id": cid})
            self._apply_payload(cid, payload)
            adopted = self.tracker.get(cid)
            status = adopted.status.label if adopted is not None else "unknown"
            text = f"{cid} {status}: {self.describe(order.intent)} (already at the venue)"
            self._done(on_done, Outcome(Reason.OK, text, cid))
            return
        holder = _describe_payload(payload)
        foreign = payload.get("orderId")
        self._refuse(
            cid,
            Reason.DUPLICATE,
            f"{exc.detail}; held by venue order {holder}",
            on_done,
            foreign if isinstance(foreign, int) and foreign > 0 else 0,
        )

    def _is_this_order(self, cid: ClientId, payload: Mapping[str, object], after_ms: int) -> bool:
        """Whether the venue's order object is the order we sent as `cid`: the same terms,
        created no earlier than our request could have arrived (`after_ms`, venue clock)."""
        order = self.tracker.get(cid)
        if order is None:
            return False
        intent = order.intent
        inst = self.instruments[intent.symbol]
        created = payload.get("time")
        if isinstance(created, int) and created < after_ms:
            return False  # it was there before we sent: someone else's
        try:
            same = (
                payload.get("symbol") == intent.symbol
                and payload.get("side") == intent.side.name
                and payload.get("type") == intent.order_type.name
                and inst.qty_lots(str(payload.get("origQty"))) == intent.qty
                and bool(payload.get("reduceOnly")) == intent.reduce_only
            )
            if same and intent.order_type == OrderType.LIMIT:
                same = (
                    inst.price_ticks(str(payload.get("price"))) == intent.price
                    and payload.get("timeInForce") == intent.tif.name
                )
        except ValueError:
            return False
        return same

    # ---- cancelling -----------------------------------------------------------------------

    def cancel(self, cid: str, on_done: Callable[[Outcome], None] | None = None) -> Outcome:
        order = self.tracker.get(ClientId(cid))
        if order is None or not order.open:
            state = "no such order" if order is None else f"already {order.status.label}"
            return Outcome(Reason.NOT_FOUND, f"{cid}: {state}", cid)
        self._apply_events(self.tracker.request_cancel(ClientId(cid)))
        mode = self._order_mode.get(cid, Mode.PAPER)
        if mode == Mode.PAPER:
            self.paper.cancel(ClientId(cid), self.clock_ns())
            self._schedule_paper()
            return Outcome(Reason.OK, f"cancel of paper order {cid} requested", cid)
        if cid in self._unacked:
            self._deferred_cancels[cid] = on_done  # sent when the venue acknowledges it
            return Outcome(Reason.OK, f"cancel of {cid} queued until the venue has it", cid)
        self.spawn(self._cancel_live(ClientId(cid), on_done), f"cancel {cid}")
        return Outcome(Reason.OK, f"cancel of {cid} sent", cid)

    async def _cancel_live(self, cid: ClientId, on_done: Callable[[Outcome], None] | None) -> None:
        order = self.tracker.get(cid)
        if order is None or self.client is None:
            return
        try:
            payload = await self.client.cancel_order(order.intent.symbol, cid)
        except VenueError as exc:
            text = f"cancel of {cid} failed: {exc}"
            self._apply_events(self.tracker.cancel_rejected(cid, str(exc)))
            if exc.code != _CANCEL_UNKNOWN:
                self._done(on_done, Outcome(venue_reason(exc), text, cid))
                return
            # It filled, or was never there: ask.
            if not await self._settle_by_query(cid, 0):
                self._apply_events(self.tracker.reject(cid, "the venue never received it"))
            order = self.tracker.get(cid)
            status = order.status.label if order is not None else "unknown"
            self._done(on_done, Outcome(Reason.NOT_FOUND, f"{cid} is {status}", cid))
            return
        if not self._apply_payload(cid, payload):
            # Accepted, but the answer is unreadable: the user stream settles the order.
            text = f"cancel of {cid} accepted; the venue's answer was unreadable"
            self._done(on_done, Outcome(Reason.OK, text, cid))
            return
        self._done(on_done, Outcome(Reason.OK, f"{cid} canceled", cid))

    def _acknowledged(self, cid: ClientId, order: Order) -> None:
        """The venue answered for a sent order: a cancel asked for meanwhile (one order's, a
        cancel-all's or the kill's) goes out now, since it could not have found it before."""
        self._unacked.discard(cid)
        on_done = self._deferred_cancels.pop(cid, None)
        if order.open and order.cancel_requested:
            self.spawn(self._cancel_live(cid, on_done), f"cancel {cid}")
        elif on_done is not None:
            self._done(on_done, Outcome(Reason.NOT_FOUND, f"{cid} is {order.status.label}", cid))

    def _forget_old(self) -> None:
        """Bound memory over a long session: keep the newest finished orders (far more than
        any late venue update could concern) and drop the rest, with what this class keeps
        about them."""
        self._finished_since_forget = 0
        self.tracker.forget_terminal(keep=_KEEP_FINISHED)
        for table in (self._order_mode, self._refused, self._terminal_waiters):
            for cid in [c for c in table if self.tracker.get(c) is None]:
                del table[cid]

    def end_reason(self, cid: ClientId) -> Reason:
        """Why an order was rejected (the venue's refusal, or VENUE_REJECT); OK otherwise."""
        order = self.tracker.get(cid)
        if order is None or order.status != OrderStatus.REJECTED:
            return Reason.OK
        return self._refused.get(cid, Reason.VENUE_REJECT)

    def unacknowledged(self) -> list[ClientId]:
        """Live orders sent that the venue has not answered for yet."""
        return [ClientId(cid) for cid in self._unacked]

    def when_terminal(self, cid: ClientId) -> asyncio.Future[Order]:
        """A future resolved with the order once it is final (filled, canceled, expired or
        rejected), whichever way the news arrives."""
        waiter: asyncio.Future[Order] = asyncio.get_running_loop().create_future()
        order = self.tracker.get(cid)
        if order is not None and order.status.terminal:
            waiter.set_result(order)
        else:
            waiters = self._terminal_waiters.setdefault(cid, [])
            waiters[:] = [w for w in waiters if not w.done()]  # drop the abandoned ones
            waiters.append(waiter)
        return waiter

    def precheck_replacing(self, intent: OrderIntent, old: Order) -> Outcome | None:
        """Risk's verdict on `intent` as if `old` (the order it replaces) were already gone,
        or None when it passes. Nothing is recorded: `place` checks again for real."""
        if self.touch is not None:
            self.set_mid(intent.symbol, *self.touch(intent.symbol))
        # Out of the exposure for the check, back in whatever happens.
        entry = self._open.get(old.client_id)
        if entry is not None:
            self._count_open(entry[0], entry[1], entry[2], -1)
        try:
            reason = self.risk.check(intent, self.exposure)
            text = self.risk.refusal_text(reason, intent, self.exposure) if reason else ""
        finally:
            if entry is not None:
                self._count_open(entry[0], entry[1], entry[2], 1)
        return Outcome(reason, text) if reason else None

    def order_mode(self, cid: str) -> Mode | None:
        return self._order_mode.get(cid)

    def request_cancels(self, cids: list[ClientId]) -> None:
        """Mark orders as cancel-requested (a cancel-all covers them at the venue)."""
        for cid in cids:
            self._apply_events(self.tracker.request_cancel(cid))

    def open_orders(self, symbol: str = "", mode: Mode | None = None) -> list[ClientId]:
        return [
            o.client_id
            for o in self.tracker.open_orders(symbol or None)
            if mode is None or self._order_mode.get(o.client_id) == mode
        ]

    def cancel_paper(self, symbol: str = "", immediate: bool = False) -> int:
        """Cancel every open paper order (of `symbol`); `immediate` skips the latency (the
        kill switch: a simulated order must not outlive the kill either)."""
        cids = self.open_orders(symbol, Mode.PAPER)
        now = self.clock_ns()
        for cid in cids:
            self._apply_events(self.tracker.request_cancel(cid))
            self.paper.cancel(cid, now)
        if immediate and cids:
            self.paper.advance(now + self.paper.config.latency_ns)
            self._drain_paper()
        else:
            self._schedule_paper()
        return len(cids)

    async def cancel_live_all(
        self, symbols: list[str], on_sent: Callable[[], None] | None = None
    ) -> int:
        """Cancel every open order on `symbols` at the venue (whether this engine placed it or
        not), all symbols at once; returns how many cancel-all requests failed. `on_sent` is
        called as each request reaches the wire."""
        client = self.client
        if client is None:
            return 0
        results = await asyncio.gather(
            *(client.cancel_all(s, on_sent) for s in symbols), return_exceptions=True
        )
        failed = 0
        for symbol, result in zip(symbols, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                log.warning("cancel-all failed", extra={"symbol": symbol, "error": str(result)})
        return failed

    async def venue_open_orders(self, symbols: list[str]) -> list[dict[str, object]] | None:
        """The venue's open orders on `symbols`; None when it cannot be asked or fails.

        One query per symbol, concurrently: weight 1 each where the all-symbols query weighs
        40, and the slowest symbol sets the time instead of the sum."""
        client = self.client
        if client is None:
            return None
        try:
            answers = await asyncio.gather(*(client.open_orders(s) for s in symbols))
        except VenueError as exc:
            log.warning("open orders query failed", extra={"error": str(exc)})
            return None
        return [row for rows in answers for row in rows]

    # ---- updates: the one door for state changes ------------------------------------------

    def on_user_event(self, payload: dict[str, object]) -> None:
        """A user-data stream event (live)."""
        if payload.get("e") == "ACCOUNT_UPDATE":
            self._on_account_update(payload)
            return
        if payload.get("e") != "ORDER_TRADE_UPDATE":
            return
        o = payload.get("o")
        if not isinstance(o, dict):
            return
        inst = self.instruments.get(str(o.get("s")))
        if inst is None:
            return
        try:
            update = update_from_stream(o, int(str(payload.get("E", 0))), inst)
        except ValueError as exc:
            log.warning("malformed order update dropped", extra={"error": str(exc)})
            return
        self._apply_updates([update])

    def _on_account_update(self, payload: dict[str, object]) -> None:
        # Every update states the wallet; of the P&L figures only funding comes from here
        # (fills come with their orders). Binance names a FUNDING_FEE update's symbol in `S`.
        a = payload.get("a")
        if not isinstance(a, dict):
            return
        rows = a.get("B")
        if isinstance(rows, list):
            try:
                event_ms = int(str(payload.get("E", 0)))
            except ValueError:
                event_ms = 0
            if self.account.balances.on_stream(rows, event_ms):
                self.version += 1
        if a.get("m") != "FUNDING_FEE":
            return
        symbol = str(a.get("S", ""))
        balances = a.get("B")
        if symbol not in self.instruments or not isinstance(balances, list):
            log.warning("funding update without a known symbol dropped", extra={"symbol": symbol})
            return
        try:
            usdt = [b for b in balances if isinstance(b, dict) and b.get("a") == "USDT"]
            amount = sum(float(str(b["bc"])) for b in usdt)
            if not math.isfinite(amount):  # "nan" and "inf" parse, and would poison P&L
                raise ValueError(amount)
        except (KeyError, ValueError):
            log.warning("malformed funding update dropped", extra={"symbol": symbol})
            return
        self.account.on_funding(Mode.LIVE, symbol, amount)
        if self.journal is not None:
            self.journal.daily_pnl(self.clock_ns(), Mode.LIVE.label, 0.0, 0.0, amount)
        log.info("funding", extra={"symbol": symbol, "amount": amount})
        self.version += 1

    def valuations(self) -> dict[str, float]:
        """Each symbol's valuation price in ticks: the venue's mark, else the book's mid
        (0: none yet). Unrealized P&L and the daily loss limit are judged at it."""
        prices: dict[str, float] = {}
        for symbol, inst in self.instruments.items():
            mark = self.mark_price(symbol) if self.mark_price is not None else 0.0
            if mark > 0:
                prices[symbol] = mark * 10**inst.price_decimals / inst.tick_units
                continue
            bid, ask = self.touch(symbol) if self.touch is not None else (-1, -1)
            prices[symbol] = (bid + ask) / 2 if bid > 0 and ask > 0 else self.mids.get(symbol, 0)
        return prices

    def _apply_updates(self, updates: list[VenueUpdate]) -> None:
        for update in updates:
            self._apply_events(self.tracker.apply(update))

    def _apply_events(self, events: list[OrderEvent]) -> None:
        for event in events:
            cid = event.client_id
            order = self.tracker.get(cid)
            if order is None:
                continue
            intent = order.intent
            inst = self.instruments[intent.symbol]
            mode = self._order_mode.get(cid, Mode.PAPER)
            fill = event.fill
            if fill is not None:
                realized_before = self.account.book(mode, fill.symbol).realized
                self.account.on_fill(
                    mode, fill.symbol, fill.side, fill.qty, fill.price, fill.fee, intent.strategy
                )
                if mode == self.mode:
                    self.exposure.symbols[fill.symbol].position = self.account.book(
                        mode, fill.symbol
                    ).lots
                self._journal_fill(order, fill, mode, realized_before)
                self.publish(
                    OrderFilled(
                        cid,
                        fill.symbol,
                        fill.side,
                        inst.format_qty(fill.qty),
                        inst.format_price(fill.price),
                        f"{'maker' if fill.maker else 'taker'} fee {fill.fee:.4f} USDT",
                    )
                )
                log.info(
                    "fill",
                    extra={
                        "client_id": cid,
                        "qty": inst.format_qty(fill.qty),
                        "price": inst.format_price(fill.price),
                        "fee": fill.fee,
                    },
                )
                self.on_fill(fill)
            self._track_open(cid)
            self.version += 1
            answered = order.venue_status != OrderStatus.PENDING_NEW
            self.timings.settle(cid, answered, order.status.terminal, self.clock_ns())
            if cid in self._unacked and (
                order.status.terminal or order.venue_status != OrderStatus.PENDING_NEW
            ):
                self._acknowledged(cid, order)
            if order.status.terminal and cid not in self.recent:
                self.recent.append(cid)
                self._finished_since_forget += 1
            if order.status.terminal and cid in self._terminal_waiters:
                for waiter in self._terminal_waiters.pop(cid):
                    if not waiter.done():
                        waiter.set_result(order)
            self._journal_state(order, event.kind)
            self.publish(
                OrderChanged(
                    cid,
                    intent.symbol,
                    intent.side,
                    order.status,
                    inst.format_qty(intent.qty),
                    inst.format_price(intent.price) if intent.price else "",
                    inst.format_qty(order.filled),
                    self.end_reason(cid),
                    order.reason or event.kind,
                )
            )
        if events:
            self._check_daily_loss()
        if self._finished_since_forget >= _FORGET_EVERY:
            self._forget_old()

    # ---- the journal (records queued for its writer thread; see journal.py) ---------------

    def _journal_new(self, cid: ClientId, intent: OrderIntent, mode: Mode) -> None:
        if self.journal is None:
            return
        inst = self.instruments[intent.symbol]
        self.journal.order_new(
            cid, intent.symbol, intent.side.name, intent.order_type.name, intent.tif.name,
            inst.format_qty(intent.qty), inst.format_price(intent.price) if intent.price else "",
            intent.reduce_only, intent.strategy, mode.label, self.clock_ns(),
        )  # fmt: skip

    def _journal_state(self, order: Order, kind: str) -> None:
        journal = self.journal
        if journal is None:
            return
        inst = self.instruments[order.intent.symbol]
        filled = inst.format_qty(order.filled)
        avg = format_units(order.avg_price, inst.price_decimals) if order.avg_price else ""
        cid, status = order.client_id, order.status.name
        journal.order_state(
            cid, status, filled, avg, order.reason, order.venue_order_id, order.updated_ns
        )
        journal.order_event(order.updated_ns, cid, kind, status, filled, order.reason)

    def _journal_fill(self, order: Order, fill: Fill, mode: Mode, realized_before: float) -> None:
        journal = self.journal
        if journal is None:
            return
        inst = self.instruments[fill.symbol]
        book = self.account.book(mode, fill.symbol)
        now = self.clock_ns()
        journal.fill(
            mode.label, fill.symbol, fill.trade_id, fill.client_id, order.venue_order_id,
            fill.side.name, inst.format_qty(fill.qty), inst.format_price(fill.price), fill.fee,
            fill.maker, fill.strategy, fill.time_ms, "stream" if mode == Mode.LIVE else "paper",
        )  # fmt: skip
        self.journal_position(mode, fill.symbol, "fill", now)
        journal.daily_pnl(now, mode.label, book.realized - realized_before, fill.fee)

    def journal_position(self, mode: Mode, symbol: str, source: str, now_ns: int = 0) -> None:
        """A snapshot of `symbol`'s position in `mode` as the account holds it, for the
        journal: after every fill, and after anything else that sets it (the venue's
        position taken by reconciliation or recovery), so the journal's last word is the
        account's."""
        journal = self.journal
        if journal is None:
            return
        inst, book = self.instruments[symbol], self.account.book(mode, symbol)
        qty = inst.format_qty(abs(book.lots))
        journal.position(
            now_ns or self.clock_ns(), mode.label, symbol, qty if book.lots >= 0 else "-" + qty,
            f"{book.entry_ticks() * inst.tick_units:.0f}", book.realized, book.fees, source,
        )  # fmt: skip

    def adopt(self, payload: Mapping[str, object], strategy: str = "manual") -> ClientId | None:
        """Take over a venue order this engine no longer tracks (after a restart), from its
        REST order object, so that it is managed (and cancellable) again. Returns its client
        id, or None when the object cannot be read or the order is already tracked."""
        inst = self.instruments.get(str(payload.get("symbol")))
        cid = ClientId(str(payload.get("clientOrderId", "")))
        if inst is None or not cid or self.tracker.get(cid) is not None:
            return None
        try:
            order_type = OrderType[str(payload.get("type"))]
            price = (
                inst.price_ticks(str(payload.get("price"))) if order_type == OrderType.LIMIT else 0
            )
            intent = OrderIntent(
                inst.symbol,
                Side[str(payload.get("side"))],
                Lots(inst.qty_lots(str(payload.get("origQty")))),
                Ticks(price),
                order_type,
                TimeInForce[str(payload.get("timeInForce", "GTC"))],
                bool(payload.get("reduceOnly", False)),
                strategy,
            )
            self.tracker.submit(cid, intent)
        except (KeyError, ValueError) as exc:
            log.warning("venue order not adopted", extra={"client_id": cid, "error": str(exc)})
            return None
        self._order_mode[cid] = Mode.LIVE
        self._journal_new(cid, intent, Mode.LIVE)
        self._track_open(cid)
        self._apply_payload(cid, payload)
        return cid

    # ---- reconciliation: reconcile.py compares, these apply what the venue said ------------

    def live_open_orders(self) -> list[Order]:
        """Live orders believed open at the venue (acknowledged: one still in flight is not
        expected on the venue's list yet)."""
        orders = []
        for cid, mode in self._order_mode.items():
            order = self.tracker.get(ClientId(cid))
            if mode == Mode.LIVE and order is not None and order.open and cid not in self._unacked:
                orders.append(order)
        return orders

    def live_orders_missing_fills(self) -> list[Order]:
        """Live orders whose filled total is ahead of the trades that reached us: a REST
        answer said they filled, the stream never brought the fills."""
        orders = []
        for cid, mode in self._order_mode.items():
            order = self.tracker.get(ClientId(cid))
            if mode == Mode.LIVE and order is not None and order.filled > order.traded:
                orders.append(order)
        return orders

    def resume_paper_positions(self, positions: Mapping[str, tuple[str, str]]) -> list[str]:
        """Take the paper positions an earlier run left (the journal's last snapshot of each:
        signed qty, entry price in 10**-decimals), before anything trades. Returns what was
        taken and what could not be, a phrase each, for the trader."""
        said: list[str] = []
        for symbol, (qty, entry_units) in sorted(positions.items()):
            inst = self.instruments.get(symbol)
            if inst is None:
                said.append(f"{symbol} {qty} left out (not one of the engine's symbols)")
                continue
            try:
                negative = qty.startswith("-")
                lots = inst.qty_lots(qty.lstrip("-"))
                entry_ticks = int(entry_units) / inst.tick_units
            except ValueError as exc:
                said.append(f"{symbol} {qty} left out ({exc})")
                continue
            self.account.seed_position(Mode.PAPER, symbol, -lots if negative else lots, entry_ticks)
            entry = format_units(int(entry_units), inst.price_decimals)
            said.append(f"{symbol} {'' if negative else '+'}{qty} @ {entry}")
        self.set_mode(self.mode)  # the exposure risk reads, if trading in paper already
        return said

    def resume_strategy_positions(self, fills: Iterable[StrategyFill]) -> int:
        """Rebuild each strategy's own position per mode from an earlier run's fills (oldest
        first), before anything trades, so that a strategy that held inventory still sees
        it; its realized P&L and fees are those of today's (UTC) fills, as the account's
        "today" is. Recovery adds the fills it finds at the venue the same way, later.
        Returns the fills taken; unreadable ones are logged and skipped."""
        taken = 0
        today = utc_day(self.clock_ns())
        touched: set[str] = set()
        for fill in fills:
            inst = self.instruments.get(fill.symbol)
            mode = Mode.LIVE if fill.mode == Mode.LIVE.label else Mode.PAPER
            if inst is None or fill.side not in ("BUY", "SELL"):
                continue  # a symbol this engine does not trade now (or a side it cannot read)
            try:
                lots = inst.qty_lots(fill.qty)
                ticks = inst.price_units_of(fill.price) // inst.tick_units  # fills are on the tick
            except ValueError as exc:
                log.warning(
                    "unreadable journal fill", extra={"strategy": fill.strategy, "error": str(exc)}
                )
                continue
            book = self.account.strategy_book(mode, fill.strategy, fill.symbol)
            fees = book.fees
            realized = book.on_fill(Side[fill.side], lots, ticks, fill.fee) / inst.notional_scale
            if utc_day(fill.time_ms * 1_000_000) == today:
                book.realized += realized
            else:  # an earlier day's: its entry counts, its P&L and fee were that day's
                book.fees = fees
            touched.add(fill.strategy)
            taken += 1
        for strategy in touched:
            self._refresh_strategy(strategy)
        return taken

    def fills_accounted(self) -> None:
        """Recovery journaled the fills of the orders it adopted and took positions from the
        venue: their trades are not missing, whatever arrives of them later."""
        for order in self.live_orders_missing_fills():
            order.traded = order.filled

    def apply_venue_order(self, payload: Mapping[str, object]) -> bool:
        """Merge a REST order object for a tracked order; False when unknown or unreadable."""
        return self._apply_payload(ClientId(str(payload.get("clientOrderId", ""))), payload)

    def apply_venue_trades(self, cid: ClientId, rows: list[dict[str, object]]) -> int:
        """Apply the venue's own trade records (`userTrades`) of one order: fills the stream
        never delivered. Trade ids already applied are skipped, so this is idempotent.
        Returns how many fills were new."""
        order = self.tracker.get(cid)
        if order is None:
            return 0
        inst = self.instruments[order.intent.symbol]
        before = len(order.trades)
        updates = []
        for t in rows:
            try:
                trade_id, order_id = t["id"], t["orderId"]
                if not isinstance(trade_id, int) or order_id != order.venue_order_id:
                    continue
                update = VenueUpdate(
                    cid, inst.symbol, order.venue_status, order.venue_order_id,
                    order.filled, order.avg_price, Lots(inst.qty_lots(str(t["qty"]))),
                    Ticks(inst.price_ticks(str(t["price"]))), trade_id,
                    float(str(t.get("commission", "0"))), t.get("maker") is True,
                    int(str(t.get("time", 0))), "reconcile",
                )  # fmt: skip
                updates.append(update)
            except (KeyError, ValueError) as exc:
                log.warning("unreadable venue trade", extra={"client_id": cid, "error": str(exc)})
        self._apply_updates(updates)
        return len(order.trades) - before

    def correct_position(self, symbol: str, lots: int, entry_ticks: float) -> None:
        """Take the venue's live position (after a reconciliation mismatch), journaled."""
        self.account.seed_position(Mode.LIVE, symbol, lots, entry_ticks)
        self.journal_position(Mode.LIVE, symbol, "reconcile")
        if self.mode == Mode.LIVE:
            self.exposure.symbols[symbol].position = lots
        self.version += 1

    def _track_open(self, cid: str) -> None:
        """Keep the exposure's open-order figures in step with the order's state."""
        order = self.tracker.get(ClientId(cid))
        before = self._open.pop(cid, None)
        if before is not None:
            self._count_open(before[0], before[1], before[2], -1)
        if order is None or not order.open:
            self._refresh_strategy(order.intent.strategy if order else "")
            return
        intent = order.intent
        remaining = intent.qty - order.filled
        self._open[cid] = (intent.symbol, intent.side, remaining, intent.price, intent.strategy)
        self._count_open(intent.symbol, intent.side, remaining, 1)
        self._refresh_strategy(intent.strategy)

    def _count_open(self, symbol: str, side: Side, lots: int, sign: int) -> None:
        # One open order of `lots` in or out of the exposure risk reads.
        exp = self.exposure.symbols[symbol]
        exp.open_orders += sign
        self.exposure.open_orders_total += sign
        if side == Side.BUY:
            exp.open_buy += sign * lots
        else:
            exp.open_sell += sign * lots

    def _refresh_strategy(self, strategy: str) -> None:
        # Gross exposure in USDT: open orders at their price, positions at mid.
        if not strategy:
            return
        total = 0.0
        for symbol, _side, lots, price, owner in self._open.values():
            if owner == strategy:
                inst = self.instruments[symbol]
                px = price or self.exposure.symbols[symbol].mid
                total += lots * px / inst.notional_scale
        for symbol, inst in self.instruments.items():
            lots = self.account.strategy_lots(self.mode, strategy, symbol)
            if lots:
                total += abs(lots) * self.exposure.symbols[symbol].mid / inst.notional_scale
        self.exposure.strategy_exposure[strategy] = total

    def _check_daily_loss(self) -> None:
        self.exposure.daily_pnl = self.account.pnl(self.mode, self.valuations()).daily
        breached = self.risk.daily_loss_breached(self.exposure)
        if breached and not self.exposure.killed and self.on_daily_loss is not None:
            self.on_daily_loss()

    # ---- paper ----------------------------------------------------------------------------

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        """After a depth diff was applied: the paper matcher sees the new book."""
        if self.paper.busy:
            self.paper.on_book(symbol, book, now_ns)
            self._drain_paper()

    def on_trade(self, symbol: str, price: int, qty: int, buyer_maker: bool, now_ns: int) -> None:
        if self.paper.busy:
            self.paper.on_trade(symbol, Ticks(price), Lots(qty), buyer_maker, now_ns)
            self._drain_paper()

    def _schedule_paper(self) -> None:
        # Latency elapses even when the market is quiet.
        if self._paper_timer is None:
            delay = self.paper.config.latency_ns / 1e9 + 0.0005
            self._paper_timer = asyncio.get_running_loop().call_later(delay, self._paper_tick)

    def _paper_tick(self) -> None:
        self._paper_timer = None
        self.paper.advance(self.clock_ns())
        self._drain_paper()

    def _drain_paper(self) -> None:
        updates = self.paper.drain()
        if updates:
            self._apply_updates(updates)

    # ---- live -----------------------------------------------------------------------------

    async def connect_live(self, credentials: Credentials) -> None:
        """Start the signed client and the user-data stream (idempotent).

        Raises:
            VenueError: the venue did not answer or refused the keys.
        """
        if self.client is None:
            client = VenueClient(
                self.rest_url,
                credentials,
                recv_window_ms=self.config.live.recv_window_ms,
                timeout_s=self.config.live.request_timeout_s,
            )
            try:
                await client.start()
                await client.account()  # proves the keys before anything is sent
            except VenueError:
                await client.close()
                raise
            self.client = client
        if self.user_stream is None:
            self.user_stream = UserStream(
                self.client,
                self.stream_url,
                self.on_user_event,
                heartbeat_s=self.config.live.user_stream_heartbeat_s,
                on_reconnect=self._stream_reconnected,
            )
            self.spawn(self.user_stream.run(), "user stream")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.user_stream.connected_event.wait(), 5.0)

    def _stream_reconnected(self) -> None:
        if self.on_stream_reconnect is not None:
            self.on_stream_reconnect()

    async def seed_live_positions(self) -> None:
        """Start the live books from the venue's positions, and the wallet from its balances."""
        if self.client is None:
            return
        try:
            self.account.balances.take(parse_balance_rows(await self.client.balances()))
        except VenueError as exc:
            self._alert(logging.WARNING, f"could not read venue balances: {exc}")
        try:
            rows = await self.client.position_risk()
        except VenueError as exc:
            self._alert(logging.WARNING, f"could not read venue positions: {exc}")
            return
        for row in rows:
            symbol = str(row.get("symbol"))
            inst = self.instruments.get(symbol)
            if inst is None:
                continue
            try:
                amt = str(row.get("positionAmt", "0"))
                negative = amt.startswith("-")
                lots = inst.qty_lots(amt.lstrip("-"))
                entry = inst.price_units_of(str(row.get("entryPrice", "0"))) / inst.tick_units
            except ValueError:
                continue
            self.account.seed_position(Mode.LIVE, symbol, -lots if negative else lots, entry)
        self.version += 1

    async def countdown_loop(self) -> None:
        """Keep the venue's dead-man's switch armed while live: if the engine dies, the venue
        cancels our orders when the countdown runs out."""
        seconds = self.config.live.countdown_s
        while self.mode == Mode.LIVE and self.client is not None and seconds > 0:
            for symbol in self.instruments:
                try:
                    await self.client.countdown_cancel_all(symbol, seconds * 1000)
                except VenueError as exc:
                    log.warning("countdown refresh failed", extra={"error": str(exc)})
            await asyncio.sleep(max(1.0, seconds / 3))

    async def disarm_countdown(self) -> None:
        if self.client is None:
            return
        for symbol in self.instruments:
            with contextlib.suppress(VenueError):
                await self.client.countdown_cancel_all(symbol, 0)

    def positions(self, mode: Mode) -> dict[str, int]:
        return {s: self.account.book(mode, s).lots for s in self.instruments}

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        for symbol, exp in self.exposure.symbols.items():
            exp.position = self.account.book(mode, symbol).lots if mode != Mode.OBSERVE else 0
        for strategy in list(self.exposure.strategy_exposure):  # their positions of this mode
            self._refresh_strategy(strategy)
        self.version += 1

    async def close(self) -> None:
        if self._paper_timer is not None:
            self._paper_timer.cancel()
        if self.user_stream is not None:
            await self.user_stream.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.client is not None:
            await self.client.close()
