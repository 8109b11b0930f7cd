"""`hftui backtest`: its arguments, the progress bar and the printed report.

Imports of the engine happen inside `run_command`, so building the CLI's parser stays cheap.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from hftui.config import Config

__all__ = ["add_parser", "run_command"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bt = sub.add_parser(
        "backtest",
        help="run a strategy over recorded or synthetic data through the engine's pipeline",
    )
    bt.add_argument("--strategy", required=True, help="strategy name, e.g. momentum")
    data = bt.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", type=Path, help="a directory made by `hftui record`")
    data.add_argument(
        "--synthetic", action="store_true", help="the local exchange's synthetic market"
    )
    bt.add_argument("--seed", type=int, default=1, help="synthetic market seed (default 1)")
    bt.add_argument("--symbols", default="", help="comma-separated (default: config / recorded)")
    bt.add_argument("--duration", type=float, default=600.0, help="synthetic seconds (default 600)")
    bt.add_argument(
        "--funding-interval",
        type=float,
        default=8 * 3600.0,
        metavar="SECONDS",
        help="synthetic funding period (default 8 h)",
    )
    bt.add_argument(
        "--params", nargs="*", default=[], metavar="K=V", help="strategy parameter overrides"
    )
    bt.add_argument("--out", type=Path, help="report directory (default: under the data dir)")
    bt.add_argument(
        "--json", action="store_true", help="print the report as JSON (no progress bar)"
    )


def _fail(message: str, status: int) -> int:
    sys.stderr.write(f"hftui: {message}\n")
    return status


class _Progress:
    """A one-line bar on stderr, redrawn at most ten times a second."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.drawn = 0.0

    def __call__(self, fraction: float | None, frames: int) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.1:
            return
        self.drawn = now
        rate = frames / max(now - self.started, 1e-9)
        if fraction is None:
            text = f"\r{frames:>10,} events  {rate:>9,.0f}/s"
        else:
            done = max(0.0, min(1.0, fraction))
            bar = "█" * int(done * 30)
            text = f"\r[{bar:<30}] {done:6.1%}  {frames:>10,} events  {rate:>9,.0f}/s"
        sys.stderr.write(text)
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\r" + " " * 72 + "\r")
        sys.stderr.flush()


def _default_out(strategy: str, data: str) -> Path:
    from hftui.paths import data_dir

    return data_dir() / "backtests" / f"{strategy}-{data}"


def run_command(config: Config, args: argparse.Namespace) -> int:
    from hftui.backtest.report import plot_lines, summary_lines, write_report
    from hftui.backtest.runner import BacktestError, RecordingSource, Source, run_backtest
    from hftui.backtest.synthetic import SyntheticSource

    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    overrides: dict[str, str] = {}
    for item in args.params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            return _fail(f"--params takes KEY=VALUE, not {item!r}", 2)
        overrides[key.strip()] = value.strip()
    source: Source
    try:
        if args.synthetic:
            source = SyntheticSource(
                symbols or config.market.symbols,
                args.seed,
                args.duration,
                funding_interval_s=args.funding_interval,
            )
            label = f"synthetic-seed{args.seed}"
        else:
            source = RecordingSource(args.data)
            label = args.data.resolve().name
    except (ValueError, FileNotFoundError) as exc:
        return _fail(str(exc), 2)
    progress = _Progress() if not args.json and sys.stderr.isatty() else None
    try:
        report, fills, equity = run_backtest(
            config, args.strategy, source, overrides, symbols, progress
        )
    except (BacktestError, FileNotFoundError) as exc:
        return _fail(str(exc), 2)
    finally:
        if progress is not None:
            progress.close()
    out = args.out or _default_out(args.strategy, label)
    try:
        write_report(out, report, fills, equity)
    except OSError as exc:
        return _fail(f"cannot write the report to {out}: {exc}", 1)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    lines = [*summary_lines(report), "", *plot_lines(equity)]
    lines.append(f"\nreport.json, equity.csv and fills.csv in {out}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
