"""Command line: `hftui [engine|attach|exchange|status|book|record|replay]`; the trading
commands (kill, rearm, mode, order, orders, keys) live in `cli_trading`.

Each subcommand imports only what it needs, so the TUI process never loads the engine and
`hftui status` starts fast. The JSON printed by `status --json` and `book --json` is an
interface scripts rely on; its fields are documented in README.md.

Exit statuses: 0 success, 1 no running engine or a runtime failure, 2 bad usage or config.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

import orjson

from hftui.config import Config, ConfigError, load_config
from hftui.instance import InstanceInfo, find_running, pid_alive
from hftui.paths import logs_dir

if TYPE_CHECKING:
    import numpy as np

    from hftui.ipc import SnapshotReader
    from hftui.status_components import Component

__all__ = ["main"]

log = logging.getLogger("hftui.cli")

_ENGINE_START_TIMEOUT_S: Final = 30.0
_ENGINE_STOP_TIMEOUT_S: Final = 10.0


def _fail(message: str, status: int = 1) -> int:
    print(f"hftui: {message}", file=sys.stderr)
    return status


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hftui",
        description="Terminal trading workstation for Binance USD-M Futures. With no "
        "subcommand: start the engine (and the local exchange for venue 'local') and open "
        "the TUI on it, or attach to the engine already running.",
    )
    parser.add_argument("--config", type=Path, help="config file (default: XDG config path)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("engine", help="run the engine headless in the foreground")
    sub.add_parser("attach", help="open the TUI on a running engine")

    ex = sub.add_parser("exchange", help="run the local exchange (Binance USD-M wire protocol)")
    ex.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    ex.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    ex.add_argument("--symbols", default="BTCUSDT,ETHUSDT", help="comma-separated symbols")
    ex.add_argument("--seed", type=int, default=1, help="seed of the synthetic market")
    ex.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="KEY:SECRET",
        help="an API key and secret the exchange accepts (repeatable; shows in the process "
        "list); default: the built-in demo account",
    )
    ex.add_argument(
        "--accounts-file",
        type=Path,
        metavar="PATH",
        help="accounts to accept, one KEY:SECRET a line, from a file only its owner can read",
    )
    ex.add_argument("--ready-file", type=Path, help="write {host, port, url, pid} here when up")
    ex.add_argument(
        "--volatility",
        type=float,
        default=0.6,
        metavar="BP",
        help="fair-value volatility, basis points per sqrt(second)",
    )
    ex.add_argument(
        "--trend",
        type=float,
        default=0.0,
        metavar="BP",
        help="fair-value drift, basis points per second",
    )
    ex.add_argument(
        "--spread",
        type=int,
        default=1,
        metavar="TICKS",
        help="the spread the flow keeps closing down to",
    )
    ex.add_argument("--bursts", type=float, default=1.0, help="how often bursts start (x)")
    ex.add_argument("--activity", type=float, default=1.0, help="scales every event rate (x)")
    ex.add_argument(
        "--replay",
        type=Path,
        metavar="DIR",
        help="replay a recording (from `hftui record`) instead of the synthetic market",
    )
    ex.add_argument("--speed", type=float, default=1.0, help="replay speed (x), default 1")
    ex.add_argument(
        "--funding-interval",
        type=float,
        default=8 * 3600.0,
        metavar="SECONDS",
        help="funding settlement period (8 h as on Binance; shorter for demos)",
    )

    rec = sub.add_parser("record", help="record the venue's raw market data to a directory")
    rec.add_argument("--symbols", default="", help="comma-separated (default: config)")
    rec.add_argument("--out", type=Path, required=True, help="directory for the recording")
    rec.add_argument("--seconds", type=float, help="stop after this long (default: on Ctrl+C)")

    rp = sub.add_parser("replay", help="feed a recording through the engine's market-data path")
    rp.add_argument("--data", type=Path, required=True, help="a directory made by `hftui record`")
    rp.add_argument("--symbols", default="", help="comma-separated (default: all recorded)")
    rp.add_argument("--json", action="store_true", help="machine-readable output")

    from hftui.backtest.command import add_parser as add_backtest_parser

    add_backtest_parser(sub)

    st = sub.add_parser("status", help="show the running engine's state")
    st.add_argument("--json", action="store_true", help="machine-readable output")

    bk = sub.add_parser("book", help="print a symbol's order book from the running engine")
    bk.add_argument("symbol", help="symbol, e.g. BTCUSDT")
    bk.add_argument("--depth", type=int, default=10, help="levels per side (1-20)")
    bk.add_argument("--json", action="store_true", help="machine-readable output")

    from hftui.bench_suite import add_bench_parser

    add_bench_parser(sub)

    from hftui.cli_trading import add_trading_parsers

    add_trading_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hftui` console script."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`hftui book --json | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    args = _build_parser().parse_args(argv)
    command = args.command
    if command == "exchange":
        return _cmd_exchange(args)
    if command == "bench":  # needs no config: it measures code, not a venue
        from hftui.bench import run_bench

        return run_bench(args)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _fail(f"config error: {exc}", 2)
    if command == "engine":
        return _cmd_engine(config, args.config)
    if command == "status":
        return _cmd_status(config, args.json)
    if command == "book":
        return _cmd_book(config, args.symbol.upper(), args.depth, args.json)
    if command == "attach":
        return _cmd_attach(config, args.config)
    if command == "record":
        return _cmd_record(config, args)
    if command == "replay":
        return _cmd_replay(args)
    if command == "backtest":
        from hftui.backtest.command import run_command

        return run_command(config, args)
    trading = ("kill", "rearm", "mode", "order", "orders", "keys", "risk", "market", "strategy")
    if command in trading:
        from hftui.cli_trading import run_trading_command

        return run_trading_command(config, args)
    return _cmd_launch(config, args.config)


# ---- exchange and engine --------------------------------------------------------------------


def _cmd_exchange(args: argparse.Namespace) -> int:
    from hftui.exchange.main import (
        ExchangeConfig,
        MarketParams,
        parse_account,
        read_accounts_file,
        run,
    )
    from hftui.logs import setup_logging

    try:
        accounts = tuple(parse_account(a) for a in args.account)
        if args.accounts_file is not None:
            accounts += read_accounts_file(args.accounts_file)
        symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
        config = ExchangeConfig(
            host=args.host,
            port=args.port,
            symbols=symbols,
            seed=args.seed,
            accounts=accounts,
            ready_file=args.ready_file,
            funding_interval_s=args.funding_interval,
            replay=args.replay,
            replay_speed=args.speed,
            market=MarketParams(
                volatility_bp=args.volatility,
                trend_bp=args.trend,
                spread_ticks=args.spread,
                bursts=args.bursts,
                activity=args.activity,
            ),
        )
        config.validate()
    except ValueError as exc:
        return _fail(str(exc), 2)
    setup_logging("exchange")
    try:
        status: int = run(config)
        return status
    except ValueError as exc:
        return _fail(str(exc), 2)
    except OSError as exc:
        return _fail(f"cannot serve on {args.host}:{args.port}: {exc}", 1)


def _cmd_engine(config: Config, config_path: Path | None) -> int:
    from hftui.engine.main import EngineAlreadyRunningError, run_engine
    from hftui.logs import setup_logging

    setup_logging("engine", config.logging.level, config.logging.max_bytes, config.logging.backups)
    try:
        return run_engine(config, config_path)
    except EngineAlreadyRunningError as exc:
        return _fail(str(exc), 1)


def _symbols_arg(text: str) -> tuple[str, ...]:
    return tuple(s.strip().upper() for s in text.split(",") if s.strip())


def _cmd_record(config: Config, args: argparse.Namespace) -> int:
    import asyncio

    from hftui.engine.local_venue import LocalExchangeError
    from hftui.engine.record import record
    from hftui.logs import setup_logging

    setup_logging("record", config.logging.level)
    symbols = _symbols_arg(args.symbols) or config.market.symbols
    if args.seconds is not None and args.seconds <= 0:
        return _fail("--seconds must be positive", 2)
    try:
        lines, files = asyncio.run(record(config, symbols, args.out, args.seconds))
    except (LocalExchangeError, OSError) as exc:
        return _fail(f"recording failed: {exc}")
    print(f"recorded {lines} lines of {', '.join(symbols)} into {len(files)} file(s) in {args.out}")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from hftui.engine.replay import replay

    try:
        report = replay(args.data, _symbols_arg(args.symbols))
    except (FileNotFoundError, ValueError) as exc:
        return _fail(str(exc), 2)
    doc = report.as_dict()
    if args.json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(
        f"replayed {doc['frames']} frames and {doc['snapshots']} snapshots "
        f"({doc['recorded_span_s']} s recorded) in {doc['seconds']} s: "
        f"{doc['frames_per_s']} frames/s, {doc['bad_frames']} bad"
    )
    for name, s in report.symbols.items():
        print(
            f"{name:<10} synced {s['synced']}  id {s['last_update_id']}  bid {s['best_bid']}  "
            f"ask {s['best_ask']}  gaps {s['gaps']}  resyncs {s['resyncs']}  trades {s['trades']}"
        )
    return 0


# ---- reading the running engine -------------------------------------------------------------


def _open_reader(config: Config) -> tuple[InstanceInfo, SnapshotReader] | None:
    from hftui.ipc import RegionError, SnapshotReader

    info = find_running(config.engine.instance)
    if info is None:
        return None
    try:
        return info, SnapshotReader(info.shm)
    except RegionError:
        return None


def status_document(config: Config) -> dict[str, object]:
    """The `status --json` document (see README for the fields)."""
    from hftui.protocol import FeedState, Mode, decode_text, format_units

    opened = _open_reader(config)
    if opened is None:
        return {"running": False, "instance": config.engine.instance}
    info, reader = opened
    try:
        header = reader.header()
        now = time.time_ns()
        symbols: dict[str, object] = {}
        for i in range(int(header["n_symbols"])):
            s = reader.symbol(i)
            pd = int(s["price_decimals"])
            recv = int(s["recv_ns"])
            symbols[decode_text(s["symbol"])] = {
                "synced": bool(s["synced"]),
                "feed_state": FeedState(int(s["feed_state"])).label,
                "best_bid": format_units(int(s["best_bid"]), pd) if s["best_bid"] >= 0 else None,
                "best_ask": format_units(int(s["best_ask"]), pd) if s["best_ask"] >= 0 else None,
                "last_update_id": int(s["last_update_id"]),
                "age_s": round((now - recv) / 1e9, 3) if recv else None,
                "msgs_total": int(s["msgs_total"]),
                "gaps": int(s["gaps"]),
                "resyncs": int(s["resyncs"]),
                "top_mismatches": int(s["top_mismatches"]),
                "verify_runs": int(s["verify_runs"]),
                "verify_mismatches": int(s["verify_mismatches"]),
                "mark_price": float(s["mark_price"]) or None,
                "funding_rate": float(s["funding_rate"]),
                "next_funding_ms": int(s["next_funding_ms"]) or None,
                "position": format_units(int(s["position"]), int(s["qty_decimals"])),
                "entry_price": format_units(int(s["entry_price"]), pd)
                if s["entry_price"]
                else None,
                "realized": round(float(s["realized"]), 8),
                "unrealized": round(float(s["unrealized"]), 8),
                "fees": round(float(s["fees"]), 8),
                "funding": round(float(s["funding"]), 8),
                "open_orders": int(s["open_orders"]),
            }
        heartbeat_age = (now - int(header["heartbeat_ns"])) / 1e9
        parts = _components(config, info, reader, header, now)
        return {
            "running": True,
            "instance": info.instance,
            "engine_pid": int(header["engine_pid"]),
            "engine_alive": pid_alive(info.pid) and heartbeat_age < 2.0,
            "heartbeat_age_s": round(heartbeat_age, 3),
            "uptime_s": round((now - int(header["started_ns"])) / 1e9, 1),
            "venue": decode_text(header["venue"]),
            "venue_url": decode_text(header["venue_url"]),
            "stream_url": decode_text(header["stream_url"]),
            "metrics_url": info.metrics_url,
            "mode": Mode(int(header["mode"])).label,
            "killed": bool(header["killed"]),
            "stopping": bool(header["stopping"]),
            "ws_connected": bool(header["ws_connected"]),
            "msgs_total": int(header["msgs_total"]),
            "msgs_per_s": round(float(header["msgs_per_s"]), 1),
            "bad_frames": int(header["bad_frames"]),
            "reconnects": int(header["reconnects"]),
            "kill": _kill_document(header),
            "dead_man": _dead_man_document(header, now),
            "reconcile": {
                "last_age_s": round((now - int(header["reconciled_ns"])) / 1e9, 3)
                if header["reconciled_ns"]
                else None,
                "runs": int(header["reconcile_runs"]),
                "mismatches": int(header["reconcile_mismatches"]),
            },
            "has_keys": bool(header["has_keys"]),
            "open_orders": int(header["open_orders"]),
            "orders_sent": int(header["orders_sent"]),
            "refusals": int(header["refusals"]),
            "would_send": int(header["would_send"]),
            "weight_used": round(float(header["weight_used"]), 4),
            "tick_to_order": {
                "p50_us": round(int(header["t2o_p50_ns"]) / 1e3, 1),
                "p99_us": round(int(header["t2o_p99_ns"]) / 1e3, 1),
                "samples": int(header["t2o_samples"]),
            },
            "pnl": {
                "realized": round(float(header["realized"]), 8),
                "unrealized": round(float(header["unrealized"]), 8),
                "fees": round(float(header["fees"]), 8),
                "funding": round(float(header["funding"]), 8),
                "daily": round(float(header["daily_pnl"]), 8),
            },
            "balance": _balance_document(header),
            "symbols": symbols,
            "ready": all(part["ready"] for part in parts.values()),
            "components": parts,
        }
    finally:
        reader.close()


def _components(
    config: Config, info: InstanceInfo, reader: SnapshotReader, header: np.void, now: int
) -> dict[str, Component]:
    from hftui.status_components import components

    n = int(header["n_symbols"])
    return components(
        header,
        [reader.symbol(i) for i in range(n)],
        reader.strategies(),
        now,
        pid_alive=pid_alive(info.pid),
        metrics_url=info.metrics_url,
        metrics_enabled=config.metrics.enabled,
    )


def _balance_document(header: np.void) -> dict[str, object] | None:
    # The live USDT wallet as the venue stated it; None before the engine has read it.
    at_ms = int(header["balance_ms"])
    if not at_ms:
        return None
    available = float(header["available_balance"])
    return {
        "asset": "USDT",
        "wallet": round(float(header["wallet_balance"]), 8),
        "available": round(available, 8) if available >= 0 else None,
        "at": _iso(at_ms * 1_000_000),
    }


def _kill_document(header: np.void) -> dict[str, object]:
    from hftui.protocol import decode_text

    killed_ns = int(header["killed_ns"])
    sent, zero = int(header["kill_sent_ns"]), int(header["kill_zero_open_ns"])
    return {
        "killed": bool(header["killed"]),
        "reason": decode_text(header["kill_reason"]) or None,
        "at": _iso(killed_ns) if killed_ns else None,
        "flatten": bool(header["kill_flatten"]),
        # Timings of the last kill this engine ran, from the key press.
        "cancels_sent_ms": round(sent / 1e6, 3) if sent else None,
        "zero_open_ms": round(zero / 1e6, 3) if zero else None,
        "left_open": int(header["kill_left_open"]) if zero else None,
    }


def _dead_man_document(header: np.void, now_ns: int) -> dict[str, object]:
    # The policy in force and the controlling TUI (None while no TUI controls the engine).
    pid, beat = int(header["tui_pid"]), int(header["tui_heartbeat_ns"])
    return {
        "policy": "cancel" if header["dead_man_cancel"] else "keep",
        "after_s": int(header["dead_man_after_ms"]) / 1000,
        "tui_pid": pid or None,
        "tui_heartbeat_age_s": round((now_ns - beat) / 1e9, 3) if pid and beat else None,
    }


def _iso(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}Z"


def _cmd_status(config: Config, as_json: bool) -> int:
    doc = status_document(config)
    if as_json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return 0 if doc["running"] else 1
    if not doc["running"]:
        return _fail(f"no engine running (instance {config.engine.instance!r})")
    alive = "up" if doc["engine_alive"] else "NOT RESPONDING"
    print(f"engine   pid {doc['engine_pid']}  {alive}  uptime {doc['uptime_s']}s")
    print(f"venue    {doc['venue']}  {doc['venue_url']}")
    print(f"metrics  {doc['metrics_url'] or 'off'}")
    print(f"mode     {str(doc['mode']).upper()}{'  KILLED' if doc['killed'] else ''}")
    kill = doc["kill"]
    if isinstance(kill, dict) and kill["killed"]:
        print(f"kill     {kill['reason']} at {kill['at']}  (`hftui rearm` to re-arm)")
    pnl = doc["pnl"]
    if isinstance(pnl, dict):
        print(
            f"orders   {doc['open_orders']} open  {doc['orders_sent']} sent  "
            f"{doc['refusals']} refused  {doc['would_send']} would send"
        )
        print(
            f"pnl      {pnl['daily']:+.2f} today  realized {pnl['realized']:+.2f}  "
            f"unrealized {pnl['unrealized']:+.2f}  fees {pnl['fees']:.2f}  "
            f"funding {pnl['funding']:+.2f} USDT"
        )
    balance = doc["balance"]
    if isinstance(balance, dict):
        available = balance["available"]
        print(
            f"wallet   {balance['wallet']:,.2f} USDT  available "
            f"{'-' if available is None else f'{available:,.2f}'}  (venue, {balance['at']})"
        )
    print(
        f"feed     {doc['msgs_per_s']} msgs/s  bad frames {doc['bad_frames']}  "
        f"reconnects {doc['reconnects']}"
    )
    symbols = doc["symbols"]
    for name, s in symbols.items() if isinstance(symbols, dict) else ():
        print(
            f"{name:<10} {s['feed_state']:<8} bid {s['best_bid'] or '-':>12}  "
            f"ask {s['best_ask'] or '-':>12}  id {s['last_update_id']}  "
            f"gaps {s['gaps']} resyncs {s['resyncs']}"
        )
    _print_components(doc)
    return 0


def _print_components(doc: dict[str, object]) -> None:
    # One line each: ready, "-" (not in use), NOT READY (up but cannot serve), DOWN.
    parts = doc["components"]
    if not isinstance(parts, dict):
        return
    waiting = ", ".join(name for name, part in parts.items() if not part["ready"])
    print(f"ready    {'yes' if doc['ready'] else f'NO ({waiting})'}")
    for name, part in parts.items():
        live, ready = part["live"], part["ready"]
        word = ("ready" if live else "-") if ready else ("NOT READY" if live else "DOWN")
        print(f"  {name:<12} {word:<9}  {part['detail']}")


def book_document(config: Config, symbol: str, depth: int) -> dict[str, object] | str:
    """The `book --json` document, or an error message."""
    from hftui.protocol import decode_text, format_units

    opened = _open_reader(config)
    if opened is None:
        return f"no engine running (instance {config.engine.instance!r})"
    _, reader = opened
    try:
        header = reader.header()
        names = []
        for i in range(int(header["n_symbols"])):
            s = reader.symbol(i)
            name = decode_text(s["symbol"])
            names.append(name)
            if name != symbol:
                continue
            pd, qd = int(s["price_decimals"]), int(s["qty_decimals"])
            nb, na = min(depth, int(s["n_bids"])), min(depth, int(s["n_asks"]))
            return {
                "symbol": symbol,
                "synced": bool(s["synced"]),
                "last_update_id": int(s["last_update_id"]),
                "bids": [
                    [format_units(int(s["bid_px"][k]), pd), format_units(int(s["bid_qty"][k]), qd)]
                    for k in range(nb)
                ],
                "asks": [
                    [format_units(int(s["ask_px"][k]), pd), format_units(int(s["ask_qty"][k]), qd)]
                    for k in range(na)
                ],
            }
        return f"symbol {symbol} is not traded by the engine; it has: {', '.join(names)}"
    finally:
        reader.close()


def _cmd_book(config: Config, symbol: str, depth: int, as_json: bool) -> int:
    from hftui.protocol import BOOK_DEPTH

    if not 1 <= depth <= BOOK_DEPTH:
        return _fail(f"--depth {depth} is not allowed: expected 1 to {BOOK_DEPTH}", 2)
    doc = book_document(config, symbol, depth)
    if isinstance(doc, str):
        return _fail(doc, 1)
    if as_json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return 0
    bids = doc["bids"] if isinstance(doc["bids"], list) else []
    asks = doc["asks"] if isinstance(doc["asks"], list) else []
    state = "synced" if doc["synced"] else "NOT SYNCED"
    print(f"{symbol}  last update id {doc['last_update_id']}  {state}")
    for price, qty in reversed(asks):
        print(f"  ask {price:>14} {qty:>12}")
    print("  " + "-" * 31)
    for price, qty in bids:
        print(f"  bid {price:>14} {qty:>12}")
    return 0


# ---- the TUI --------------------------------------------------------------------------------


def _spawn_engine(config_path: Path | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "hftui"]
    if config_path is not None:
        command += ["--config", str(config_path)]
    command.append("engine")
    err_path = logs_dir() / "engine.stderr"
    fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        # A session of its own: the engine must not receive the terminal's Ctrl+C or hangup.
        return subprocess.Popen(  # noqa: S603 - our own program
            command,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)


def _wait_for_engine(config: Config, process: subprocess.Popen[bytes]) -> InstanceInfo | str:
    deadline = time.monotonic() + _ENGINE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        status = process.poll()
        if status is not None:
            return (
                f"the engine exited with status {status} while starting; see "
                f"{logs_dir() / 'engine.log'} and {logs_dir() / 'engine.stderr'}"
            )
        info = find_running(config.engine.instance)
        if info is not None and info.pid == process.pid:
            return info
        time.sleep(0.02)
    stop_engine(process.pid)
    return f"the engine did not start within {_ENGINE_START_TIMEOUT_S:.0f}s"


def stop_engine(pid: int, timeout_s: float = _ENGINE_STOP_TIMEOUT_S) -> bool:
    """SIGTERM the engine and wait; SIGKILL it if it does not stop. True if it stopped cleanly."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not pid_alive(pid):
            return True
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return False


def _run_tui(
    config: Config, info: InstanceInfo, spawned: bool, config_path: Path | None = None
) -> int:
    """The TUI over `info`'s engine, for as long as the trader keeps it: when the engine is
    lost, the TUI's choice starts a new one (restart) or opens the one running now."""
    while True:
        choice = _tui_session(config, info, spawned)
        if choice not in ("restart", "reattach"):
            _after_tui(config, info, spawned, choice)
            return 0
        running = find_running(config.engine.instance)
        if running is not None:  # never two engines of one instance
            info, spawned = running, False
            continue
        if choice == "reattach":
            return _fail(f"no engine running (instance {config.engine.instance!r}); run `hftui`")
        print("hftui: starting a new engine…", file=sys.stderr)
        process = _spawn_engine(config_path)
        waited = _wait_for_engine(config, process)
        if isinstance(waited, str):
            return _fail(waited)
        info, spawned = waited, True


def _tui_session(config: Config, info: InstanceInfo, spawned: bool) -> str | None:
    from hftui.app import HftuiApp
    from hftui.link import EngineLink
    from hftui.logs import setup_logging
    from hftui.remote import EngineControl, RingError

    setup_logging("tui", config.logging.level, config.logging.max_bytes, config.logging.backups)
    link = EngineLink.open(info)
    try:
        control: EngineControl | None = EngineControl(info)
    except RingError as exc:  # the TUI still shows the engine; its keys say why they can't act
        log.warning("no command channel to the engine: %s", exc)
        control = None
    app = HftuiApp(
        link,
        spawned=spawned,
        refresh_hz=config.tui.refresh_hz,
        symbols_hint=config.market.symbols,
        control=control,
        instance=config.engine.instance,
    )
    # SIGTERM ends the TUI and an engine this TUI started. A hangup (a dropped SSH session)
    # ends the TUI only: the engine outlives it and its dead-man policy decides what its
    # orders do, unless it is a demo on the local exchange it started itself, which nobody
    # is left to use. An engine this TUI attached to keeps running either way.
    watchdog: list[threading.Timer] = []
    demo = config.venue.name == "local" and not config.venue.url

    def hang_up() -> None:
        # The terminal is gone: there is nothing to restore, and Textual's shutdown can block
        # writing to it. Leave at once and touch no lock on the way (a signal handler may
        # have interrupted the thread holding one). The engine's log says what followed.
        if spawned and demo:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGTERM)  # the engine shuts itself down in order
        os._exit(128 + signal.SIGHUP)

    def on_signal(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            hang_up()
        if spawned:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGTERM)
        log.warning("TUI got %s", signal.Signals(signum).name)
        app.call_later(app.exit, "stop" if spawned else "leave")
        # Never outlive a SIGTERM by more than a few seconds, whatever the UI is doing.
        timer = threading.Timer(5.0, os._exit, args=(128 + signum,))
        timer.daemon = True
        timer.start()
        watchdog.append(timer)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    # Not every hangup brings a SIGHUP (`make demo` in a tmux pane that is killed: make is
    # the session leader and forwards nothing), and Textual's input thread then spins on the
    # dead terminal: a TUI nobody can see would hold control and a core. Look for it.
    if sys.stdin.isatty():
        threading.Thread(
            target=_watch_terminal, args=(sys.stdin.fileno(), hang_up), daemon=True
        ).start()
    try:
        choice = app.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for timer in watchdog:
            timer.cancel()
        link.close()
        if control is not None:
            control.close()
    return choice


def _after_tui(config: Config, info: InstanceInfo, spawned: bool, choice: str | None) -> None:
    """Stop the engine or leave it running, as the trader chose on quitting."""
    if choice is None:  # the app ended without a choice (e.g. a crash): be conservative
        choice = "stop" if spawned else "leave"
    if choice == "stop":
        print("hftui: stopping the engine…", file=sys.stderr)
        if not stop_engine(info.pid):
            print("hftui: the engine did not stop in time and was killed", file=sys.stderr)
        find_running(config.engine.instance)  # clears what a killed engine left behind
    elif find_running(config.engine.instance) is None:  # also clears what a dead one left
        print(
            f"hftui: the engine (pid {info.pid}) is no longer running; `hftui` starts a new one",
            file=sys.stderr,
        )
    else:
        print(
            f"hftui: engine left running (pid {info.pid}); `hftui attach` reopens it",
            file=sys.stderr,
        )


def _watch_terminal(fd: int, hang_up: Callable[[], None], every_s: float = 1.0) -> None:
    """Call `hang_up` once `fd` stops being a terminal (a hung-up tty answers EIO)."""
    while os.isatty(fd):
        time.sleep(every_s)
    hang_up()


def _cmd_attach(config: Config, config_path: Path | None) -> int:
    info = find_running(config.engine.instance)
    if info is None:
        return _fail(f"no engine running (instance {config.engine.instance!r}); run `hftui`")
    return _run_tui(config, info, spawned=False, config_path=config_path)


def _cmd_launch(config: Config, config_path: Path | None) -> int:
    info = find_running(config.engine.instance)
    if info is not None:
        return _run_tui(config, info, spawned=False, config_path=config_path)
    print("hftui: starting the engine…", file=sys.stderr)
    process = _spawn_engine(config_path)
    waited = _wait_for_engine(config, process)
    if isinstance(waited, str):
        return _fail(waited)
    return _run_tui(config, waited, spawned=True, config_path=config_path)
