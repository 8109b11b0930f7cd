"""The soak: an engine trading against the local exchange for a long time under faults.

The example strategies trade (live on the local exchange, then paper), a few market orders
from the shell make sure fills happen, and every few seconds one of the exchange's admin fault
switches fires (depth gaps, duplicates and corruption, dropped and rolled connections, stalled
depth and user-data streams, delayed frames, REST errors, 429s and latency, expired listen
keys, a paused market). During the live phase the engine is `kill -9`ed and restarted; during
the paper phase the exchange is (the local exchange keeps no state over a restart, which a
real venue never loses, so its restarts happen when no live trading depends on it).

Checked, and printed at the end:

- memory: the engine's RSS, sampled every few seconds, per engine life after warm-up; within a
  life it may not grow by more than `GROWTH_BOUND_MIB` (or `GROWTH_BOUND_FRACTION` of its
  start, whichever is larger) along the fitted line, and on a life of at least
  `SLOPE_MIN_LIFE_S` the slope may not exceed `SLOPE_BOUND_MIB_PER_H`;
- nothing lost: after every engine restart and at the end of the live phase the journal and
  the exchange agree on open orders, every trade id and the positions (`test_crash`'s
  helpers); at the end of the paper phase the journal's paper fills add up to the journal's
  and the engine's paper positions and its open paper orders are the engine's;
- the counters: messages, gaps, resyncs, reconnects, orders, fills, faults by kind.

Run it alone with `python -m tests.soak.soak --seconds 120` (`--json` for the figures as
JSON); `make soak` runs it through `tests/soak/test_soak.py` for `SOAK_SECONDS`. The kills
come one every `--kill-every` seconds (900); `--kill-every 0` kills nothing, so the whole run
is one engine life: the way to tell a slow leak from warm-up over hours.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import orjson

from hftui.engine.binance.client import Credentials, VenueClient
from tests.e2e.test_crash import KEY, SECRET, SYMBOLS, _journal, _kill9, _start, _venue
from tests.e2e.test_trading import _engine_config, _ready
from tests.support.processes import (
    HFTUI,
    FixedPortExchange,
    cli,
    eventually,
    http_post,
    isolated_env,
    stop,
)

__all__ = ["Report", "main", "run_soak"]

GROWTH_BOUND_MIB = 48.0
GROWTH_BOUND_FRACTION = 0.25
SLOPE_BOUND_MIB_PER_H = 40.0
SLOPE_MIN_LIFE_S = 900.0
KILL_EVERY_S = 900.0  # one engine (live) or exchange (paper) kill -9 per quarter hour
LIVE_SHARE = 0.75  # of the run; the rest is the paper phase with exchange restarts
SAMPLE_EVERY_S = 2.0
ORDER_EVERY_S = 6.0  # a market order from the shell, so fills happen whatever the strategies do
STRATEGIES = ("momentum", "market_maker")
ENGINE_CONFIG = (
    "[live]\nreconcile_interval_s = 10\n"
    '[strategies]\nmax_mode = "live"\n'
    "[metrics]\nport = 0\n"
    '[logging]\nlevel = "INFO"\n'
)
# Counters summed over every engine life (Prometheus names, summed over their labels).
COUNTERS = {
    "messages": "hftui_messages_received_total",
    "bad_frames": "hftui_bad_frames_total",
    "gaps": "hftui_book_gaps_total",
    "resyncs": "hftui_book_resyncs_total",
    "top_mismatches": "hftui_top_of_book_mismatches_total",
    "reconnects": "hftui_stream_reconnects_total",
    "stale_resyncs": "hftui_stale_resyncs_total",
    "orders_sent": "hftui_orders_sent_total",
    "orders_refused": "hftui_orders_refused_total",
    "order_rejects": "hftui_order_rejects_total",
    "strategy_errors": "hftui_strategy_errors_total",
}


# ---- memory --------------------------------------------------------------------------------


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass(slots=True)
class Life:
    """One engine process: its RSS samples (seconds since its start, KiB) and counters."""

    pid: int
    started: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    counters: dict[str, float] = field(default_factory=dict)

    def after_warmup(self, warmup_s: float) -> list[tuple[float, int]]:
        return [s for s in self.samples if s[0] >= warmup_s]


def fit(samples: list[tuple[float, int]]) -> tuple[float, float]:
    """Least-squares line through (s, KiB): (intercept KiB, slope KiB/s)."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_r = sum(r for _, r in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    slope = 0.0 if var == 0 else sum((t - mean_t) * (r - mean_r) for t, r in samples) / var
    return mean_r - slope * mean_t, slope


@dataclass(slots=True)
class Memory:
    start_mib: float
    end_mib: float
    max_mib: float
    slope_mib_per_h: float
    life_s: float
    growth_mib: float  # along the fitted line over the life's samples after warm-up


def memory_of(life: Life, warmup_s: float) -> Memory | None:
    samples = life.after_warmup(warmup_s)
    if len(samples) < 3:
        return None
    _, slope = fit(samples)
    span = samples[-1][0] - samples[0][0]
    return Memory(
        start_mib=samples[0][1] / 1024,
        end_mib=samples[-1][1] / 1024,
        max_mib=max(r for _, r in samples) / 1024,
        slope_mib_per_h=slope * 3600 / 1024,
        life_s=samples[-1][0],
        growth_mib=slope * span / 1024,
    )


def memory_failures(memory: Memory) -> list[str]:
    failures = []
    bound = max(GROWTH_BOUND_MIB, GROWTH_BOUND_FRACTION * memory.start_mib)
    if memory.growth_mib > bound:
        failures.append(
            f"engine RSS grew {memory.growth_mib:.1f} MiB in one life (bound {bound:.1f} MiB)"
        )
    if memory.life_s >= SLOPE_MIN_LIFE_S and memory.slope_mib_per_h > SLOPE_BOUND_MIB_PER_H:
        failures.append(
            f"engine RSS slope {memory.slope_mib_per_h:.1f} MiB/h "
            f"(bound {SLOPE_BOUND_MIB_PER_H} MiB/h over {memory.life_s:.0f} s)"
        )
    return failures


# ---- the exchange's admin switches and the engine's metrics --------------------------------


class FaultPicker:
    """Picks and fires one fault at a time; remembers the ones that need undoing."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fired: Counter[str] = Counter()
        self.undo_at: float | None = None

    def fire(self, url: str) -> str:
        rng = self.rng
        symbol = rng.choice(SYMBOLS)
        stream = f"{symbol.lower()}@depth"
        kinds: list[tuple[str, str]] = [
            ("depth-gap", f"depth-gap?symbol={symbol}&count={rng.randint(1, 3)}"),
            ("depth-duplicate", f"depth-duplicate?symbol={symbol}&count={rng.randint(1, 3)}"),
            ("depth-corrupt", f"depth-corrupt?symbol={symbol}&count=1"),
            ("drop", "drop"),
            ("roll", "roll"),
            ("stall-depth", f"stall?stream={stream}&seconds={rng.uniform(1, 6):.1f}"),
            ("stall-userData", f"stall?stream=userData&seconds={rng.uniform(1, 5):.1f}"),
            ("delay", f"delay?stream={stream}&ms={rng.randint(100, 800)}"),
            (
                "http-5xx-order",
                f"http?status={rng.choice([500, 502, 503])}&count={rng.randint(1, 3)}"
                "&path=/fapi/v1/order",
            ),
            ("http-5xx", f"http?status=503&count={rng.randint(1, 3)}"),
            ("http-429", "http?status=429&count=1&retry_after=1"),
            ("http-latency", f"http?delay_ms={rng.randint(200, 1500)}&count={rng.randint(1, 4)}"),
            ("expire-listen-keys", "expire-listen-keys"),
            ("market-pause", ""),
        ]
        kind, path = rng.choice(kinds)
        if kind == "market-pause":
            http_post(f"{url}/admin/market/pause")
        else:
            http_post(f"{url}/admin/faults/{path}")
        if kind in ("delay", "market-pause"):  # both last until undone
            self.undo_at = time.monotonic() + rng.uniform(2, 5)
        self.fired[kind] += 1
        return kind

    def undo_due(self, url: str, force: bool = False) -> None:
        if self.undo_at is not None and (force or time.monotonic() >= self.undo_at):
            http_post(f"{url}/admin/market/resume")
            http_post(f"{url}/admin/faults/clear")
            self.undo_at = None


def scrape(metrics_url: str) -> dict[str, float]:
    """The exporter's samples summed per metric name (labels folded)."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        with contextlib.suppress(ValueError):
            totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def status(env: dict[str, str]) -> dict[str, object]:
    done = cli(["status", "--json"], env)
    doc = orjson.loads(done.stdout)
    assert isinstance(doc, dict), done.stdout
    return doc


# ---- what the venue and the journal hold ---------------------------------------------------


def venue_trade_ids(url: str) -> set[tuple[int, str]]:
    """Every trade (id, side) of the account, paged by `fromId` (a plain query returns the
    last 500). A page starts at the last one's highest id: a self-trade's legs share it."""

    async def query() -> set[tuple[int, str]]:
        client = VenueClient(url, Credentials(KEY, SECRET))
        try:
            ids: set[tuple[int, str]] = set()
            for symbol in SYMBOLS:
                since = 0
                while True:
                    params = {"symbol": symbol, "fromId": str(since), "limit": "1000"}
                    rows = await client.request(
                        "GET", "/fapi/v1/userTrades", params, signed=True, weight=5
                    )
                    assert isinstance(rows, list)
                    ids |= {(int(t["id"]), str(t["side"])) for t in rows}
                    if len(rows) < 1000:
                        break
                    since = max(int(t["id"]) for t in rows)
            return ids
        finally:
            await client.close()

    return asyncio.run(query())


def live_agree(url: str, journal: Path, recoveries: int) -> tuple[int, int] | None:
    """None until the journal recorded `recoveries` starts; then asserts that it and the venue
    agree on open orders, trade ids and positions; returns (open orders, trades)."""
    j_open, j_trades, j_pos, done = _journal(journal)
    if done < recoveries:
        return None
    v_open, _, v_pos = _venue(url)
    v_trades = venue_trade_ids(url)
    assert j_open == v_open, ("open orders", sorted(j_open ^ v_open))
    assert j_trades == v_trades, ("trades", sorted(j_trades ^ v_trades)[:20], len(v_trades))
    for symbol, amount in v_pos.items():
        assert j_pos.get(symbol, Decimal(0)) == amount, ("position", symbol, j_pos, v_pos)
    return len(v_open), len(v_trades)


def paper_agree(env: dict[str, str], journal: Path) -> int:
    """The journal's paper fills add up to its latest paper positions and to the engine's; its
    open paper orders are the engine's. Returns the paper fills counted."""
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=2)
    try:
        summed: dict[str, Decimal] = {}
        fills = 0
        for symbol, side, qty in conn.execute(
            "SELECT symbol, side, qty FROM fills WHERE mode = 'paper'"
        ):
            sign = 1 if str(side).upper() == "BUY" else -1
            summed[symbol] = summed.get(symbol, Decimal(0)) + sign * Decimal(str(qty))
            fills += 1
        snapshots = {
            str(symbol): Decimal(str(qty))
            for symbol, qty in conn.execute(
                "SELECT symbol, qty FROM position_snapshots WHERE id IN "
                "(SELECT MAX(id) FROM position_snapshots WHERE mode = 'paper' GROUP BY symbol)"
            )
        }
        j_open = {
            str(r[0])
            for r in conn.execute(
                "SELECT client_id FROM orders WHERE mode = 'paper' AND status IN "
                "('PENDING_NEW', 'NEW', 'PARTIALLY_FILLED', 'PENDING_CANCEL')"
            )
        }
    finally:
        conn.close()
    doc = status(env)
    assert doc.get("mode") == "paper", doc
    symbols = doc["symbols"]
    assert isinstance(symbols, dict)
    for symbol in SYMBOLS:
        engine = Decimal(str(symbols[symbol]["position"]))
        assert summed.get(symbol, Decimal(0)) == engine, ("fills", symbol, summed, engine)
        assert snapshots.get(symbol, Decimal(0)) == engine, ("snapshot", symbol, snapshots)
    orders = orjson.loads(cli(["orders", "--json"], env).stdout)
    e_open = {str(o["client_id"]) for o in orders["orders"] if o["mode"] == "paper"}
    assert j_open == e_open, ("paper open orders", sorted(j_open ^ e_open))
    return fills


def journal_counts(journal: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=2)
    try:
        counts: dict[str, int] = {}
        for table in ("orders", "fills"):
            for mode, n in conn.execute(f"SELECT mode, COUNT(*) FROM {table} GROUP BY mode"):  # noqa: S608 - fixed names
                counts[f"{table}_{mode}"] = int(n)
        for kind in ("reconcile", "recovery"):
            (n,) = conn.execute("SELECT COUNT(*) FROM audit WHERE kind = ?", (kind,)).fetchone()
            counts[f"audit_{kind}"] = int(n)
        return counts
    finally:
        conn.close()


# ---- the run -------------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    seconds: float
    seed: int
    memory: dict[str, float] | None = None  # the longest life's figures
    lives: list[dict[str, float]] = field(default_factory=list)
    counters: dict[str, float] = field(default_factory=dict)
    journal: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    engine_kills: int = 0
    exchange_kills: int = 0
    rearms: int = 0
    agreements: int = 0  # journal/venue comparisons that passed
    failures: list[str] = field(default_factory=list)

    def table(self) -> str:
        lines = [f"soak: {self.seconds:.0f} s, seed {self.seed}"]
        if self.memory:
            m = self.memory
            lines.append(
                f"engine RSS (longest life, {m['life_s']:.0f} s): start {m['start_mib']:.1f} MiB"
                f"  end {m['end_mib']:.1f}  max {m['max_mib']:.1f}"
                f"  slope {m['slope_mib_per_h']:+.1f} MiB/h  growth {m['growth_mib']:+.1f} MiB"
            )
        for i, life in enumerate(self.lives):
            lines.append(
                f"  life {i}: {life['life_s']:.0f} s  start {life['start_mib']:.1f}"
                f"  end {life['end_mib']:.1f}  max {life['max_mib']:.1f}"
                f"  slope {life['slope_mib_per_h']:+.1f} MiB/h"
            )
        lines.append("counters: " + "  ".join(f"{k} {v:.0f}" for k, v in self.counters.items()))
        lines.append("journal: " + "  ".join(f"{k} {v}" for k, v in self.journal.items()))
        lines.append("faults: " + "  ".join(f"{k} {v}" for k, v in sorted(self.faults.items())))
        lines.append(
            f"engine kill -9: {self.engine_kills}  exchange kill -9: {self.exchange_kills}"
            f"  kill-switch re-arms: {self.rearms}  journal/venue agreements: {self.agreements}"
        )
        lines.append("result: " + ("; ".join(self.failures) if self.failures else "ok"))
        return "\n".join(lines)


class Soak:
    """Owns the processes of one run: the exchange on a fixed port and the engine."""

    def __init__(
        self,
        root: Path,
        seconds: float,
        seed: int,
        log: Callable[[str], None],
        kill_every_s: float = KILL_EVERY_S,
    ) -> None:
        self.seconds = seconds
        self.kill_every_s = kill_every_s  # 0: no kills, one engine life
        self.rng = random.Random(seed)
        self.log = log
        self.env = isolated_env(root)
        self.env["HOME"] = str(root / "home")
        self.env["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
        self.exchange = FixedPortExchange(self.env, root, seed=seed, accounts=[f"{KEY}:{SECRET}"])
        self.engine_log = root / "engine.log"
        self.journal = Path(self.env["XDG_DATA_HOME"]) / "hftui" / "journal" / "default.sqlite3"
        self.engine: subprocess.Popen[bytes] | None = None
        self.lives: list[Life] = []
        self.metrics_url = ""
        self.faults = FaultPicker(self.rng)
        self.report = Report(seconds=seconds, seed=seed)
        self.starts = 0
        self.mode = "observe"
        self.phase_mode = "live"  # the mode the current phase trades in

    # -- processes

    def start_engine(self) -> None:
        self.engine = _start(self.env, self.engine_log)
        self.starts += 1
        _ready(self.env)
        doc = eventually(self.exporting, 30, 0.5)
        self.metrics_url = str(doc["metrics_url"])
        self.lives.append(Life(pid=int(str(doc["engine_pid"])), started=time.monotonic()))

    def exporting(self) -> dict[str, object] | None:
        doc = status(self.env)
        return doc if doc.get("metrics_url") else None

    def kill_engine(self) -> None:
        assert self.engine is not None
        self.sample()  # the last counters of this life
        _kill9(self.engine)
        self.report.engine_kills += 1

    def to_mode(self, mode: str) -> None:
        if mode == "live" and self.mode != "paper":
            self.cli_ok(["mode", "paper"])
        args = ["mode", mode] + (["--confirm", "LIVE"] if mode == "live" else [])
        self.cli_ok(args)
        self.mode = mode

    def cli_ok(self, args: list[str], tries: int = 5) -> None:
        # A REST fault can refuse a command now and then; the soak asks again.
        for _ in range(tries):
            done = cli([*args, "--json"], self.env)
            if done.returncode == 0:
                return
            time.sleep(1)
        raise AssertionError(f"hftui {' '.join(args)}: {done.stdout} {done.stderr[-500:]}")

    # -- sampling

    def sample(self) -> None:
        # A process that ends without being killed is a failure the checks must not outlive.
        assert self.engine is not None
        if self.engine.poll() is not None:
            raise AssertionError(f"the engine exited by itself ({self.engine.returncode})")
        if self.exchange.proc is None or self.exchange.proc.poll() is not None:
            raise AssertionError("the exchange exited by itself")
        life = self.lives[-1]
        kib = rss_kib(life.pid)
        if kib is not None:
            life.samples.append((time.monotonic() - life.started, kib))
        with contextlib.suppress(OSError, urllib.error.URLError):
            scraped = scrape(self.metrics_url)
            life.counters = {k: scraped.get(name, 0.0) for k, name in COUNTERS.items()}
            if scraped.get("hftui_killed", 0.0) >= 1 and self.mode != "observe":
                # A kill latch from the faults (e.g. a reconciliation halt) is a finding to
                # count; the soak re-arms and trades on.
                self.log("kill switch latched: re-arming")
                self.cli_ok(["rearm"])
                self.mode = "observe"
                self.report.rearms += 1

    def market_order(self) -> None:
        symbol = self.rng.choice(SYMBOLS)
        qty = "0.010" if symbol == "BTCUSDT" else "0.100"
        side = self.rng.choice(["buy", "sell"])
        cli(["order", "place", symbol, side, qty, "--type", "market", "--json"], self.env, 15)

    # -- phases

    def quiesce(self) -> None:
        """Faults off, strategies paused (their orders cancelled): nothing in flight."""
        self.faults.undo_due(self.exchange.url, force=True)
        http_post(f"{self.exchange.url}/admin/faults/clear")
        http_post(f"{self.exchange.url}/admin/market/resume")
        for name in STRATEGIES:
            self.cli_ok(["strategy", "pause", name])
        time.sleep(2)

    def resume(self) -> None:
        for name in STRATEGIES:
            self.cli_ok(["strategy", "resume", name])

    def check_live(self, timeout_s: float = 40) -> None:
        check = functools.partial(live_agree, self.exchange.url, self.journal, self.starts)
        opened, trades = eventually(check, timeout_s, 0.5)
        self.report.agreements += 1
        self.log(f"journal and venue agree: {opened} open orders, {trades} trades")

    def phase(self, until: float, kills: list[float], kill: Callable[[], None]) -> None:
        next_fault = time.monotonic() + self.rng.uniform(2, 5)
        next_order = time.monotonic() + ORDER_EVERY_S
        while (now := time.monotonic()) < until:
            self.faults.undo_due(self.exchange.url)
            if kills and now >= kills[0]:
                kills.pop(0)
                kill()
            if now >= next_fault:
                with contextlib.suppress(OSError, urllib.error.URLError):
                    self.faults.fire(self.exchange.url)
                next_fault = now + self.rng.uniform(2, 5)
            if now >= next_order:
                if self.mode == "observe":  # after a re-arm
                    self.to_mode(self.phase_mode)
                self.market_order()
                next_order = now + ORDER_EVERY_S
            self.sample()
            time.sleep(SAMPLE_EVERY_S)

    def moments(self, start: float, span: float) -> list[float]:
        """When to kill: one per `kill_every_s` (at least one; none when it is 0), each at a
        random moment of its share of the phase."""
        if self.kill_every_s <= 0:
            return []
        n = max(1, round(span / self.kill_every_s))
        return [start + span * (i + self.rng.uniform(0.3, 0.7)) / n for i in range(n)]

    def restart_engine(self) -> None:
        self.kill_engine()
        self.start_engine()  # in observe: recovery, then the journal and the venue agree
        self.mode = "observe"
        self.check_live()
        self.to_mode("live")

    def restart_exchange(self) -> None:
        self.faults.undo_at = None  # the new exchange starts with no faults
        self.exchange.restart(down_s=self.rng.uniform(0.5, 3))
        self.report.exchange_kills += 1

    def run(self) -> Report:
        began = time.monotonic()
        self.exchange.start()
        _engine_config(self.env, self.exchange.url, ENGINE_CONFIG)
        stored = subprocess.run(
            [*HFTUI, "keys", "set", "--venue", "local"], env=self.env,
            input=f"{KEY}\n{SECRET}\n", capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert stored.returncode == 0, stored.stderr
        self.start_engine()
        self.to_mode("live")
        live_s = self.seconds * LIVE_SHARE
        paper_s = self.seconds - live_s
        kills = self.moments(began, live_s)
        self.log(f"live phase: {live_s:.0f} s, engine kill -9 at {len(kills)} moments")
        self.phase(began + live_s, kills, self.restart_engine)
        self.quiesce()
        self.check_live()
        self.resume()
        self.to_mode("paper")
        self.phase_mode = "paper"
        start = time.monotonic()
        kills = self.moments(start, paper_s)
        self.log(f"paper phase: {paper_s:.0f} s, exchange kill -9 at {len(kills)} moments")
        self.phase(start + paper_s, kills, self.restart_exchange)
        self.quiesce()
        self.cli_ok(["order", "cancel-all"])
        fills = eventually(functools.partial(paper_agree, self.env, self.journal), 30, 0.5)
        self.report.agreements += 1
        self.log(f"paper: journal fills add up to the engine's positions ({fills} fills)")
        self.sample()
        return self.finish()

    def finish(self) -> Report:
        report = self.report
        warmup = min(60.0, max(10.0, self.seconds * 0.05))
        memories = [m for life in self.lives if (m := memory_of(life, warmup)) is not None]
        report.lives = [asdict(m) for m in memories]
        if memories:
            longest = max(memories, key=lambda m: m.life_s)
            report.memory = asdict(longest)
            for memory in memories:
                report.failures += memory_failures(memory)
        else:
            report.failures.append("no engine life long enough to judge its memory")
        for life in self.lives:
            for key, value in life.counters.items():
                report.counters[key] = report.counters.get(key, 0.0) + value
        report.journal = journal_counts(self.journal)
        report.faults = dict(self.faults.fired)
        fills = report.journal.get("fills_live", 0) + report.journal.get("fills_paper", 0)
        if not fills:
            report.failures.append("no fills: the soak proved nothing")
        return report

    def close(self) -> None:
        if self.engine is not None:
            stop(self.engine)
        self.exchange.stop()


@contextlib.contextmanager
def soak(
    root: Path,
    seconds: float,
    seed: int,
    log: Callable[[str], None],
    kill_every_s: float = KILL_EVERY_S,
) -> Iterator[Soak]:
    run = Soak(root, seconds, seed, log, kill_every_s)
    try:
        yield run
    except BaseException:
        with contextlib.suppress(OSError):
            log(run.engine_log.read_text()[-3000:])  # the engine's last words
        raise
    finally:
        run.close()


def run_soak(
    seconds: float,
    seed: int = 1,
    log: Callable[[str], None] = print,
    kill_every_s: float = KILL_EVERY_S,
    keep: Path | None = None,
) -> Report:
    """The soak in a temporary directory, or in `keep`, which is left for a post-mortem
    (journal, engine and exchange logs)."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        with soak(keep, seconds, seed, log, kill_every_s) as run:
            return run.run()
    with (
        tempfile.TemporaryDirectory(prefix="hftui-soak-") as tmp,
        soak(Path(tmp), seconds, seed, log, kill_every_s) as run,
    ):
        return run.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 3600))
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--kill-every",
        type=float,
        default=KILL_EVERY_S,
        help="seconds between kill -9s of the engine (live) and exchange (paper); 0: none",
    )
    parser.add_argument(
        "--keep", type=Path, help="run in this directory and leave it (logs, journal)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.seconds < 40:
        parser.error("--seconds must be at least 40 (warm-up, an engine and an exchange restart)")
    report = run_soak(
        args.seconds,
        args.seed,
        log=lambda s: print(s, file=sys.stderr),  # noqa: T201
        kill_every_s=args.kill_every,
        keep=args.keep,
    )
    print(orjson.dumps(asdict(report)).decode() if args.json else report.table())  # noqa: T201
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
