"""The engine's side of the command and event rings, for pilot tests of the trading keys.

Real rings, real segments: the TUI under test talks to them through a real `EngineControl`.
Only the engine behind them is small: it answers each command with the engine's rules for
modes and the kill latch (`hftui.engine.control`, which the TUI must not import), and
publishes the latch and mode in the snapshot region as the engine's publisher does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hftui.instance import InstanceInfo
from hftui.ipc import SnapshotWriter
from hftui.protocol import (
    STRATEGY_STATES,
    AlertRaised,
    CancelAll,
    CancelOrder,
    Command,
    CommandAnswered,
    Event,
    Flatten,
    Heartbeat,
    Kill,
    Mode,
    ModeChanged,
    OrderStatus,
    OrderType,
    PauseStrategy,
    PlaceOrder,
    Rearm,
    Reason,
    ReloadStrategy,
    ResumeStrategy,
    SetMode,
    SetStrategyParams,
    Side,
    TimeInForce,
    decode_text,
)
from hftui.remote import EngineControl
from hftui.rings import (
    CommandReceiver,
    EventWriter,
    RingError,
    command_segment_name,
    event_segment_name,
)
from tests.support.region import FROZEN_NS, fill_header

KILLED_NS = FROZEN_NS - 2 * 10**9  # the stub's kills happen at 11:06:38 UTC
ORDER_AGE_NS = 12 * 10**9  # the stub's orders were placed 12 s before the frozen clock
_SIGUSR1_BIT = 1 << 9  # SIGUSR1 (10) in /proc/<pid>/status SigIgn


@dataclass
class StubOrder:
    """One resting order of the stub, in the region's units."""

    client_id: str
    symbol: str
    side: Side
    order_type: OrderType
    price: int
    qty: int
    filled: int = 0
    post_only: bool = False
    reduce_only: bool = False
    strategy: str = ""
    status: OrderStatus = OrderStatus.NEW


@dataclass
class StubStrategy:
    """One strategy of the stub's strategy host, as the strategies block shows it."""

    name: str
    params: str  # "key=value ...": the keys it accepts, with values whose type it checks
    state: str = "running"
    why: str = ""
    last_alert: str = ""
    intents: int = 0
    open_orders: int = 0
    fills: int = 0
    realized: float = 0.0
    unrealized: float = 0.0
    fees: float = 0.0
    p50_ns: int = 0
    p99_ns: int = 0
    max_ns: int = 0
    calls: int = 0
    errors: int = 0
    reloads: int = 0


def _units(text: str, decimals: int) -> int:
    # The engine's reading of order text (`hftui.engine.book.decimal_units`): exact or refused.
    whole, _, frac = text.strip().partition(".")
    if not whole.isdigit() and not (whole == "" and frac):
        raise ValueError(f"{text!r} is not a number")
    if len(frac) > decimals or (frac and not frac.isdigit()):
        raise ValueError(f"{text!r} has more than {decimals} decimals")
    scale: int = 10**decimals
    return int(whole or "0") * scale + int(frac.ljust(decimals, "0") or "0")


@dataclass
class StubEngine:
    """Answers commands like the engine and keeps the region's header in step."""

    region: SnapshotWriter
    receiver: CommandReceiver
    events: EventWriter
    mode: Mode = Mode.OBSERVE
    killed: bool = False
    kill_reason: str = ""
    kill_flatten: bool = False
    has_keys: bool = True
    open_orders: int = 0
    refusals: int = 0
    received: list[Command] = field(default_factory=list)
    heartbeats: int = 0
    last_heartbeat: Heartbeat | None = None
    published: list[Event] = field(default_factory=list)
    # Order entry: the orders resting in paper (observe only says "would send"), and the
    # engine's fat-finger band around mid, as `[risk] price_band_bps`.
    orders: list[StubOrder] = field(default_factory=list)
    price_band_bps: float = 500.0
    placed: int = 0
    strategies: list[StubStrategy] = field(default_factory=list)

    def publish_header(self) -> None:
        fill_header(
            self.region,
            mode=self.mode,
            killed=self.killed,
            killed_ns=KILLED_NS if self.killed else 0,
            kill_reason=self.kill_reason,
            kill_flatten=self.kill_flatten,
            has_keys=self.has_keys,
            open_orders=self.open_orders,
            refusals=self.refusals,
        )

    def publish(self, event: Event) -> None:
        self.published.append(event)
        self.events.publish(event)

    def step(self) -> None:
        """Answer every command waiting on the ring."""
        for request_id, _sender, command in self.receiver.poll():
            if isinstance(command, RingError):
                self._answer(request_id, Reason.BAD_COMMAND, str(command))
                continue
            if isinstance(command, Heartbeat):
                self.heartbeats += 1  # the dead-man's switch is the real engine's business
                self.last_heartbeat = command
                continue
            self.received.append(command)
            self._handle(request_id, command)
        self.publish_header()

    async def serve(self) -> None:
        while True:
            self.step()
            await asyncio.sleep(0.005)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[StubEngine]:
        """Serve the command ring in the test's event loop while the block runs."""
        task = asyncio.create_task(self.serve())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _answer(self, request_id: int, reason: Reason, text: str) -> None:
        if reason is not Reason.OK:
            self.refusals += 1
        self.publish(CommandAnswered(request_id, reason is Reason.OK, reason, text))

    def _handle(self, request_id: int, command: Command) -> None:
        match command:
            case Kill():
                self.mode, self.killed = Mode.OBSERVE, True
                self.kill_reason, self.kill_flatten = "kill switch", command.flatten
                self.open_orders = 0
                self.publish(ModeChanged(Mode.OBSERVE, True, "KILLED (kill switch)"))
                flattened = "; flattened 0 position(s)" if command.flatten else ""
                text = f"killed: cancels sent in 0.4 ms, zero open orders at 3.1 ms{flattened}"
                self._answer(request_id, Reason.OK, text)
            case Rearm():
                if not self.killed:
                    self._answer(request_id, Reason.OK, "not killed; nothing to re-arm")
                    return
                self.killed, self.kill_reason, self.kill_flatten = False, "", False
                self.publish(ModeChanged(self.mode, False, "re-armed"))
                self._answer(request_id, Reason.OK, "re-armed; still in observe")
            case SetMode():
                self._set_mode(request_id, command)
            case CancelAll():
                where = command.symbol or "every symbol"
                canceled, self.open_orders = self.open_orders, 0
                self._answer(
                    request_id, Reason.OK, f"canceled on {where}: {canceled} paper, 0 live order(s)"
                )
            case Flatten():
                if self.mode is Mode.OBSERVE:
                    self._answer(request_id, Reason.OK, "observe: no position to flatten")
                    return
                self._answer(request_id, Reason.OK, f"{command.symbol}: sell 0.010 at market")
            case PlaceOrder():
                self._place(request_id, command)
            case CancelOrder():
                self._cancel(request_id, command)
            case PauseStrategy() | ResumeStrategy() | ReloadStrategy() | SetStrategyParams():
                self._strategy(request_id, command)
            case _:
                self._answer(request_id, Reason.BAD_COMMAND, f"not served here: {command.tag}")

    def _set_mode(self, request_id: int, command: SetMode) -> None:
        # The engine's rules (hftui.engine.control.Controller._set_mode), answer for answer.
        target, old = command.mode, self.mode
        if target == old:
            self._answer(request_id, Reason.OK, f"already in {old.label}")
            return
        if target > old:
            if self.killed:
                self._answer(request_id, Reason.KILLED, Reason.KILLED.text)
                return
            if target != old + 1:
                step = f"{old.label} -> {target.label}: go to {Mode(old + 1).label} first"
                self._answer(request_id, Reason.MODE_STEP, step)
                return
            if target is Mode.LIVE and command.confirm != "LIVE":
                self._answer(request_id, Reason.CONFIRMATION, "type LIVE to confirm going live")
                return
            if target is Mode.LIVE and not self.has_keys:
                text = "no API keys for local: store them with `hftui keys set`"
                self._answer(request_id, Reason.NO_KEYS, text)
                return
        self.mode = target
        self.publish(ModeChanged(target, self.killed, f"{old.label} -> {target.label}"))
        self._answer(request_id, Reason.OK, f"mode {target.label}")

    def _symbol_index(self, symbol: str) -> int | None:
        for index in range(int(self.region.header["n_symbols"])):
            if decode_text(self.region.symbol(index)["symbol"].item()) == symbol:
                return index
        return None

    def _place(self, request_id: int, command: PlaceOrder) -> None:
        # The engine's checks in its order (grid, kill latch, risk), with its reason codes.
        index = self._symbol_index(command.symbol)
        if index is None:
            self._answer(request_id, Reason.UNKNOWN_SYMBOL, f"{command.symbol} is not traded here")
            return
        block = self.region.symbol(index)
        pd, qd = int(block["price_decimals"]), int(block["qty_decimals"])
        tick = int(block["tick_units"])
        try:
            qty = _units(command.qty, qd)
        except ValueError as exc:
            self._answer(request_id, Reason.BAD_QTY, str(exc))
            return
        if qty <= 0:
            self._answer(request_id, Reason.BAD_QTY, Reason.BAD_QTY.text)
            return
        price = 0
        if command.order_type is OrderType.LIMIT:
            try:
                price = _units(command.price, pd)
            except ValueError as exc:
                self._answer(request_id, Reason.BAD_PRICE, str(exc))
                return
            if price % tick:
                self._answer(request_id, Reason.BAD_PRICE, f"price {command.price} is off the tick")
                return
        if self.killed:
            self._answer(request_id, Reason.KILLED, Reason.KILLED.text)
            return
        mid = (int(block["best_bid"]) + int(block["best_ask"])) / 2
        bps = abs(price - mid) * 10_000 / mid if price and mid > 0 else 0.0
        if bps > self.price_band_bps:
            text = (
                f"price {command.price} is {bps:.0f} bps from mid; "
                f"the band is {self.price_band_bps:g} bps"
            )
            self._answer(request_id, Reason.PRICE_BAND, text)
            return
        where = "at market" if command.order_type is OrderType.MARKET else f"@ {command.price}"
        what = f"{command.side.name} {command.qty} {command.symbol} {where}"
        if self.mode is Mode.OBSERVE:
            self._answer(request_id, Reason.OK, f"observe: would send {what}")
            return
        self.placed += 1
        client_id = f"tui-{self.placed}"
        if command.order_type is OrderType.LIMIT:
            self.orders.append(
                StubOrder(
                    client_id,
                    command.symbol,
                    command.side,
                    command.order_type,
                    price,
                    qty,
                    post_only=command.post_only,
                    reduce_only=command.reduce_only,
                )
            )
            self.open_orders = len(self.orders)
            self.publish_orders()
        self._answer(request_id, Reason.OK, f"paper order {client_id}: {what}")

    def _cancel(self, request_id: int, command: CancelOrder) -> None:
        for order in self.orders:
            if order.client_id == command.client_id:
                self.orders.remove(order)
                self.open_orders = len(self.orders)
                self.publish_orders()
                text = f"cancel of paper order {order.client_id} requested"
                self._answer(request_id, Reason.OK, text)
                return
        self._answer(request_id, Reason.NOT_FOUND, f"{command.client_id}: no such order")

    def publish_orders(self) -> None:
        """Write `orders` into the region's orders block, as the engine's publisher does."""
        self.open_orders = len(self.orders)
        self.region.begin_orders()
        block = self.region.orders
        block["total"] = len(self.orders)
        block["count"] = len(self.orders)
        for row, order in zip(block["rows"], self.orders, strict=False):
            row["client_id"] = order.client_id.encode()
            row["symbol"] = order.symbol.encode()
            row["strategy"] = order.strategy.encode()
            row["side"] = int(order.side)
            row["order_type"] = int(order.order_type)
            row["tif"] = int(TimeInForce.GTX if order.post_only else TimeInForce.GTC)
            row["status"] = int(order.status)
            row["reduce_only"] = 1 if order.reduce_only else 0
            row["mode"] = int(Mode.PAPER)
            row["price"] = order.price
            row["qty"] = order.qty
            row["filled"] = order.filled
            row["created_ns"] = FROZEN_NS - ORDER_AGE_NS
        self.region.end_orders()

    def publish_position(
        self,
        index: int,
        *,
        position: int,
        entry: int,
        realized: float,
        unrealized: float,
        fees: float,
        mark: float,
        funding: float = 0.0,
    ) -> None:
        """Write one symbol's position (units as in its block) and the header's totals, as
        the engine's publisher does for the current mode."""
        self.region.begin_symbol(index)
        block = self.region.symbol(index)
        block["position"], block["entry_price"] = position, entry
        block["realized"], block["unrealized"], block["fees"] = realized, unrealized, fees
        block["mark_price"], block["funding"] = mark, funding
        self.region.end_symbol(index)
        realized = unrealized = fees = funding = 0.0
        for i in range(int(self.region.header["n_symbols"])):
            other = self.region.symbol(i)
            realized += float(other["realized"])
            unrealized += float(other["unrealized"])
            fees += float(other["fees"])
            funding += float(other["funding"])
        self.region.begin_header()
        header = self.region.header
        header["realized"], header["unrealized"], header["fees"] = realized, unrealized, fees
        header["funding"] = funding
        header["daily_pnl"] = realized + unrealized - fees + funding
        self.region.end_header()

    def publish_strategies(self) -> None:
        """Write `strategies` into the region's strategies block, as the engine's publisher
        does."""
        self.region.begin_strategies()
        block = self.region.strategies
        block["total"] = block["count"] = len(self.strategies)
        for row, st in zip(block["rows"], self.strategies, strict=False):
            row["name"] = st.name.encode()
            row["state"] = STRATEGY_STATES.index(st.state)
            row["by_trader"] = st.state == "paused" and st.why == "paused by the trader"
            row["why"] = st.why.encode()
            row["last_alert"] = st.last_alert.encode()
            row["params"] = st.params.encode()
            for key in ("intents", "open_orders", "fills", "realized", "unrealized", "fees"):
                row[key] = getattr(st, key)
            for key in ("p50_ns", "p99_ns", "max_ns", "calls", "errors", "reloads"):
                row[key] = getattr(st, key)
        self.region.end_strategies()

    def _strategy(
        self,
        request_id: int,
        command: PauseStrategy | ResumeStrategy | ReloadStrategy | SetStrategyParams,
    ) -> None:
        # The host's answers (hftui.engine.strategy_host), for the keys the TUI sends.
        st = next((s for s in self.strategies if s.name == command.name), None)
        if st is None:
            enabled = ", ".join(s.name for s in self.strategies) or "none"
            text = f"no strategy named {command.name!r}; enabled: {enabled}"
            self._answer(request_id, Reason.NOT_FOUND, text)
            return
        match command:
            case PauseStrategy():
                st.state, st.why, st.open_orders = "paused", "paused by the trader", 0
                text = f"strategy {st.name} paused"
            case ResumeStrategy():
                st.state, st.why = "running", ""
                text = f"strategy {st.name} resumed"
            case ReloadStrategy():
                st.reloads += 1
                text = f"strategy {st.name} reloaded from /strategies/{st.name}.py"
            case SetStrategyParams():
                current = dict(item.split("=", 1) for item in st.params.split())
                changes = []
                for item in command.params.split():
                    key, _, value = item.partition("=")
                    if key not in current:
                        known = ", ".join(current)
                        text = f"strategy {st.name}: no parameter {key!r}; the parameters are: "
                        self._answer(request_id, Reason.BAD_COMMAND, text + known)
                        return
                    try:
                        float(value) if "." in current[key] else int(value)
                    except ValueError:
                        text = f"strategy {st.name}: {key}={value}: expected a number"
                        self._answer(request_id, Reason.BAD_COMMAND, text)
                        return
                    if current[key] != value:
                        changes.append(f"{key} {current[key]} -> {value}")
                        current[key] = value
                st.params = " ".join(f"{k}={v}" for k, v in current.items())
                text = f"strategy {st.name} parameters: " + (", ".join(changes) or "unchanged")
        st.last_alert = text
        self.publish_strategies()
        self._answer(request_id, Reason.OK, text)

    def alert(self, level: int, text: str) -> None:
        """Raise an alert, as the engine does for trouble it handles itself."""
        self.publish(AlertRaised(level, text))


def _ignores_sigusr1(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & _SIGUSR1_BIT)
    return False


@contextlib.contextmanager
def stand_in_process() -> Iterator[subprocess.Popen[bytes]]:
    """A child that ignores SIGUSR1, to own the rings' pid: `EngineControl.send` nudges the
    engine's pid with SIGUSR1, which would end an ordinary process (or this test run)."""
    child = subprocess.Popen(["sh", "-c", "trap '' USR1; exec sleep 600"])
    try:
        deadline = time.monotonic() + 5.0
        while not _ignores_sigusr1(child.pid):
            if time.monotonic() > deadline:
                raise RuntimeError("the stand-in process never ignored SIGUSR1")
            time.sleep(0.002)
        yield child
    finally:
        child.kill()
        child.wait()


@contextlib.contextmanager
def stub_engine(region: SnapshotWriter) -> Iterator[tuple[StubEngine, EngineControl]]:
    """Real command and event rings with a `StubEngine` behind them, and the TUI's
    `EngineControl` attached to them; everything closed and unlinked afterwards.

    The command ring's lock file goes under `XDG_DATA_HOME`: point it at a temporary
    directory first.

    Args:
        region: the snapshot region the stub publishes its latch and mode in.
    """
    instance = f"uitest{uuid.uuid4().hex[:8]}"
    with stand_in_process() as child:
        receiver = CommandReceiver(command_segment_name(instance, child.pid))
        try:
            events = EventWriter(event_segment_name(instance, child.pid))
        except BaseException:
            receiver.close()
            raise
        engine = StubEngine(region, receiver, events)
        info = InstanceInfo(
            instance=instance,
            pid=child.pid,
            shm=region.name,
            started_ns=FROZEN_NS,
            venue="local",
            venue_url="http://127.0.0.1:8080",
            path=Path(os.devnull),
        )
        try:
            control = EngineControl(info)
        except BaseException:
            events.close()
            receiver.close()
            raise
        try:
            engine.publish_header()
            yield engine, control
        finally:
            control.close()
            events.close()
            receiver.close()
