"""The benchmark suite behind `hftui bench`: every figure beside its baseline, one run.

Each benchmark here drives the measuring functions of a script in `benchmarks/` (the scripts
stay runnable on their own and print more detail) and reduces its figures to rows of
benchmark | figure | ours | baseline | ratio | goal, where `ratio` is always ours / baseline
in the figure's unit (`better` says which way is good). The kill switch, the engine's cold
start and its memory share one local exchange and one engine when run together.

Runs are appended as one JSON line each to `$XDG_DATA_HOME/hftui/bench/results.jsonl`, so
`hftui bench compare` can set the last runs side by side. This module imports nothing heavy
at load time: the CLI builds its parser from it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import platform
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final, TextIO

__all__ = [
    "SUITE",
    "Figure",
    "add_bench_parser",
    "compare_runs",
    "results_path",
    "run_compare",
    "run_suite",
]

REPO: Final = Path(__file__).resolve().parents[1]
BENCH_DIR: Final = REPO / "benchmarks"
META_KEYS: Final = ("machine", "commit", "when", "quick")
INGEST_GOAL_MSGS_S: Final = 1_500_000.0  # per core, in process (<= 650 ns per message)


@dataclass(frozen=True, slots=True)
class Figure:
    """One row: our figure, the baseline's in the same run (None: there is none), and an
    optional goal in the same unit (an upper bound when lower is better, else a lower one)."""

    name: str
    ours: float
    baseline: float | None
    unit: str
    better: str = "lower"
    goal: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        return self.ours <= self.goal if self.better == "lower" else self.ours >= self.goal

    def as_dict(self) -> dict[str, object]:
        ratio = self.ratio
        doc: dict[str, object] = {
            "ours": _round(self.ours),
            "baseline": None if self.baseline is None else _round(self.baseline),
            "ratio": None if ratio is None else round(ratio, 4),
            "unit": self.unit,
            "better": self.better,
            "goal": self.goal,
            "met": self.met,
        }
        if self.note:
            doc["note"] = self.note
        return doc


def _round(value: float) -> float:
    return float(f"{value:.4g}") if abs(value) < 1000 else round(value, 1)


@dataclass
class Context:
    """What the benchmarks of one run share: the size of the run and, started on first use,
    one local exchange with an engine on it."""

    quick: bool
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _session: Any = None

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()  # the engine and the exchange, if started

    def session(self) -> Any:
        if self._session is None:
            self._session = self.stack.enter_context(_module("bench_kill").engine_session())
        return self._session


def _module(name: str) -> ModuleType:
    """A script of `benchmarks/`, imported (they import each other by their file names)."""
    if not BENCH_DIR.is_dir():
        raise RuntimeError(f"{BENCH_DIR} not found: the suite runs from a source checkout")
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    return importlib.import_module(name)


# ---- the benchmarks -------------------------------------------------------------------------


def _ingest(ctx: Context) -> list[Figure]:
    from hftui.bench import BURST, run_ingest

    report = run_ingest(1_000, 0.0) if ctx.quick else run_ingest()
    ours, base = report.ours, report.baseline
    return [
        Figure(
            "throughput",
            ours.msgs_per_s,
            base.msgs_per_s,
            "msgs/s",
            "higher",
            goal=INGEST_GOAL_MSGS_S,
            note=f"in bursts of {BURST} queued frames, as the receive loop drains them",
        ),
        Figure(
            "throughput, frames alone",
            ours.msgs_per_s_alone,
            base.msgs_per_s_alone,
            "msgs/s",
            "higher",
        ),
        Figure("p50 per message", ours.p50_ns, base.p50_ns, "ns"),
        Figure("p99 per message", ours.p99_ns, base.p99_ns, "ns"),
    ]


def _tick_to_order(ctx: Context) -> list[Figure]:
    import asyncio

    strategy = _module("bench_strategy")
    orders = _module("bench_orders")
    steps = 2_000 if ctx.quick else strategy.STEPS
    decision = strategy.measure("market_maker", "ETHUSDT", strategy.ETH_MID, steps)
    trip = asyncio.run(orders.measure(20 if ctx.quick else orders.ROUNDS))
    note = "no baseline: no plain-Python strategy host to compare with"
    goal_us = strategy.TARGET_P99_NS / 1000
    return [
        Figure("strategy decision p50", decision["p50_ns"] / 1000, None, "us", note=note),
        Figure(
            "strategy decision p99",
            decision["p99_ns"] / 1000,
            None,
            "us",
            goal=goal_us,
            note=note,
        ),
        Figure(
            "routing its intents p50",
            decision["route_p50_ns"] / 1000,
            None,
            "us",
            note="risk and execution, after a hook that made intents; no baseline",
        ),
        Figure(
            "signed order round trip",
            trip["signed_s"] * 1000,
            trip["plain_s"] * 1000,
            "ms",
            note="baseline: unsigned GET /time on the same loopback exchange",
        ),
    ]


def _risk(ctx: Context) -> list[Figure]:
    risk = _module("bench_risk")
    _out, result = risk.run(2_000, 1) if ctx.quick else risk.run()
    ours, base = result["ours"], result["baseline"]
    goal = float(risk.TARGET_P99_NS)
    return [
        Figure("pass p50", ours["pass"]["p50_ns"], base["pass"]["p50_ns"], "ns"),
        Figure("pass p99", ours["pass"]["p99_ns"], base["pass"]["p99_ns"], "ns", goal=goal),
        Figure("refuse p50", ours["refuse"]["p50_ns"], base["refuse"]["p50_ns"], "ns"),
    ]


def _ring(ctx: Context) -> list[Figure]:
    ring = _module("bench_ring")
    rows = ring.run(300 if ctx.quick else 20_000, 50.0)
    ours, pipe = rows["ring, EventReader.poll()"], rows["multiprocessing.Pipe"]
    return [
        Figure("event p50", ours["p50_us"], pipe["p50_us"], "us"),
        Figure("event p99", ours["p99_us"], pipe["p99_us"], "us", goal=ring.GOAL_P99_US),
    ]


def _kill(ctx: Context) -> list[Figure]:
    kill = _module("bench_kill")
    rounds, orders = (1, 1) if ctx.quick else (10, 4)
    result = kill.measure(ctx.session(), rounds, orders)
    ours, base = result["ours"], result["baseline"]
    sent, zero = "key_to_cancels_sent", "key_to_zero_open"
    return [
        Figure(
            "key -> cancels sent p50",
            ours[sent]["p50_ms"],
            base[sent]["p50_ms"],
            "ms",
            goal=kill.GOAL_SENT_MS,
        ),
        Figure(
            "key -> zero open p50",
            ours[zero]["p50_ms"],
            base[zero]["p50_ms"],
            "ms",
            goal=kill.GOAL_ZERO_MS,
        ),
    ]


def _tui(ctx: Context) -> list[Figure]:
    tui = _module("bench_tui")
    frame = tui.frame(10 if ctx.quick else 200)
    cpu = tui.cpu(1.0 if ctx.quick else 10.0)
    table = "baseline: a 20-row rich Table built and printed"
    return [
        Figure(
            "frame p50 (160x48)",
            frame["p50_ms"],
            frame["table_p50_ms"],
            "ms",
            goal=tui.FRAME_GOAL_MS,
            note=table,
        ),
        Figure("frame p99 (160x48)", frame["p99_ms"], frame["table_p99_ms"], "ms", note=table),
        Figure(
            "CPU at 10 Hz",
            cpu["ours_pct"],
            cpu["baseline_pct"],
            "% core",
            goal=tui.CPU_GOAL_PCT,
            note="baseline: a bare Textual app redrawing one line at 10 Hz",
        ),
    ]


def _cold_start(ctx: Context) -> list[Figure]:
    start = _module("bench_start")
    session = ctx.session()  # first: the launch is timed when the session starts
    figures = start.start_figures(1 if ctx.quick else 5)
    bare = figures["python_pass_ms"]
    return [
        Figure("engine launch -> ready", session.ready_ms, bare, "ms"),
        Figure("import hftui.app", figures["import_app_ms"], bare, "ms"),
    ]


def _memory(ctx: Context) -> list[Figure]:
    start = _module("bench_start")
    rss = start.memory(ctx.session(), 0.5 if ctx.quick else 5.0)
    return [Figure("engine RSS", rss["engine_mib"], rss["python_mib"], "MiB")]


Runner = Callable[[Context], list[Figure]]

# In running order: the cold start before anything else uses the engine, memory after it traded.
SUITE: Final[dict[str, tuple[str, Runner]]] = {
    "ingest": ("book ingest vs orjson + sortedcontainers", _ingest),
    "tick-to-order": (
        "strategy decision; routing its intents (risk, execution); signed order round trip",
        _tick_to_order,
    ),
    "risk": ("pre-trade risk check vs a naive Decimal gate", _risk),
    "ring": ("engine -> TUI event latency vs multiprocessing.Pipe", _ring),
    "tui": ("dashboard frame at 160x48 vs a rich Table; CPU at 10 Hz", _tui),
    "cold-start": ("engine launch to ready; import hftui.app; vs python -c pass", _cold_start),
    "kill": ("kill switch vs a bot cancelling order by order", _kill),
    "memory": ("engine RSS after warm-up vs a bare python", _memory),
}
BASELINES: Final = {
    "ingest": "orjson + SortedDict",
    "tick-to-order": "none / GET /time",
    "risk": "naive Decimal gate",
    "ring": "multiprocessing.Pipe",
    "tui": "rich Table / bare app",
    "cold-start": "python -c pass",
    "kill": "cancel one by one",
    "memory": "bare python",
}


# ---- running and reporting ------------------------------------------------------------------


def _commit() -> str | None:
    """The checkout's short commit hash, read from .git without running git."""
    git = REPO / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()[:7]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:7]
    except OSError:
        return None
    return None


def _machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run(names: list[str], quick: bool, err: TextIO) -> tuple[dict[str, Any], bool]:
    """Run `names` in suite order; a benchmark that fails is recorded with its error and the
    others still run. Returns the document and whether every benchmark ran."""
    doc: dict[str, Any] = {}
    ok = True
    with Context(quick) as ctx:
        for name in SUITE:
            if name not in names:
                continue
            err.write(f"bench: {name} ...\n")
            err.flush()
            try:
                doc[name] = {f.name: f.as_dict() for f in SUITE[name][1](ctx)}
            except Exception as exc:  # one broken benchmark must not hide the others
                ok = False
                doc[name] = {"error": f"{type(exc).__name__}: {exc}"}
                err.write(f"bench: {name} failed: {exc}\n")
    doc["machine"] = _machine()
    doc["commit"] = _commit()
    doc["when"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    doc["quick"] = quick
    return doc, ok


def _number(value: object, unit: str) -> str:
    if not isinstance(value, int | float):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}" if abs(value) < 100 else f"{value:.0f} {unit}"


def format_table(doc: dict[str, Any]) -> str:
    """benchmark | figure | ours | baseline | ratio | goal, one row per figure."""
    rows = [("benchmark", "figure", "ours", "baseline", "ratio", "goal")]
    notes: list[str] = []
    for name, figures in _benchmarks(doc):
        if "error" in figures:
            rows.append((name, "FAILED", str(figures["error"])[:60], "", "", ""))
            continue
        for figure, f in figures.items():
            unit = f["unit"]
            ratio = f"{f['ratio']:.2f}x" if f["ratio"] is not None else "-"
            goal = ""
            if f["goal"] is not None:
                sign = "<=" if f["better"] == "lower" else ">="
                goal = f"{sign} {f['goal']:g} {unit} {'ok' if f['met'] else 'MISSED'}"
            base = _number(f["baseline"], unit) if f["baseline"] is not None else "no baseline"
            rows.append((name, figure, _number(f["ours"], unit), base, ratio, goal))
            if f.get("note") and f["note"] not in notes:
                notes.append(f["note"])
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = []
    for k, row in enumerate(rows):
        cells = [
            cell.ljust(widths[i]) if i < 2 or i == 5 else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    m = doc.get("machine", {})
    lines.append("")
    lines.append(
        f"ratio = ours / baseline (below 1 is better where lower is better); "
        f"{m.get('cpus')} CPUs, load {m.get('load_avg')}, Python {m.get('python')}, "
        f"commit {doc.get('commit') or '?'}{', quick run' if doc.get('quick') else ''}"
    )
    lines.extend(f"note: {n}" for n in notes)
    return "\n".join(lines)


def _benchmarks(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, figures in doc.items():
        if name not in META_KEYS and isinstance(figures, dict):
            yield name, figures


def results_path() -> Path:
    """`$XDG_DATA_HOME/hftui/bench/results.jsonl`."""
    from hftui.paths import data_dir

    return data_dir() / "bench" / "results.jsonl"


def save(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(doc, separators=(",", ":")) + "\n")


def run_suite(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`hftui bench [NAME]`: run the suite or one benchmark, print, append to the results."""
    name = getattr(args, "bench", None)
    names = list(SUITE) if name is None else [name]
    doc, ok = run(names, getattr(args, "quick", False), err)
    if getattr(args, "json", False):
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        out.write(format_table(doc) + "\n")
    if not getattr(args, "no_save", False):
        path = Path(args.save) if getattr(args, "save", None) else results_path()
        save(doc, path)
        err.write(f"bench: results appended to {path}\n")
    return 0 if ok else 1


def load_runs(path: Path) -> list[dict[str, Any]]:
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            runs.append(json.loads(line))
    return runs


def compare_runs(runs: list[dict[str, Any]]) -> str:
    """Per figure, each run's value and its ratio to the run before it."""
    keys: list[tuple[str, str, str]] = []
    for run_doc in runs:
        for name, figures in _benchmarks(run_doc):
            for figure, f in figures.items():
                if isinstance(f, dict) and (name, figure, f["unit"]) not in keys:
                    keys.append((name, figure, f["unit"]))
    header = ["benchmark", "figure"] + [
        f"{r.get('commit') or '?'} {str(r.get('when', ''))[5:16]}{' q' if r.get('quick') else ''}"
        for r in runs
    ]
    rows = [header]
    for name, figure, unit in keys:
        row = [name, figure]
        previous: float | None = None
        for run_doc in runs:
            f = run_doc.get(name, {}).get(figure)
            value = f.get("ours") if isinstance(f, dict) else None
            if not isinstance(value, int | float):
                row.append("-")
                previous = None
                continue
            cell = _number(value, unit)
            if previous:
                cell += f" ({value / previous:.2f}x)"
            row.append(cell)
            previous = value
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("(x) = ours in this run / ours in the run before; q = a --quick run")
    return "\n".join(lines)


def run_compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`hftui bench compare [--last N] [--save PATH]`."""
    path = Path(args.save) if getattr(args, "save", None) else results_path()
    if args.last < 1:
        err.write("hftui: --last must be at least 1\n")
        return 2
    if not path.is_file():
        err.write(f"hftui: no saved results at {path}; run `hftui bench` first\n")
        return 1
    runs = load_runs(path)[-args.last :]
    if not runs:
        err.write(f"hftui: no runs in {path}\n")
        return 1
    out.write(compare_runs(runs) + "\n")
    return 0


def list_benchmarks(out: TextIO) -> int:
    from hftui.bench import BENCHMARKS

    out.write("benchmarks (hftui bench [NAME] [--quick] [--json]; no NAME: the whole suite):\n")
    for known, (about, _) in SUITE.items():
        out.write(f"  {known:<14} {about}\n")
    out.write(
        f"\n`hftui bench ingest [--json]` alone keeps its own report: {BENCHMARKS['ingest']}\n"
        "`hftui bench compare [--last N]`: the last saved runs side by side\n"
    )
    return 0


# ---- the CLI's parser -----------------------------------------------------------------------


def _run_options(parser: argparse.ArgumentParser, default: object) -> None:
    # The same options on `bench` and on each name; a name's own defaults are suppressed so
    # `hftui bench --json risk` keeps --json.
    parser.add_argument("--json", action="store_true", default=default, help="one JSON object")
    parser.add_argument(
        "--quick", action="store_true", default=default, help="a short run (tiny sizes)"
    )
    parser.add_argument("--save", metavar="PATH", default=default, help="append results here")
    parser.add_argument(
        "--no-save", action="store_true", default=default, help="do not append the results"
    )


def add_bench_parser(sub: Any) -> None:
    """`hftui bench [NAME] [options]` on the CLI's subcommand parsers."""
    bn = sub.add_parser(
        "bench", help="run the benchmark suite, each figure beside its baseline (see `list`)"
    )
    _run_options(bn, None)
    bench = bn.add_subparsers(dest="bench", metavar="NAME")
    bench.add_parser("list", help="list the benchmarks")
    cmp = bench.add_parser("compare", help="the last saved runs side by side")
    cmp.add_argument("--last", type=int, default=5, help="runs to show (default 5)")
    cmp.add_argument("--save", metavar="PATH", default=argparse.SUPPRESS, help="results file")
    ing = bench.add_parser(
        "ingest", help="book ingest: the engine's path against orjson + SortedDict"
    )
    ing.add_argument("--json", action="store_true", help="machine-readable output")
    ing.add_argument("--messages", type=int, help="diff frames to generate (default 20000)")
    ing.add_argument(
        "--seconds",
        type=float,
        help="measure in rounds for this long, 3 rounds at least (default 5)",
    )
    for name, (about, _) in SUITE.items():
        if name != "ingest":
            _run_options(bench.add_parser(name, help=about), argparse.SUPPRESS)
