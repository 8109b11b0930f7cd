"""The engine process: wiring and the asyncio loop.

One loop owns the venue connections, books and publishing. Start-up publishes the snapshot
region first (so a TUI can show "starting" at once), then starts the local exchange if the
venue is `local` without a url, then connects. SIGTERM, SIGINT and SIGHUP all lead to the
same orderly shutdown: stop streams, stop the exchange child, unlink shared memory, remove
the instance file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from hftui.config import Config, load_config
from hftui.engine.binance.client import Credentials
from hftui.engine.binance.constants import VENUE_URLS, ws_base_from_http
from hftui.engine.binance.rest import PublicRest
from hftui.engine.config_watch import ConfigWatcher
from hftui.engine.control import Controller
from hftui.engine.deadman import DeadMansSwitch, Lapse
from hftui.engine.execution import Execution, Outcome, risk_limits
from hftui.engine.instrument import Instrument
from hftui.engine.journal import DurablePublisher, Journal, JournalError, journal_path
from hftui.engine.kill_switch import KillLatchError, KillSwitch, latch_path
from hftui.engine.local_venue import LocalExchange, LocalExchangeError
from hftui.engine.market_data import MarketData, NotListedError, SubscriptionError
from hftui.engine.metrics import EventTally
from hftui.engine.metrics_exporter import MetricsExporter
from hftui.engine.publisher import Publisher
from hftui.engine.reconcile import Reconciler
from hftui.engine.recovery import recover
from hftui.engine.strategy_host import StrategyHost
from hftui.engine.warmup import warm_kernels
from hftui.heap import freeze_startup_heap
from hftui.instance import find_running, remove_instance, write_instance
from hftui.ipc import SnapshotWriter, segment_name
from hftui.paths import config_path as default_config_path
from hftui.protocol import (
    AlertRaised,
    CommandAnswered,
    Event,
    Heartbeat,
    Kill,
    Mode,
    PlaceOrder,
    Rearm,
    Reason,
    TakeControl,
)
from hftui.recording import Recorder
from hftui.rings import (
    CommandReceiver,
    EventWriter,
    RingError,
    command_segment_name,
    event_segment_name,
)

__all__ = ["Engine", "EngineAlreadyRunningError", "run_engine"]

log = logging.getLogger(__name__)


class EngineAlreadyRunningError(RuntimeError):
    """Another engine of the same instance is alive."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    venue: str
    rest_url: str
    stream_url: str


async def resolve_endpoints(config: Config) -> tuple[Endpoints, LocalExchange | None]:
    """The venue's URLs; for `local` without a url, a local exchange started for the purpose
    (the caller stops it)."""
    venue = config.venue
    if venue.name == "local":
        url = venue.url
        exchange = None
        if url is None:
            exchange = LocalExchange(
                config.market.symbols, config.exchange.seed, config.exchange.port
            )
            url = await exchange.start()
        return Endpoints("local", url, ws_base_from_http(url)), exchange
    rest_url, stream_url = VENUE_URLS[venue.name]
    return Endpoints(venue.name, rest_url, stream_url), None


class Engine:
    """Owns the engine's components for one run."""

    def __init__(self, config: Config, config_path: Path | None = None) -> None:
        self.config = config
        self.config_path = config_path  # None: the default path (see load_config)
        self.pid = os.getpid()
        self.started_ns = time.time_ns()
        self.stop_requested = asyncio.Event()
        self.exchange: LocalExchange | None = None
        self.market: MarketData | None = None
        self.writer: SnapshotWriter | None = None
        self.publisher: Publisher | None = None
        self.rest: PublicRest | None = None
        self.recorder: Recorder | None = None
        self.commands: CommandReceiver | None = None
        self.events: EventWriter | None = None
        self.kill_switch = KillSwitch(latch_path(config.engine.instance))
        self.execution: Execution | None = None
        self.controller: Controller | None = None
        self.strategies: StrategyHost | None = None
        self._early_kill: Kill | None = None  # a kill that arrived before the instruments
        self.dead_man = DeadMansSwitch(config.engine.dead_man, config.engine.dead_man_after_s)
        self.endpoints: Endpoints | None = None
        self.journal: Journal | None = None
        self.reconciler: Reconciler | None = None
        self._durable: DurablePublisher | None = None  # publishes under the journal's rule
        self.tally = EventTally()  # events published and refusals, for the exporter
        self.exporter: MetricsExporter | None = None

    def request_stop(self, reason: str) -> None:
        if not self.stop_requested.is_set():
            log.info("stop requested", extra={"reason": reason})
            self.stop_requested.set()

    async def _endpoints(self) -> Endpoints:
        endpoints, self.exchange = await resolve_endpoints(self.config)
        return endpoints

    async def run(self) -> int:
        """Run until a stop is requested. Returns the process exit status."""
        instance = self.config.engine.instance
        running = find_running(instance)
        if running is not None and running.pid != self.pid:
            raise EngineAlreadyRunningError(
                f"an engine of instance {instance!r} is already running (pid {running.pid}); "
                "use `hftui attach`, or stop it first"
            )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
        # Command senders nudge with SIGUSR1; from the first moment, since its default
        # action would terminate the engine.
        loop.add_signal_handler(signal.SIGUSR1, self._nudge)
        self.writer = SnapshotWriter(segment_name(instance, self.pid))
        self.commands = CommandReceiver(command_segment_name(instance, self.pid))
        self.events = EventWriter(event_segment_name(instance, self.pid))
        self.publisher = Publisher(self.writer)
        self.publisher.kill_switch = self.kill_switch
        configured_url = self.config.venue.url or (
            "" if self.config.venue.name == "local" else VENUE_URLS[self.config.venue.name][0]
        )
        self.publisher.publish_identity(
            self.pid,
            self.started_ns,
            self.config.venue.name,
            configured_url,
            "",
            self.config.engine.mode,
        )
        self.publisher.publish()
        write_instance(
            instance,
            self.pid,
            self.writer.name,
            self.started_ns,
            self.config.venue.name,
            configured_url,
            self._start_exporter(),
        )
        status = 0
        try:
            try:
                self._open_journal()
            except JournalError as exc:
                log.error("journal unusable", extra={"error": str(exc)})
                return 1
            warm_kernels()
            status = await self._serve(self.publisher)
        finally:
            await self._shutdown()
        return status

    def _nudge(self) -> None:
        if self.controller is not None:
            self.controller.nudge()

    def _open_journal(self) -> None:
        # Before anything can trade: a restart reads what the last run left (see recovery).
        self.journal = Journal(
            journal_path(self.config.engine.instance),
            on_error=lambda text: self._ring_publish(AlertRaised(logging.CRITICAL, text[:120])),
        )
        self.journal.bind_loop(asyncio.get_running_loop().call_soon_threadsafe)
        if self.publisher is not None:
            self.publisher.journal = self.journal
        self._durable = DurablePublisher(self.journal, self._ring_publish)

    def _start_exporter(self) -> str | None:
        """Serve /metrics on loopback; its URL, or None when off or no port can be bound
        (monitoring never keeps the engine from trading). A configured port that is taken
        (most often by another engine on the machine) gives way to any free port, said in
        the log and an alert; `hftui status` shows the URL in use."""
        if not self.config.metrics.enabled:
            return None
        wanted = self.config.metrics.port
        exporter = MetricsExporter(self, wanted)
        try:
            url = exporter.start()
        except OSError as exc:
            if wanted == 0:
                log.warning("metrics exporter not started", extra={"port": 0, "error": str(exc)})
                return None
            exporter = MetricsExporter(self, 0)
            try:
                url = exporter.start()
            except OSError as again:
                log.warning(
                    "metrics exporter not started",
                    extra={"port": wanted, "error": f"{exc}; any free port: {again}"},
                )
                return None
            text = f"metrics port {wanted} is taken; serving on {url}"
            log.warning(text, extra={"port": wanted, "error": str(exc), "url": url})
            self._ring_publish(AlertRaised(logging.WARNING, text[:120]))
        self.exporter = exporter
        if self.publisher is not None:
            self.publisher.exporter = exporter
        return url

    def _ring_publish(self, event: Event) -> None:
        if self.events is not None:
            self.tally.see(event)
            self.events.publish(event)

    def _book_alert(self, level: int, text: str) -> None:
        self.publish_event(AlertRaised(level, text[:120]))

    def publish_event(self, event: Event) -> None:
        if self._durable is not None:
            self._durable(event)
        else:
            self._ring_publish(event)

    async def _recover(self, controller: Controller) -> None:
        # The local venue's demo account connects at start anyway; recovery follows it, so
        # that the two never start two clients.
        if self.config.venue.name == "local":
            await controller.connect_local()
        if self.execution is None:
            return
        if self.journal is not None:
            found = await asyncio.to_thread(controller.credentials)
            credentials = found if isinstance(found, Credentials) else None
            await recover(self.execution, self.journal, credentials)
            self.execution.fills_accounted()
        # From here on, live orders and positions are checked against the venue's.
        reconciler = Reconciler(
            self.execution,
            self.config.live,
            lambda why: controller.kill(0, why, flatten=False),
            self.journal,
        )
        self.reconciler = reconciler
        if self.publisher is not None:
            self.publisher.reconciler = reconciler
        self.execution.on_stream_reconnect = reconciler.after_reconnect
        self.execution.spawn(reconciler.run(), "reconcile")

    async def _early_commands(self) -> None:
        # Until the venue's instruments are known only the latch can act: a kill is latched
        # at once (there is nothing open yet to cancel), anything else is asked to wait.
        receiver = self.commands
        while receiver is not None and self.controller is None:
            for request_id, sender, command in receiver.poll():
                if isinstance(command, Heartbeat | TakeControl):
                    said = self.dead_man.screen(sender, command).answer
                    if said is not None:
                        self.publish_event(
                            CommandAnswered(request_id, said.ok, said.reason, said.text)
                        )
                elif isinstance(command, Kill):
                    saved = self.kill_switch.fire("kill switch (engine starting)", command.flatten)
                    # Orders an earlier run left at the venue are cancelled as soon as the
                    # instruments are known (`_on_info`).
                    self._early_kill = command
                    text = "killed (engine starting: open orders are cancelled once connected)"
                    if not saved:
                        text = self.kill_switch.save_error
                    self.publish_event(CommandAnswered(request_id, saved, Reason.OK, text))
                elif isinstance(command, Rearm):
                    try:
                        self.kill_switch.rearm()
                    except KillLatchError as exc:
                        answer = CommandAnswered(request_id, False, Reason.KILLED, str(exc))
                    else:
                        self._early_kill = None
                        answer = CommandAnswered(request_id, True, Reason.OK, "re-armed")
                    self.publish_event(answer)
                elif isinstance(command, PlaceOrder) and self.kill_switch.killed:
                    # The latch answers before the venue is known: nothing is busy about it.
                    self.publish_event(
                        CommandAnswered(request_id, False, Reason.KILLED, Reason.KILLED.text)
                    )
                else:
                    why = str(command) if isinstance(command, RingError) else "engine starting"
                    self.publish_event(
                        CommandAnswered(request_id, False, Reason.BUSY, f"{why}; try again")
                    )
            await asyncio.sleep(0.02)

    def _on_info(self, instruments: dict[str, Instrument]) -> None:
        # exchangeInfo arrived: trading can start.
        if self.execution is not None or self.endpoints is None or self.publisher is None:
            return
        execution = Execution(self.config, instruments, self.publish_event)
        execution.journal = self.journal
        if self.journal is not None:  # today's P&L as the journal had it
            for mode in (Mode.PAPER, Mode.LIVE):
                if mode.label in self.journal.state.today:
                    execution.account.seed_today(mode, *self.journal.state.today[mode.label])
            # Paper trade ids go on from the last journaled one: the journal keys fills by
            # trade id, and a reused id would be taken for a fill it already has.
            execution.paper.resume_trade_ids(self.journal.state.last_paper_trade_id)
            execution.resume_strategy_positions(self.journal.state.strategy_fills)
            resumed = execution.resume_paper_positions(self.journal.state.paper_positions)
            if resumed:
                text = "paper positions from the journal: " + ", ".join(resumed)
                log.info(text)
                self.publish_event(AlertRaised(logging.INFO, text))
        execution.rest_url = self.endpoints.rest_url
        execution.stream_url = self.endpoints.stream_url
        market = self.market
        if market is not None:
            execution.touch = market.touch
            execution.mark_price = market.mark_price
            market.on_book = execution.on_book
            market.on_trade = execution.on_trade
            # The books live as long as the feeds: the paper matcher holds them from now on,
            # so an order arriving between two diffs takes from the book as it stands.
            for feed in market.feeds:
                if feed.sync is not None:
                    execution.paper.see_book(feed.symbol, feed.sync.book)
        self.execution = execution
        self.controller = Controller(
            self.config,
            execution,
            self.kill_switch,
            self.publish_event,
            reload_config=lambda: load_config(self.config_path),
        )
        self.controller.journal = self.journal
        self.controller.watch_symbol = self._watch_symbol
        self.publisher.execution = execution
        self.publisher.controller = self.controller
        # Strategies see books and trades after execution's paper matcher, fills from
        # execution, answer the strategy commands, and show in the snapshot.
        strategies = StrategyHost(self.config.strategies, execution, self.publish_event)
        self.strategies = strategies
        execution.on_fill = strategies.on_fill
        self.controller.strategy_command = strategies.command
        self.publisher.strategies = strategies
        strategies.start()
        if market is not None:
            strategies.attach(market)
        execution.spawn(strategies.run(), "strategies")
        self.controller.dead_man = self.dead_man
        if self.commands is not None:
            execution.spawn(self.controller.serve(self.commands), "commands")
        execution.spawn(self.controller.refresh_keys(), "keys")
        execution.spawn(self._recover(self.controller), "recover")
        watched = self.config_path or default_config_path()
        watcher = ConfigWatcher(
            watched,
            lambda: load_config(self.config_path),
            lambda: self.config,
            self._apply_config,
            lambda level, text: self.publish_event(AlertRaised(level, text[:120])),
            lambda text: self.journal.audit("config", text) if self.journal else None,
        )
        execution.spawn(watcher.run(), "config watch")
        if self._early_kill is not None:
            flatten = self._early_kill.flatten
            execution.spawn(
                self.controller.kill(0, "kill switch (engine starting)", flatten), "kill"
            )
        log.info("startup heap frozen", extra={"objects": freeze_startup_heap()})

    def _apply_config(self, fresh: Config, keys: list[str]) -> list[str]:
        """Put the live-safe `keys` of `fresh` in force (see config_watch); returns the keys
        that could not be applied."""
        ex, cfg, failed = self.execution, self.config, []
        if ex is None:
            return keys
        if any(k.startswith("risk.") for k in keys):
            try:
                ex.risk.set_limits(risk_limits(fresh))
                cfg = dataclasses.replace(cfg, risk=fresh.risk)
            except ValueError as exc:
                log.warning("risk limits refused", extra={"error": str(exc)})
                failed += [k for k in keys if k.startswith("risk.")]
        if "logging.level" in keys:
            logging.getLogger().setLevel(fresh.logging.level)
            cfg = dataclasses.replace(
                cfg, logging=dataclasses.replace(cfg.logging, level=fresh.logging.level)
            )
        if any(k.startswith("live.") for k in keys):  # all of [live] that is live-safe
            live = dataclasses.replace(
                cfg.live,
                on_mismatch=fresh.live.on_mismatch,
                reconcile_interval_s=fresh.live.reconcile_interval_s,
                self_trade_prevention=fresh.live.self_trade_prevention,  # read at each send
            )
            cfg = dataclasses.replace(cfg, live=live)
            if self.reconciler is not None:
                self.reconciler.settings = live
        if "market.verify_interval_s" in keys and self.market is not None:
            # The verifier sleeps a second at a time: the new interval counts from its next.
            self.market.verifier.interval_s = fresh.market.verify_interval_s
            market = dataclasses.replace(
                cfg.market, verify_interval_s=fresh.market.verify_interval_s
            )
            cfg = dataclasses.replace(cfg, market=market)
        if any(k.startswith("strategies.") for k in keys):
            cfg, refused = self._apply_strategies(cfg, fresh)
            failed += refused
        self.config = cfg
        ex.config = cfg
        if self.controller is not None:
            self.controller.config = cfg
        return failed

    def _apply_strategies(self, cfg: Config, fresh: Config) -> tuple[Config, list[str]]:
        # New parameters go through the host as a trader's edit would; one it refuses keeps
        # the old values (and the old config says so).
        host = self.strategies
        if host is None:
            return cfg, ["strategies.enabled", "strategies.params", "strategies.callback_budget_ms"]
        host.budget_ns = int(fresh.strategies.callback_budget_ms * 1e6)
        enabled = fresh.strategies.enabled
        if enabled != cfg.strategies.enabled:
            # Started with the new parameters; stopped ones have their orders cancelled.
            for text in host.set_enabled(fresh.strategies):
                if self.journal is not None:
                    self.journal.audit("config", text)
        old = dict(cfg.strategies.params)
        for name, params in fresh.strategies.params:
            if dict(old.get(name, ())) == dict(params):
                continue
            outcome = host.set_params(name, " ".join(f"{k}={v}" for k, v in params))
            if not outcome.ok:
                log.warning("strategy parameters refused", extra={"text": outcome.text})
                keep = dataclasses.replace(
                    cfg.strategies,
                    enabled=enabled,
                    callback_budget_ms=fresh.strategies.callback_budget_ms,
                )
                return dataclasses.replace(cfg, strategies=keep), ["strategies.params"]
        live = dataclasses.replace(
            cfg.strategies,
            enabled=enabled,
            params=fresh.strategies.params,
            callback_budget_ms=fresh.strategies.callback_budget_ms,
        )
        return dataclasses.replace(cfg, strategies=live), []

    async def _watch_symbol(self, symbol: str, watch: bool) -> Outcome:
        """Follow a symbol from now on (and trade it), or stop following one that has no
        open orders and no position."""
        market, ex = self.market, self.execution
        if market is None or ex is None:
            return Outcome(Reason.BUSY, "market data is not running")
        try:
            if watch:
                inst = await market.subscribe(symbol)
                feed = market.feed(symbol)
                if feed is not None and feed.sync is not None:
                    ex.add_instrument(inst, feed.sync.book)
                return Outcome(Reason.OK, f"following {symbol}")
            busy = self._in_use(ex, symbol)
            if busy:
                return Outcome(Reason.BUSY, f"{symbol} has {busy}: cancel and flatten it first")
            await market.unsubscribe(symbol)
        except NotListedError as exc:
            return Outcome(Reason.UNKNOWN_SYMBOL, str(exc))
        except SubscriptionError as exc:
            return Outcome(Reason.BAD_COMMAND, str(exc))
        return Outcome(Reason.OK, f"stopped following {symbol}")

    @staticmethod
    def _in_use(ex: Execution, symbol: str) -> str:
        """What keeps a symbol from being dropped: its open orders or a position."""
        n_open = len(ex.open_orders(symbol))
        if n_open:
            return f"{n_open} open order(s)"
        if symbol in ex.instruments and any(
            ex.account.book(mode, symbol).lots for mode in (Mode.PAPER, Mode.LIVE)
        ):
            return "a position"
        return ""

    async def _serve(self, publisher: Publisher) -> int:
        publish_task = asyncio.create_task(self._publish_loop(publisher))
        early_task = asyncio.create_task(self._early_commands())
        try:
            try:
                endpoints = await self._endpoints()
            except LocalExchangeError as exc:
                log.error("local exchange failed", extra={"error": str(exc)})
                return 1
            self.endpoints = endpoints
            publisher.publish_identity(
                self.pid,
                self.started_ns,
                endpoints.venue,
                endpoints.rest_url,
                endpoints.stream_url,
                self.config.engine.mode,
            )
            self.rest = PublicRest(endpoints.rest_url)
            market = MarketData(
                self.rest,
                endpoints.stream_url,
                self.config.market.symbols,
                self.config.market.depth_speed,
                self.config.market.stale_after_s,
                connection_lifetime_s=self.config.market.connection_lifetime_s,
                top_tolerance_s=self.config.market.top_tolerance_s,
                verify_interval_s=self.config.market.verify_interval_s,
            )
            market.verifier.alert = self._book_alert
            self.market = market
            market.on_info = self._on_info
            if self.config.market.record_dir is not None:
                self.recorder = Recorder(self.config.market.record_dir)
                market.recorder = self.recorder
            publisher.attach(market)
            market_task = asyncio.create_task(market.run())
            stop_task = asyncio.create_task(self.stop_requested.wait())
            done, _ = await asyncio.wait(
                {market_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if market_task in done and market_task.exception() is not None:
                log.error("market data failed", exc_info=market_task.exception())
                return 1
            await market.stop()
            if self.strategies is not None:
                self.strategies.stop()
            if self.execution is not None:
                if self.execution.mode == Mode.LIVE:
                    # A clean stop leaves nothing working at the venue.
                    self.execution.request_cancels(self.execution.open_orders(mode=Mode.LIVE))
                    await self.execution.cancel_live_all(list(self.execution.instruments))
                await self.execution.close()
            stop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await market_task
            return 0
        finally:
            for task in (publish_task, early_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _publish_loop(self, publisher: Publisher) -> None:
        period = 1.0 / self.config.engine.publish_hz
        while True:
            publisher.publish()
            self._watch_dead_man()
            await asyncio.sleep(period)

    def _watch_dead_man(self) -> None:
        # Runs with the publisher: the switch's state goes out with every frame.
        if self.writer is not None:
            self.writer.begin_header()
            self.dead_man.write(self.writer.header)
            self.writer.end_header()
        lapse = self.dead_man.check()
        if lapse is not None:
            self._on_lapse(lapse)

    def _on_lapse(self, lapse: Lapse) -> None:
        log.warning(
            "dead-man's switch",
            extra={
                "tui_pid": lapse.pid,
                "silent_s": round(lapse.silent_s, 3),
                "policy": lapse.policy,
            },
        )
        self.publish_event(AlertRaised(logging.WARNING, lapse.text))
        if lapse.policy == "cancel" and self.controller is not None and self.execution is not None:
            self.execution.spawn(self.controller.stand_down(), "dead man")

    async def _shutdown(self) -> None:
        # The exporter's serving loop takes up to half a second to notice: it stops beside
        # the rest (a scrape meanwhile only reads), and is waited for at the end.
        exporter = self.exporter
        stopping = asyncio.create_task(asyncio.to_thread(exporter.stop)) if exporter else None
        if self.publisher is not None:
            self.publisher.set_stopping()
        if self.rest is not None:
            await self.rest.close()
        if self.exchange is not None:
            await self.exchange.stop()
        if self.recorder is not None:
            self.recorder.close()
        if self.journal is not None:
            # Everything queued is committed, then the events it held are published.
            await asyncio.to_thread(self.journal.close)
            await asyncio.sleep(0)
        remove_instance(self.config.engine.instance, self.pid)
        if self.writer is not None:
            self.writer.close(unlink=True)
        for ring in (self.commands, self.events):
            if ring is not None:
                ring.close(unlink=True)
        if stopping is not None:
            await stopping
        log.info("engine stopped")


def run_engine(config: Config, config_path: Path | None = None) -> int:
    """Run an engine in this process until SIGTERM/SIGINT/SIGHUP. `config_path` is where
    `config` came from, re-read when risk limits are reloaded."""
    engine = Engine(config, config_path)
    try:
        return asyncio.run(engine.run())
    except EngineAlreadyRunningError as exc:
        log.error(str(exc))
        raise
    finally:
        if engine.exchange is not None:
            engine.exchange.stop_now()
