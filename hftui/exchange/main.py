"""The `hftui exchange` process: configuration, start-up, clocks and shutdown.

When no account is given the exchange accepts the built-in demo account below. It is a
published, well-known pair: it guards nothing but a simulated wallet on a loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import orjson
from aiohttp import web

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.exchange.accounts import START_BALANCE, Account
from hftui.exchange.admin import add_admin_routes
from hftui.exchange.algo import AlgoService
from hftui.exchange.faults import USER_DATA_STREAM
from hftui.exchange.limits import Limits, RateLimiter
from hftui.exchange.liquidation import MarginMonitor
from hftui.exchange.market import MarketParams
from hftui.exchange.private import add_private_routes
from hftui.exchange.public import add_public_routes
from hftui.exchange.replay import load_recording
from hftui.exchange.server import build_app
from hftui.exchange.streams import DEPTH_SPEEDS_MS, StreamHub
from hftui.exchange.symbols import spec_for
from hftui.exchange.trading import Trading
from hftui.exchange.venue import Venue, now_ms

__all__ = [
    "DEMO_API_KEY",
    "DEMO_API_SECRET",
    "ExchangeConfig",
    "MarketParams",
    "RunningExchange",
    "parse_account",
    "read_accounts_file",
    "run",
    "start",
]

log = logging.getLogger(__name__)


def parse_account(text: str) -> tuple[str, str]:
    """Parse `KEY:SECRET`; ValueError with a clear message otherwise."""
    key, sep, secret = text.partition(":")
    if not sep or not key or not secret:
        raise ValueError("--account must be KEY:SECRET with both parts non-empty")
    return key, secret


def read_accounts_file(path: Path) -> tuple[tuple[str, str], ...]:
    """The accounts in `path`: one KEY:SECRET a line, blank lines and `#` comments skipped.
    Unlike `--account`, nothing shows in the process list. The file must be readable by its
    owner only, as a key file should be.

    Raises:
        ValueError: the file is missing, open to others, or has a line that is not an
            account (its number is given, never its text: it may hold a secret).
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"--accounts-file {path}: {exc.strerror or exc}") from None
    if mode & 0o077:
        raise ValueError(
            f"--accounts-file {path} is open to others (mode {mode & 0o777:o}); chmod 600 it"
        )
    accounts = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, secret = line.partition(":")
        if not sep or not key or not secret:
            raise ValueError(f"--accounts-file {path}, line {number}: expected KEY:SECRET")
        accounts.append((key, secret))
    if not accounts:
        raise ValueError(f"--accounts-file {path}: no KEY:SECRET line in it")
    return tuple(accounts)


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port; the ready file tells which
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    seed: int = 1
    accounts: tuple[tuple[str, str], ...] = ()
    step_ms: int = 20
    ready_file: Path | None = None
    ping_interval_s: float = 180.0
    connection_lifetime_s: float = 24 * 3600.0
    funding_interval_s: float = 8 * 3600.0
    listen_key_lifetime_s: float = 3600.0
    limits: Limits = field(default_factory=Limits)
    market: MarketParams = field(default_factory=MarketParams)
    start_balance: Decimal = START_BALANCE  # USDT in each account's wallet at start
    replay: Path | None = None  # a recording to replay instead of the synthetic market
    replay_speed: float = 1.0

    def validate(self) -> None:
        try:
            address = ipaddress.ip_address(self.host)
        except ValueError:
            address = None
        if self.host != "localhost" and (address is None or not address.is_loopback):
            raise ValueError(
                f"the local exchange binds loopback only (127.0.0.0/8, ::1); got {self.host!r}"
            )
        if not self.symbols:
            raise ValueError("the local exchange needs at least one symbol")
        for symbol in self.symbols:
            spec_for(symbol)
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not between 0 and 65535")
        self.market.validate()
        if self.replay_speed <= 0:
            raise ValueError("the replay speed must be positive")

    @property
    def all_accounts(self) -> tuple[tuple[str, str], ...]:
        return self.accounts or ((DEMO_API_KEY, DEMO_API_SECRET),)


class RunningExchange:
    """A started exchange: its address, and how to stop it."""

    def __init__(self, runner: web.AppRunner, venue: Venue, host: str, port: int) -> None:
        self._runner = runner
        self.venue = venue
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self._tasks: list[asyncio.Task[None]] = []

    def start_clocks(self, step_ms: int) -> None:
        self._tasks.append(asyncio.create_task(self._every(step_ms, self._step, step_ms)))
        for speed in DEPTH_SPEEDS_MS:
            self._tasks.append(
                asyncio.create_task(self._every(speed, self.venue.flush_depth, speed))
            )

    def every(self, period_ms: int, action: Callable[[int], object]) -> None:
        """Run `action(period_ms)` on a fixed period until stopped."""
        self._tasks.append(asyncio.create_task(self._every(period_ms, action, period_ms)))

    def _step(self, step_ms: int) -> None:
        self.venue.step(step_ms / 1000)

    @staticmethod
    async def _every(period_ms: int, action, arg: int) -> None:  # type: ignore[no-untyped-def]
        # Absolute deadlines: a late tick does not shift every later one.
        loop = asyncio.get_running_loop()
        period = period_ms / 1000
        deadline = loop.time()
        while True:
            deadline += period
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                deadline = loop.time()  # fell behind: do not burst to catch up
            try:
                action(arg)
            except Exception:  # the market must keep running whatever one tick does
                log.exception("exchange clock tick failed")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._runner.cleanup()


async def start(config: ExchangeConfig) -> RunningExchange:
    """Start serving; returns once the port is bound. Raises ValueError on bad config."""
    config.validate()
    hub = StreamHub()
    replay = None
    if config.replay is not None:
        try:
            replay = load_recording(config.replay, {s: spec_for(s) for s in config.symbols})
        except (FileNotFoundError, KeyError) as exc:
            raise ValueError(f"cannot replay {config.replay}: {exc}") from None
    venue = Venue(config.symbols, config.seed, hub, config.market, replay, config.replay_speed)
    accounts = {
        key: Account(key, secret.encode(), wallet=config.start_balance)
        for key, secret in config.all_accounts
    }

    def publish_user(account: Account, payload: dict[str, object]) -> None:
        # `stall?stream=userData` loses user events (the socket stays up): a state change
        # behind the client's back, which only its reconciliation can find.
        if hub.faults.stalled and hub.faults.is_stalled(USER_DATA_STREAM):
            return
        if account.listen_key is not None and now_ms() < account.listen_key_expires_ms:
            hub.publish(account.listen_key, payload)

    def expire_listen_keys(force: bool = False) -> int:
        # A key not kept alive expires: its stream hears listenKeyExpired, then nothing more.
        now, expired = now_ms(), 0
        for account in accounts.values():
            key = account.listen_key
            if key is not None and (force or now >= account.listen_key_expires_ms):
                hub.publish(key, {"e": "listenKeyExpired", "E": now, "listenKey": key})
                account.listen_key = None
                account.listen_key_expires_ms = 0
                expired += 1
        return expired

    trading = Trading(venue, accounts, now_ms, publish_user)
    trading.listen_key_lifetime_ms = int(config.listen_key_lifetime_s * 1000)
    limiter = RateLimiter(config.limits, time.monotonic)
    app = build_app(venue, hub, config.ping_interval_s, limiter, config.connection_lifetime_s)
    algo = AlgoService(trading, now_ms)
    add_private_routes(app, trading, algo)
    add_admin_routes(app, venue, hub.faults, lambda: expire_listen_keys(force=True))
    add_public_routes(app, venue)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    server = site._server  # the bound socket tells the real port when port was 0
    sockets = getattr(server, "sockets", None) or []
    port = int(sockets[0].getsockname()[1]) if sockets else config.port
    running = RunningExchange(runner, venue, config.host, port)
    running.start_clocks(config.step_ms)
    running.every(config.step_ms, lambda _: algo.check())
    margin = MarginMonitor(trading)
    running.every(100, lambda _: margin.check())
    running.every(1000, lambda _: expire_listen_keys())
    running.every(1000, lambda _: venue.publish_mark(1))
    running.every(3000, lambda _: venue.publish_mark(3))
    funding_ms = int(config.funding_interval_s * 1000)
    venue.next_funding_ms = now_ms() + funding_ms

    def fund(_: int) -> None:
        trading.settle_funding()
        venue.next_funding_ms = now_ms() + funding_ms

    running.every(funding_ms, fund)
    if config.ready_file is not None:
        _write_ready(config.ready_file, running)
    log.info("local exchange listening", extra={"url": running.url, "symbols": config.symbols})
    return running


def _write_ready(path: Path, running: RunningExchange) -> None:
    tmp = path.with_name(path.name + ".part")  # never the target itself, whatever its name
    tmp.write_bytes(
        orjson.dumps(
            {"host": running.host, "port": running.port, "url": running.url, "pid": os.getpid()}
        )
    )
    os.replace(tmp, path)


def run(config: ExchangeConfig) -> int:
    """Serve until SIGTERM, SIGINT or SIGHUP; returns the exit status."""
    config.validate()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        running = await start(config)
        try:
            await stop.wait()
        finally:
            await running.stop()
            log.info("local exchange stopped")

    asyncio.run(main())
    return 0
