"""Backtest reports: the files (report.json, equity.csv, fills.csv), the text summary and the
terminal plot.

Standard library and orjson only, so the TUI can load and show a report without the engine.
`report.json` has every figure; its `timing` block is the only part that depends on the
machine (the rest is the same for the same data, strategy, parameters and seed).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import orjson

from hftui.backtest.chart import braille_chart

__all__ = [
    "EQUITY_HEADER",
    "FILLS_HEADER",
    "load_report",
    "plot_lines",
    "summary_lines",
    "write_report",
]

FILLS_HEADER: Final = (
    "time_ms",
    "client_id",
    "symbol",
    "side",
    "qty",
    "price",
    "notional_usdt",
    "fee_usdt",
    "liquidity",
)
EQUITY_HEADER: Final = ("time_ms", "elapsed_s", "equity_usdt", "drawdown_usdt")


def _private_file(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


def write_report(
    out: Path,
    report: dict[str, object],
    fills: Sequence[Sequence[object]],
    equity: Sequence[tuple[int, float, float]],
) -> list[Path]:
    """Write the three files into `out` (created owner-only); returns their paths."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = [out / "report.json", out / "equity.csv", out / "fills.csv"]
    with os.fdopen(_private_file(paths[0]), "wb") as handle:
        handle.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    start = equity[0][0] if equity else 0
    with os.fdopen(_private_file(paths[1]), "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EQUITY_HEADER)
        for ms, value, dd in equity:
            writer.writerow((ms, f"{(ms - start) / 1000:.3f}", f"{value:.6f}", f"{dd:.6f}"))
    with os.fdopen(_private_file(paths[2]), "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FILLS_HEADER)
        writer.writerows(fills)
    return paths


def load_report(path: Path) -> dict[str, object]:
    """A report.json (or the directory holding one).

    Raises:
        OSError: unreadable. ValueError: not a backtest report.
    """
    if path.is_dir():
        path = path / "report.json"
    doc = orjson.loads(path.read_bytes())
    if not isinstance(doc, dict) or not isinstance(doc.get("summary"), dict):
        raise ValueError(f"{path} is not a backtest report")
    return doc


def _money(value: object) -> str:
    return f"{value:+,.4f}" if isinstance(value, int | float) else "n/a"


def summary_lines(report: dict[str, object]) -> list[str]:
    """The summary as aligned text lines."""
    s: dict[str, object] = report["summary"]  # type: ignore[assignment]
    data: dict[str, object] = report.get("data", {})  # type: ignore[assignment]
    if data.get("kind") == "synthetic":
        where = f"synthetic, seed {data.get('seed')}, {data.get('duration_s')} s"
    else:
        where = f"recording {data.get('path')}"
    sharpe = s.get("sharpe_like")
    sharpe_text = (
        f"{sharpe['daily']:.2f} daily ({sharpe['per_interval']:.4f} per interval)"
        if isinstance(sharpe, dict)
        else "n/a (flat equity)"
    )
    ratio = s.get("fill_ratio")
    ended = s.get("orders_ended") or {}
    refused = s.get("risk_refusals") or {}
    rows = [
        ("strategy", f"{report.get('strategy')} on {', '.join(report.get('symbols', []))}"),  # type: ignore[arg-type]
        ("data", f"{where}; {report.get('span_s')} s simulated"),
        ("orders", f"{s.get('orders')}  ended {_counts(ended)}"),
        ("risk refusals", _counts(refused) or "none"),
        (
            "fills",
            f"{s.get('fills')} ({s.get('maker_fills')} maker) on {s.get('filled_orders')} orders; "
            f"fill ratio {ratio:.1%}"
            if isinstance(ratio, float)
            else f"{s.get('fills')}",
        ),
        ("round trips", str(s.get("round_trips"))),
        (
            "turnover",
            f"{s.get('turnover_usdt'):,.2f} USDT  volume {_counts(s.get('volume') or {})}",
        ),
        ("fees", _money(s.get("fees_usdt"))),
        ("funding", f"{_money(s.get('funding_usdt'))}  ({s.get('funding_note')})"),
        ("realized", _money(s.get("realized_usdt"))),
        ("unrealized", _money(s.get("unrealized_usdt"))),
        ("net P&L", f"{_money(s.get('net_pnl_usdt'))} USDT"),
        ("max drawdown", f"{_money(-float(s.get('max_drawdown_usdt') or 0.0))} USDT"),  # type: ignore[arg-type]
        ("Sharpe-like", sharpe_text),
        ("positions", _counts(s.get("positions") or {})),
    ]
    if s.get("stopped"):
        rows.append(("stopped", str(s["stopped"])))
    timing = report.get("timing")
    if isinstance(timing, dict):
        rows.append(
            (
                "speed",
                f"{timing.get('events')} events in {timing.get('seconds')} s: "
                f"{timing.get('events_per_s')} events/s "
                f"({timing.get('engine_events_per_s')} without generating the data)",
            )
        )
    return [f"{name:<14}{value}" for name, value in rows]


def _counts(mapping: object) -> str:
    if not isinstance(mapping, dict):
        return ""
    return "  ".join(f"{k} {v}" for k, v in mapping.items())


def plot_lines(
    equity: Sequence[tuple[int, float, float]], width: int = 64, height: int = 6
) -> list[str]:
    """Equity and drawdown as braille charts with their ranges."""
    if len(equity) < 2:
        return ["(too short to plot)"]
    out = []
    for title, values in (
        ("equity", [v for _, v, _ in equity]),
        ("drawdown", [d for _, _, d in equity]),
    ):
        low, high = min(values), max(values)
        chart = braille_chart(values, width, height)
        out.append(f"{title} (USDT), {len(values)} points")
        for k, line in enumerate(chart):
            label = (
                f"{high:>+11.4f} " if k == 0 else f"{low:>+11.4f} " if k == height - 1 else " " * 12
            )
            out.append(f"{label}│{line}")
    return out
