"""The engine's command handler: manual overrides, mode switches and the kill switch.

Owns: the command ring's consumer side and the answers. Each command from the TUI or the
CLI is handled here, through risk and execution like any strategy intent, and answered on
the event ring with its request id: accepted, or refused with a reason code and a sentence.

Modes: going down is instant. Leaving a mode, in either direction, cancels its orders (they
would be unmanaged otherwise). Going up is one step at a time; `live` needs keys and the typed word
LIVE. The kill switch drops to observe, cancels everything everywhere (and verifies), can
flatten, and latches on disk until an explicit re-arm.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from hftui.config import Config, ConfigError, differences
from hftui.engine.binance.client import Credentials
from hftui.engine.binance.rest import VenueError
from hftui.engine.deadman import DeadMansSwitch
from hftui.engine.execution import Execution, Outcome, risk_limits
from hftui.engine.intents import ClientId, Lots, OrderIntent, Ticks
from hftui.engine.journal import Journal
from hftui.engine.kill_switch import KillLatchError, KillSwitch
from hftui.engine.orders import Order
from hftui.keys import KeyringUnusableError, load_keys
from hftui.logs import request_id as current_request
from hftui.protocol import (
    AlertRaised,
    CancelAll,
    CancelOrder,
    Command,
    CommandAnswered,
    Event,
    Flatten,
    Kill,
    Mode,
    ModeChanged,
    OrderStatus,
    OrderType,
    PauseStrategy,
    PlaceOrder,
    Rearm,
    Reason,
    ReloadRisk,
    ReloadStrategy,
    ReplaceOrder,
    ResumeStrategy,
    SetMode,
    SetStrategyParams,
    Side,
    TimeInForce,
    WatchSymbol,
)
from hftui.rings import CommandReceiver, RingError

__all__ = ["Controller", "KillReport"]

log = logging.getLogger(__name__)

_POLL_S: Final = 0.02  # between command polls; senders also nudge with SIGUSR1
_VERIFY_ROUNDS: Final = 5
_REPLACE_WAIT_S: Final = 10.0  # for the venue to confirm the cancel of a replaced order

_StrategyCommand = PauseStrategy | ResumeStrategy | ReloadStrategy | SetStrategyParams


@dataclass(slots=True)
class KillReport:
    """Timings of the last kill, in nanoseconds from the key press that asked for it (the
    command's `sent_ns`; the engine's own start for a kill it fired itself)."""

    arrived_ns: int = 0  # the engine started acting on it
    cancels_sent_ns: int = 0
    cancels_done_ns: int = 0
    zero_open_ns: int = 0
    canceled_paper: int = 0
    left_open: int = -1  # venue orders still open after verification; -1 unknown
    flattened: list[str] = field(default_factory=list)


class Controller:
    def __init__(
        self,
        config: Config,
        execution: Execution,
        kill: KillSwitch,
        publish: Callable[[Event], None],
        reload_config: Callable[[], Config] | None = None,
    ) -> None:
        """`reload_config` re-reads the engine's config file (ConfigError when it is bad)."""
        self.config = config
        self.reload_config = reload_config
        self.execution = execution
        self.kill_switch = kill
        self.publish = publish
        self.receiver: CommandReceiver | None = None
        self._wake = asyncio.Event()
        self.last_kill = KillReport()
        self.has_keys = False  # see refresh_keys
        self.journal: Journal | None = None  # the audit log, when the engine keeps one
        self._kill_lock = asyncio.Lock()
        self.dead_man: DeadMansSwitch | None = None  # which TUI may trade; set by the engine
        # Answers the strategy commands; set by the engine once its strategy host runs.
        self.strategy_command: Callable[[_StrategyCommand], Outcome] | None = None
        # Follows or drops a symbol's market data (WatchSymbol); set by the engine.
        self.watch_symbol: Callable[[str, bool], Awaitable[Outcome]] | None = None
        self.execution.exposure.killed = kill.killed
        self.execution.on_daily_loss = self._daily_loss

    # ---- the ring -------------------------------------------------------------------------

    def nudge(self) -> None:
        """SIGUSR1 from a sender: look at the ring now."""
        self._wake.set()

    async def serve(self, receiver: CommandReceiver) -> None:
        self.receiver = receiver
        while True:
            for request_id, sender, sent_ns, command in receiver.poll_stamped():
                # Every log line this command causes (in tasks it starts too) carries its id.
                token = current_request.set(request_id)
                try:
                    self._take(request_id, sender, sent_ns, command)
                finally:
                    current_request.reset(token)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _POLL_S)

    def _take(
        self, request_id: int, sender: int, sent_ns: int, command: Command | RingError
    ) -> None:
        if isinstance(command, RingError):
            self.answer(request_id, Outcome(Reason.BAD_COMMAND, str(command)))
            return
        if self.dead_man is not None:
            # Heartbeats stop here; a watching TUI's trading command is refused.
            screening = self.dead_man.screen(sender, command)
            if screening.answer is not None:
                self.answer(request_id, screening.answer)
            if not screening.forward:
                return
        log.info("command", extra={"command": command.tag, "sender_pid": sender})
        self.handle(request_id, command, sent_ns)

    def answer(self, request_id: int, outcome: Outcome) -> None:
        if request_id:
            self.publish(
                CommandAnswered(request_id, outcome.ok, outcome.reason, outcome.text[:120])
            )
        level = logging.INFO if outcome.ok else logging.WARNING
        extra = {"reason": outcome.reason.name, "text": outcome.text, "request_id": request_id}
        log.log(level, "answer", extra=extra)

    def _later(self, request_id: int) -> Callable[[Outcome], None]:
        return lambda outcome: self.answer(request_id, outcome)

    # ---- dispatch -------------------------------------------------------------------------

    def handle(self, request_id: int, command: Command, sent_ns: int = 0) -> None:
        """Act on one command. Never raises: anything unexpected becomes a refusal.

        `sent_ns` is the sender's CLOCK_MONOTONIC at the key press (0: unknown, use now)."""
        self._audit("command", repr(command))  # commands never carry keys
        try:
            self._dispatch(request_id, command, sent_ns)
        except Exception as exc:  # an engine bug must not take the engine down
            log.exception("command failed", extra={"command": command.tag})
            self.answer(request_id, Outcome(Reason.BAD_COMMAND, f"internal error: {exc}"))

    def _dispatch(self, request_id: int, command: Command, sent_ns: int) -> None:
        ex = self.execution
        match command:
            case PlaceOrder():
                self._place(request_id, command)
            case CancelOrder():
                live = ex.order_mode(command.client_id) == Mode.LIVE
                outcome = ex.cancel(command.client_id, self._later(request_id))
                if not outcome.ok or not live:
                    self.answer(request_id, outcome)
            case ReplaceOrder():
                ex.spawn(self._replace(request_id, command), f"replace {command.client_id}")
            case CancelAll():
                ex.spawn(self._cancel_all(request_id, command.symbol), "cancel all")
            case Flatten():
                ex.spawn(self._flatten(request_id, command.symbol), "flatten")
            case Kill():
                ex.spawn(self.kill(request_id, "kill switch", command.flatten, sent_ns), "kill")
            case Rearm():
                self._rearm(request_id)
            case ReloadRisk():
                self.answer(request_id, self._reload_risk())
            case SetMode():
                ex.spawn(self._set_mode(request_id, command), "mode")
            case (
                PauseStrategy()
                | ResumeStrategy()
                | ReloadStrategy()
                | SetStrategyParams()
                | WatchSymbol()
            ):
                self._for_others(request_id, command)

    def _for_others(self, request_id: int, command: _StrategyCommand | WatchSymbol) -> None:
        # Commands another engine part answers: the strategy host, the market data.
        if isinstance(command, WatchSymbol):
            self.execution.spawn(self._watch(request_id, command), f"watch {command.symbol}")
        else:
            self.answer(request_id, self._strategy(command))

    async def _watch(self, request_id: int, command: WatchSymbol) -> None:
        if self.watch_symbol is None:
            self.answer(request_id, Outcome(Reason.BUSY, "market data is not running"))
            return
        self.answer(request_id, await self.watch_symbol(command.symbol, command.watch))

    def _strategy(self, command: _StrategyCommand) -> Outcome:
        if self.strategy_command is not None:
            return self.strategy_command(command)
        return Outcome(Reason.NOT_FOUND, f"no strategy named {command.name!r} is loaded")

    # ---- orders ---------------------------------------------------------------------------

    def intent_of(self, command: PlaceOrder) -> OrderIntent | Outcome:
        """The intent a place command asks for, or the refusal of text off the grid."""
        inst = self.execution.instruments.get(command.symbol)
        if inst is None:
            return Outcome(
                Reason.UNKNOWN_SYMBOL,
                f"{command.symbol} is not traded here; symbols: "
                + ", ".join(self.execution.instruments),
            )
        try:
            qty = inst.qty_lots(command.qty)
        except ValueError as exc:
            return Outcome(Reason.BAD_QTY, str(exc))
        price = 0
        if command.order_type == OrderType.LIMIT:
            if not command.price:
                return Outcome(Reason.BAD_PRICE, "a limit order needs a price")
            try:
                price = inst.price_ticks(command.price)
            except ValueError as exc:
                return Outcome(Reason.BAD_PRICE, str(exc))
        elif command.price:
            return Outcome(Reason.BAD_PRICE, "a market order takes no price")
        if command.post_only and command.order_type == OrderType.MARKET:
            return Outcome(Reason.BAD_COMMAND, "a market order cannot be post-only")
        tif = TimeInForce.GTX if command.post_only else TimeInForce.GTC
        if command.order_type == OrderType.MARKET:
            tif = TimeInForce.GTC
        return OrderIntent(
            command.symbol,
            command.side,
            Lots(qty),
            Ticks(price),
            command.order_type,
            tif,
            command.reduce_only,
        )

    def _place(self, request_id: int, command: PlaceOrder) -> None:
        intent = self.intent_of(command)
        if isinstance(intent, Outcome):
            self.execution.refusals += 1
            self.answer(request_id, intent)
            return
        if self.kill_switch.killed:
            self.execution.refusals += 1
            self.answer(request_id, Outcome(Reason.KILLED, Reason.KILLED.text))
            return
        live = self.execution.mode == Mode.LIVE
        outcome = self.execution.place(intent, self._later(request_id) if live else None)
        if not live or not outcome.ok:
            self.answer(request_id, outcome)

    def _replacement(self, command: ReplaceOrder) -> tuple[Order, OrderIntent, int] | Outcome:
        """The order to replace, its replacement (less what already filled) and the new
        total, or the refusal. Risk judges the replacement as if the old order were gone."""
        ex = self.execution
        cid = ClientId(command.client_id)
        order = ex.tracker.get(cid)
        if order is None or not order.open:
            state = "no such order" if order is None else f"already {order.status.label}"
            return Outcome(Reason.NOT_FOUND, f"{cid}: {state}")
        old = order.intent
        if old.order_type != OrderType.LIMIT:
            return Outcome(Reason.BAD_COMMAND, "only limit orders are replaced")
        inst = ex.instruments[old.symbol]
        try:
            total = inst.qty_lots(command.qty) if command.qty else old.qty
        except ValueError as exc:
            return Outcome(Reason.BAD_QTY, str(exc))
        try:
            price = inst.price_ticks(command.price) if command.price else old.price
        except ValueError as exc:
            return Outcome(Reason.BAD_PRICE, str(exc))
        if self.kill_switch.killed:
            return Outcome(Reason.KILLED, Reason.KILLED.text)
        new = dataclasses.replace(old, qty=Lots(total - order.filled), price=Ticks(price))
        if new.qty <= 0:
            text = f"{cid} already filled {inst.format_qty(order.filled)}: cancel it instead"
            return Outcome(Reason.BAD_QTY, text)
        refusal = ex.precheck_replacing(new, order)
        return refusal if refusal is not None else (order, new, total)

    async def _replace(self, request_id: int, command: ReplaceOrder) -> None:
        """Cancel-replace: the replacement goes out only once the venue has confirmed the
        cancel, so both are never live together; what the old one filled meanwhile comes
        off the new total. A replacement that risk would refuse is refused up front, and
        the old order is left alone."""
        ex = self.execution
        found = self._replacement(command)
        if isinstance(found, Outcome):
            self.answer(request_id, found)
            return
        order, new, total = found
        cid = order.client_id
        done = ex.when_terminal(cid)
        outcome = ex.cancel(cid)
        if not outcome.ok:
            done.cancel()
            self.answer(request_id, outcome)
            return
        try:
            final = await asyncio.wait_for(done, _REPLACE_WAIT_S)
        except TimeoutError:
            text = f"{cid}: cancel not confirmed in {_REPLACE_WAIT_S:g}s; nothing new placed"
            self.answer(request_id, Outcome(Reason.TIMEOUT, text))
            return
        left = total - final.filled
        if left <= 0:
            filled = ex.instruments[new.symbol].format_qty(final.filled)
            self.answer(
                request_id, Outcome(Reason.OK, f"{cid} filled {filled} meanwhile: nothing to place")
            )
            return
        if final.status != OrderStatus.CANCELED:
            text = f"{cid} ended {final.status.label} before the cancel: nothing new placed"
            self.answer(request_id, Outcome(Reason.NOT_FOUND, text))
            return
        if ex.order_mode(cid) != ex.mode or self.kill_switch.killed:
            text = f"{cid} canceled; not replaced: the mode changed meanwhile"
            self.answer(request_id, Outcome(Reason.HALTED, text))
            return
        live = ex.mode == Mode.LIVE
        placed = ex.place(
            dataclasses.replace(new, qty=Lots(left)), self._later(request_id) if live else None
        )
        if not live or not placed.ok:
            self.answer(request_id, placed)

    async def _cancel_all(self, request_id: int, symbol: str) -> None:
        ex = self.execution
        symbols = [symbol] if symbol else list(ex.instruments)
        if symbol and symbol not in ex.instruments:
            self.answer(request_id, Outcome(Reason.UNKNOWN_SYMBOL, f"{symbol} is not traded"))
            return
        paper = ex.cancel_paper(symbol)
        live = ex.open_orders(symbol, Mode.LIVE)
        ex.request_cancels(live)
        failed = await ex.cancel_live_all(symbols) if ex.client is not None else 0
        where = symbol or "every symbol"
        if failed:
            self.answer(
                request_id,
                Outcome(Reason.VENUE_DOWN, f"cancel-all failed on {failed} symbol(s) of {where}"),
            )
            return
        self.answer(
            request_id,
            Outcome(Reason.OK, f"canceled on {where}: {paper} paper, {len(live)} live order(s)"),
        )

    async def _flatten(self, request_id: int, symbol: str) -> None:
        ex = self.execution
        if symbol not in ex.instruments:
            self.answer(request_id, Outcome(Reason.UNKNOWN_SYMBOL, f"{symbol} is not traded"))
            return
        if ex.mode == Mode.OBSERVE:
            self.answer(request_id, Outcome(Reason.OK, "observe: no position to flatten"))
            return
        ex.cancel_paper(symbol)
        if ex.mode == Mode.LIVE:
            await ex.cancel_live_all([symbol])
        lots = ex.account.book(ex.mode, symbol).lots
        if lots == 0:
            self.answer(request_id, Outcome(Reason.OK, f"{symbol} is already flat"))
            return
        side = Side.SELL if lots > 0 else Side.BUY
        intent = OrderIntent(
            symbol, side, Lots(abs(lots)), Ticks(0), OrderType.MARKET, reduce_only=True
        )
        live = ex.mode == Mode.LIVE
        outcome = ex.place(intent, self._later(request_id) if live else None)
        if not live or not outcome.ok:
            self.answer(request_id, outcome)

    # ---- modes ----------------------------------------------------------------------------

    def _audit(self, kind: str, detail: str) -> None:
        if self.journal is not None:
            self.journal.audit(kind, detail)

    def _keys_seen(self, present: bool) -> None:
        # Only whether keys are there is audited, never what they are.
        if present != self.has_keys:
            self._audit(
                "keys", f"{self.config.venue.name} keys {'present' if present else 'absent'}"
            )
        self.has_keys = present

    def _announce(self, text: str, kind: str = "mode") -> None:
        ex = self.execution
        self._audit(kind, f"{text}; mode {ex.mode.label}, killed {self.kill_switch.killed}")
        self.publish(ModeChanged(ex.mode, self.kill_switch.killed, text))
        log.warning("mode", extra={"mode": ex.mode.label, "killed": self.kill_switch.killed})

    async def _leave(self, old: Mode) -> None:
        # Orders of a mode being left would be unmanaged: cancel them.
        ex = self.execution
        if old >= Mode.PAPER:
            ex.cancel_paper(immediate=True)
        if old == Mode.LIVE:
            ex.request_cancels(ex.open_orders(mode=Mode.LIVE))
            await ex.cancel_live_all(list(ex.instruments))
            await ex.disarm_countdown()

    async def _set_mode(self, request_id: int, command: SetMode) -> None:
        ex = self.execution
        target, old = command.mode, ex.mode
        if target == old:
            self.answer(request_id, Outcome(Reason.OK, f"already in {old.label}"))
            return
        if target < old:
            ex.set_mode(target)  # instant: nothing new goes out from here on
            self._announce(f"{old.label} -> {target.label}")
            await self._leave(old)
            self.answer(request_id, Outcome(Reason.OK, f"mode {target.label}"))
            return
        if self.kill_switch.killed:
            self.answer(request_id, Outcome(Reason.KILLED, Reason.KILLED.text))
            return
        if target != old + 1:
            self.answer(
                request_id,
                Outcome(
                    Reason.MODE_STEP,
                    f"{old.label} -> {target.label}: go to {Mode(old + 1).label} first",
                ),
            )
            return
        if target == Mode.LIVE:
            refusal = await self._prepare_live(command.confirm)
            if refusal is not None:
                self.answer(request_id, refusal)
                return
        ex.set_mode(target)
        if old == Mode.PAPER:
            ex.cancel_paper(immediate=True)  # paper orders do not follow the trader into live
        if target == Mode.LIVE:
            ex.spawn(ex.countdown_loop(), "countdown")
        self._announce(f"{old.label} -> {target.label}")
        self.answer(request_id, Outcome(Reason.OK, f"mode {target.label}"))

    async def _prepare_live(self, confirm: str) -> Outcome | None:
        if confirm != "LIVE":
            return Outcome(Reason.CONFIRMATION, "type LIVE to confirm going live")
        credentials = self.credentials()
        self._keys_seen(isinstance(credentials, Credentials))  # keys may have changed since
        if isinstance(credentials, Outcome):
            return credentials
        try:
            await self.execution.connect_live(credentials)
        except VenueError as exc:
            return Outcome(Reason.VENUE_DOWN, f"cannot go live: {exc}")
        await self.execution.seed_live_positions()
        return None

    def credentials(self) -> Credentials | Outcome:
        venue = self.config.venue.name
        try:
            keys = load_keys(venue)
        except KeyringUnusableError as exc:
            return Outcome(Reason.NO_KEYS, str(exc))
        if keys is None:
            return Outcome(
                Reason.NO_KEYS, f"no API keys for {venue}: store them with `hftui keys set`"
            )
        return Credentials(keys.api_key, keys.secret)

    async def refresh_keys(self) -> None:
        """Learn whether live is possible (keys, or the local demo account), for the TUI's
        mode dialog. Off the event loop: a keyring backend may be slow to answer."""
        try:
            found = await asyncio.to_thread(self.credentials)
        except Exception:  # any keyring failure means no usable keys
            log.exception("keyring check failed")
            found = None
        self._keys_seen(isinstance(found, Credentials))

    async def connect_local(self) -> None:
        """On the local exchange, connect the signed client at start, so that a kill right
        after start does not pay for the connection."""
        credentials = self.credentials()
        if isinstance(credentials, Credentials):
            try:
                await self.execution.connect_live(credentials)
            except VenueError as exc:
                log.warning("local venue: signed client not connected", extra={"error": str(exc)})

    async def stand_down(self) -> None:
        """The dead-man's `cancel` policy: drop to observe (cancelling the mode's orders as
        any mode change down does), then cancel whatever is still open anywhere."""
        await self._set_mode(0, SetMode(Mode.OBSERVE))
        await self._cancel_all(0, "")

    # ---- the kill switch ------------------------------------------------------------------

    def _daily_loss(self) -> None:
        self.execution.spawn(self.kill(0, "daily loss limit reached", flatten=False), "kill")

    async def kill(self, request_id: int, reason: str, flatten: bool, key_ns: int = 0) -> None:
        """Drop to observe, cancel everything everywhere, verify, optionally flatten, latch.

        `key_ns`: CLOCK_MONOTONIC of the key press (0: now); every timing counts from it."""
        now = time.monotonic_ns()
        t0 = key_ns if 0 < key_ns <= now else now
        ex = self.execution
        report = KillReport(arrived_ns=now - t0)
        old = ex.mode
        ex.set_mode(Mode.OBSERVE)  # first: from here on nothing new is sent
        ex.exposure.killed = True
        async with self._kill_lock:
            if ex.client is None and self.config.venue.name == "local":
                # The demo account may hold orders from an earlier run: connect to cancel them.
                await self.connect_local()
            # The venue first: the cancel-all requests leave before any bookkeeping.
            cancel = None
            symbols = list(ex.instruments)
            unsent = [len(symbols)]  # requests not yet on the wire
            all_written = asyncio.Event()
            if ex.client is not None:

                def sent() -> None:
                    unsent[0] -= 1
                    if unsent[0] == 0:
                        report.cancels_sent_ns = time.monotonic_ns() - t0
                        all_written.set()

                cancel = asyncio.ensure_future(ex.cancel_live_all(symbols, sent))
                # Until every request is on the wire (or the attempt is over), nothing else.
                waiter = asyncio.ensure_future(all_written.wait())
                await asyncio.wait({waiter, cancel}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
            else:
                report.cancels_sent_ns = time.monotonic_ns() - t0  # nothing at a venue
            report.canceled_paper = ex.cancel_paper(immediate=True)
            # Orders still on their way must be cancelled when they land: mark them now. The
            # others are the cancel-all's; marking them waits until it is verified.
            ex.request_cancels(ex.unacknowledged())
            self.last_kill = report  # published from here on; the rest fills in below
            self.kill_switch.latch(reason, flatten)
            self._announce(f"KILLED ({reason})", "kill")
            # The latch's fsync runs on a thread while the venue answers (a re-arm waits for
            # the kill to finish); it is on disk before the kill is reported done.
            persisting = asyncio.ensure_future(asyncio.to_thread(self.kill_switch.persist))
            if cancel is not None:
                await cancel
                report.cancels_done_ns = time.monotonic_ns() - t0
                report.left_open = await self._verify_zero_open()
                report.zero_open_ns = time.monotonic_ns() - t0
            # Bookkeeping last: what the stream has not reported canceled yet shows as
            # cancel-requested until it does.
            ex.request_cancels(ex.open_orders(mode=Mode.LIVE))
            if not await persisting:
                self.publish_alert(self.kill_switch.save_error)  # killed, but not on disk
            if flatten:
                report.flattened = await self._flatten_all(old)
            await ex.disarm_countdown()
        self.last_kill = report
        log.warning(
            "kill done",
            extra={
                f"{name}_ms": round(getattr(report, f"{name}_ns") / 1e6, 3)
                for name in ("arrived", "cancels_sent", "cancels_done", "zero_open")
            }
            | {"left_open": report.left_open, "paper_canceled": report.canceled_paper},
        )
        self.answer(request_id, Outcome(Reason.OK, _kill_text(report)))

    async def _verify_zero_open(self) -> int:
        ex = self.execution
        remaining = -1
        for _ in range(_VERIFY_ROUNDS):
            rows = await ex.venue_open_orders(list(ex.instruments))
            if rows is None:
                await asyncio.sleep(0.05)
                continue
            remaining = len(rows)
            if not rows:
                return 0
            symbols = sorted({str(r.get("symbol")) for r in rows})
            log.warning("kill: orders still open; cancelling again", extra={"symbols": symbols})
            await ex.cancel_live_all(symbols)
        return remaining

    async def _flatten_all(self, old: Mode) -> list[str]:
        """Reduce-only market orders for every position, without the risk gate (they only
        reduce): the venue's positions, which are the truth in live, and the paper book's."""
        ex = self.execution
        done: list[str] = []
        targets: list[tuple[str, int, Mode]] = []
        if ex.client is not None:
            try:
                await ex.seed_live_positions()
            except VenueError as exc:
                self.publish_alert(f"kill: cannot read positions to flatten: {exc}")
            targets += [(s, lots, Mode.LIVE) for s, lots in ex.positions(Mode.LIVE).items()]
        if old == Mode.PAPER:
            targets += [(s, lots, Mode.PAPER) for s, lots in ex.positions(Mode.PAPER).items()]
        for symbol, lots, mode in targets:
            if not lots:
                continue
            side = Side.SELL if lots > 0 else Side.BUY
            intent = OrderIntent(
                symbol,
                side,
                Lots(abs(lots)),
                Ticks(0),
                OrderType.MARKET,
                reduce_only=True,
                strategy="kill",
            )
            ex.submit(intent, mode)
            done.append(f"{mode.label} {ex.describe(intent)}")
        return done

    def publish_alert(self, text: str) -> None:
        log.warning(text)
        self.publish(AlertRaised(logging.WARNING, text))

    def _reload_risk(self) -> Outcome:
        """Put the config file's `[risk]` in force, all or nothing; other sections need a
        restart. The answer lists what changed; the change is logged and alerted."""
        if self.reload_config is None:
            return Outcome(Reason.BAD_COMMAND, "this engine has no config file to reload")
        try:
            fresh = self.reload_config()
            self.execution.risk.set_limits(risk_limits(fresh))
        except (ConfigError, ValueError) as exc:
            log.warning("risk reload refused", extra={"error": str(exc)})
            self._audit("config", f"risk reload refused: {exc}")
            # The answer has room for the key and the value, not for the file's path.
            path, sep, rest = str(exc).partition(": ")
            detail = rest if sep and path.endswith(".toml") else str(exc)
            return Outcome(Reason.BAD_COMMAND, f"risk limits kept: {detail}")
        changes = _differences(self.config.risk, fresh.risk)
        self.config = dataclasses.replace(self.config, risk=fresh.risk)
        self.execution.config = self.config
        text = "risk limits reloaded: " + ("; ".join(changes) if changes else "no change")
        self._audit("config", text)
        self.publish_alert(text[:120])
        return Outcome(Reason.OK, text)

    def _rearm(self, request_id: int) -> None:
        if self._kill_lock.locked():
            text = "a kill is still running; re-arm once it has answered"
            self.answer(request_id, Outcome(Reason.BUSY, text))
            return
        try:
            rearmed = self.kill_switch.rearm()
        except KillLatchError as exc:  # the file still says killed, and so do we
            self.answer(request_id, Outcome(Reason.KILLED, f"still killed: {exc}"))
            return
        if not rearmed:
            self.answer(request_id, Outcome(Reason.OK, "not killed; nothing to re-arm"))
            return
        self.execution.exposure.killed = False
        self._announce("re-armed", "rearm")
        self.answer(request_id, Outcome(Reason.OK, "re-armed; still in observe"))


def _kill_text(r: KillReport) -> str:
    # Short: the event ring carries 120 bytes of text, and the flattened symbols may follow.
    head = (
        f"killed {r.arrived_ns / 1e6:.1f} ms after the key: "
        f"cancels sent at {r.cancels_sent_ns / 1e6:.1f} ms"
    )
    if r.zero_open_ns:
        state = "zero open orders" if r.left_open == 0 else f"{r.left_open} still open"
        head = f"{head}, {state} at {r.zero_open_ns / 1e6:.1f} ms"
    parts = [head]
    if r.canceled_paper:
        parts.append(f"{r.canceled_paper} paper order(s) canceled")
    if r.flattened:
        parts.append("flattened " + ", ".join(r.flattened))
    return "; ".join(parts)


def _differences(old: object, new: object) -> list[str]:
    """`field old -> new` for every field of two config dataclasses that differs."""
    return [f"{name} {a} -> {b}" for name, a, b in differences(old, new)]
