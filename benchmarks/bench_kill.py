"""The kill switch on loopback: key press to every cancel sent, and to zero open orders.

Run: `python benchmarks/bench_kill.py [--rounds N] [--orders N] [--json]`.

The local exchange and the engine run as their own processes, as in production; this script
plays the TUI. Each round puts the engine in live, rests N orders on each of two symbols
(acknowledged by the venue), stamps the key press with CLOCK_MONOTONIC and sends `Kill` on the
command ring. The engine measures from that stamp: when its last cancel reached the socket,
and when an open-orders query confirmed none were left; it publishes both in the snapshot
header (`hftui status --json` shows them as `kill`). The script checks the exchange itself
with its own client, then re-arms for the next round.

The baseline, measured in the same run against the same exchange while the engine is still
attached to it: what a simple bot does, one `DELETE /fapi/v1/order` per order awaited in
turn, then the same open-orders check. Goals on
loopback: key to cancels sent <= 5 ms, key to zero open orders <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.engine.binance.client import Credentials, VenueClient
from hftui.instance import find_running
from hftui.ipc import SnapshotReader
from hftui.protocol import Kill, Mode, PlaceOrder, Rearm, SetMode, Side
from hftui.remote import EngineControl

T = TypeVar("T")
SYMBOLS = {"BTCUSDT": Decimal("0.10"), "ETHUSDT": Decimal("0.01")}  # tick sizes
QTY = {"BTCUSDT": "0.002", "ETHUSDT": "0.050"}
GOAL_SENT_MS = 5.0
GOAL_ZERO_MS = 50.0


class KillBenchError(RuntimeError):
    """The run could not be measured (a refusal, a time-out, orders left open)."""


def _eventually(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    return _poll(probe, timeout_s, what, 0.05)


def _poll(probe: Callable[[], T | None], timeout_s: float, what: str, every_s: float = 0.005) -> T:
    # A short period where a start-up is timed: the poll's own granularity stays well under
    # the figure.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(every_s)
    raise KillBenchError(f"bench_kill: timed out waiting for {what}")


@contextmanager
def _started(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hftui", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _far_bids(url: str, symbol: str, count: int) -> list[str]:
    # Bids 1.5 % and more under the touch: inside the fat-finger band, out of the market's reach.
    with urllib.request.urlopen(f"{url}/fapi/v1/ticker/bookTicker?symbol={symbol}") as reply:
        bid = Decimal(json.loads(reply.read())["bidPrice"])
    tick = SYMBOLS[symbol]
    prices = []
    for k in range(count):
        price = bid * (Decimal("0.985") - Decimal("0.001") * k)
        prices.append(str(((price // tick) * tick).quantize(tick)))
    return prices


def _synced(reader: SnapshotReader) -> bool:
    n = int(reader.header()["n_symbols"])
    return n == len(SYMBOLS) and all(reader.symbol(i)["synced"] for i in range(n))


def _answer_ok(control: EngineControl, command: object, what: str) -> None:
    answer = control.request(command, 20.0)  # type: ignore[arg-type]
    if answer is None or not answer.ok:
        raise KillBenchError(f"bench_kill: {what} refused: {answer}")


def _ours(
    control: EngineControl, reader: SnapshotReader, url: str, rounds: int, n: int
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"sent_ms": [], "zero_ms": [], "answer_ms": []}
    for _ in range(rounds):
        _answer_ok(control, SetMode(Mode.PAPER), "paper")
        _answer_ok(control, SetMode(Mode.LIVE, "LIVE"), "live")
        ids = [
            control.send(PlaceOrder(symbol, Side.BUY, QTY[symbol], price))
            for symbol in SYMBOLS
            for price in _far_bids(url, symbol, n)
        ]
        for request_id in ids:  # live answers come with the venue's acknowledgement
            answer = control.wait_answer(request_id, 20.0)
            if answer is None or not answer.ok:
                raise KillBenchError(f"bench_kill: order refused: {answer}")
        if len(asyncio.run(_venue_open(url))) != n * len(SYMBOLS):
            raise KillBenchError("bench_kill: the orders are not all resting at the venue")
        key = time.monotonic_ns()
        request_id = control.send(Kill(), sent_ns=key)
        answer = control.wait_answer(request_id, 20.0)
        answered = time.monotonic_ns()
        if answer is None or not answer.ok:
            raise KillBenchError(f"bench_kill: kill refused: {answer}")
        header = _eventually(
            lambda: (h := reader.header())["kill_zero_open_ns"] and h, 5.0, "the kill report"
        )
        if int(header["kill_left_open"]) != 0 or asyncio.run(_venue_open(url)):
            raise KillBenchError("bench_kill: orders left open after the kill")
        out["sent_ms"].append(int(header["kill_sent_ns"]) / 1e6)
        out["zero_ms"].append(int(header["kill_zero_open_ns"]) / 1e6)
        out["answer_ms"].append((answered - key) / 1e6)
        _answer_ok(control, Rearm(), "rearm")
    return out


async def _venue_open(url: str) -> list[dict[str, object]]:
    # Per symbol (weight 1 each): the all-symbols query weighs 40 of the IP's 2400 a minute,
    # shared with the engine on loopback.
    client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
    try:
        return [row for symbol in SYMBOLS for row in await client.open_orders(symbol)]
    finally:
        await client.close()


async def _baseline(url: str, rounds: int, n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"sent_ms": [], "zero_ms": []}
    client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
    try:
        await client.start()
        for r in range(rounds):
            placed = []
            for symbol in SYMBOLS:
                for k, price in enumerate(_far_bids(url, symbol, n)):
                    cid = f"base-{os.getpid()}-{r}-{symbol[:3]}-{k}"
                    await client.new_order(
                        {
                            "symbol": symbol,
                            "side": "BUY",
                            "type": "LIMIT",
                            "timeInForce": "GTC",
                            "quantity": QTY[symbol],
                            "price": price,
                            "newClientOrderId": cid,
                        }
                    )
                    placed.append((symbol, cid))
            t0 = time.monotonic_ns()
            last_sent = t0
            for symbol, cid in placed:
                last_sent = time.monotonic_ns()
                await client.cancel_order(symbol, cid)
            for symbol in SYMBOLS:  # the same check as the engine's: per symbol, in turn
                if await client.open_orders(symbol):
                    raise KillBenchError("bench_kill: baseline left orders open")
            done = time.monotonic_ns()
            out["sent_ms"].append((last_sent - t0) / 1e6)
            out["zero_ms"].append((done - t0) / 1e6)
    finally:
        await client.close()
    return out


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 3),
        "max_ms": round(ordered[-1], 3),
    }


@dataclass
class EngineSession:
    """A local exchange and an engine on it, started for benchmarks; `ready_ms` is the
    engine's cold start: launch to answering commands with every book synced."""

    url: str
    engine: subprocess.Popen[bytes]
    control: EngineControl
    reader: SnapshotReader
    launched_ns: int
    listed_ms: float  # launch to the instance file naming a live engine
    ready_ms: float


@contextmanager
def engine_session() -> Iterator[EngineSession]:
    """Start the local exchange, then time an `hftui engine` launch on it until ready."""
    with tempfile.TemporaryDirectory(prefix="hftui-bench-kill-") as tmp:
        home = Path(tmp)
        # This process finds the engine's instance file and rings through the same dirs.
        saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "HFTUI_CONFIG")}
        os.environ["XDG_CONFIG_HOME"] = str(home / "config")
        os.environ["XDG_DATA_HOME"] = str(home / "data")
        os.environ.pop("HFTUI_CONFIG", None)
        env = dict(os.environ)
        ready = home / "exchange.json"
        try:
            with _started(["exchange", "--port", "0", "--ready-file", str(ready)], env):
                url = _eventually(
                    lambda: ready.exists() and json.loads(ready.read_text())["url"],
                    20,
                    "exchange",
                )
                config = home / "config" / "hftui" / "config.toml"
                config.parent.mkdir(parents=True)
                config.write_text(
                    f'[venue]\nname = "local"\nurl = "{url}"\n'
                    f'[engine]\ninstance = "benchkill"\n[risk]\nmax_orders_per_s = 1000\n'
                )
                launched = time.monotonic_ns()
                with _started(["engine"], env) as engine:
                    info = _poll(lambda: find_running("benchkill"), 60, "the engine")
                    listed = time.monotonic_ns()
                    control = EngineControl(info)
                    reader = SnapshotReader(info.shm)
                    try:
                        _poll(
                            lambda: (a := control.request(SetMode(Mode.OBSERVE), 2.0)) and a.ok,
                            60,
                            "the engine to trade",
                        )
                        _poll(lambda: _synced(reader), 60, "the books to sync")
                        yield EngineSession(
                            url,
                            engine,
                            control,
                            reader,
                            launched,
                            (listed - launched) / 1e6,
                            (time.monotonic_ns() - launched) / 1e6,
                        )
                    finally:
                        reader.close()
                        control.close()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def measure(session: EngineSession, rounds: int, orders: int) -> dict[str, object]:
    """Our kill and the baseline's, `rounds` times each, with `orders` per symbol resting."""
    ours = _ours(session.control, session.reader, session.url, rounds, orders)
    # With the engine still attached, so the exchange carries the same load (market data and
    # user-data streams) as during our rounds.
    base = asyncio.run(_baseline(session.url, rounds, orders))
    result: dict[str, object] = {
        "rounds": rounds,
        "open_orders": orders * len(SYMBOLS),
        "ours": {
            "key_to_cancels_sent": _stats(ours["sent_ms"]),
            "key_to_zero_open": _stats(ours["zero_ms"]),
            "key_to_answer": _stats(ours["answer_ms"]),
        },
        "baseline": {
            "key_to_cancels_sent": _stats(base["sent_ms"]),
            "key_to_zero_open": _stats(base["zero_ms"]),
        },
    }
    ours_zero = statistics.median(ours["zero_ms"])
    result["ratio_zero_open"] = round(statistics.median(base["zero_ms"]) / ours_zero, 2)
    result["goals_ms"] = {"key_to_cancels_sent": GOAL_SENT_MS, "key_to_zero_open": GOAL_ZERO_MS}
    return result


def run(rounds: int, orders: int) -> dict[str, object]:
    with engine_session() as session:
        return measure(session, rounds, orders)


def _print(result: dict[str, object]) -> None:
    print(
        f"kill switch: {result['open_orders']} open orders on {len(SYMBOLS)} symbols, "
        f"{result['rounds']} rounds, loopback"
    )
    print(f"{'':28}{'p50 ms':>10}{'p90 ms':>10}{'max ms':>10}{'goal':>10}")
    goals = {"key_to_cancels_sent": GOAL_SENT_MS, "key_to_zero_open": GOAL_ZERO_MS}
    for side in ("ours", "baseline"):
        figures = result[side]
        assert isinstance(figures, dict)
        for name, s in figures.items():
            goal = f"<= {goals[name]:g}" if side == "ours" and name in goals else ""
            label = f"{side} {name.replace('_', ' ')}"
            print(f"{label:28}{s['p50_ms']:>10}{s['p90_ms']:>10}{s['max_ms']:>10}{goal:>10}")
    print(f"zero open orders: ours {result['ratio_zero_open']}x faster than the baseline (p50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=10, help="kills to time")
    parser.add_argument("--orders", type=int, default=4, help="resting orders per symbol")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    try:
        result = run(args.rounds, args.orders)
    except KillBenchError as exc:
        raise SystemExit(str(exc)) from None
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)


if __name__ == "__main__":
    main()
