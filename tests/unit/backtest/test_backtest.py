"""Backtests: the engine's pipeline on a simulated clock, reproducible from a seed."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from hftui.backtest.chart import braille_chart, sparkline
from hftui.backtest.report import load_report, summary_lines, write_report
from hftui.backtest.runner import BacktestError, RecordingSource, run_backtest
from hftui.backtest.synthetic import SyntheticSource
from hftui.config import Config
from hftui.recording import Recorder
from tests.support.processes import cli, isolated_env

Result = tuple[dict[str, object], list[list[object]], list[tuple[int, float, float]]]


def _run(
    strategy: str, seed: int, duration_s: float = 90.0, funding_s: float = 8 * 3600.0
) -> Result:
    source = SyntheticSource(("BTCUSDT", "ETHUSDT"), seed, duration_s, funding_interval_s=funding_s)
    return run_backtest(Config(), strategy, source)


def _written(result: Result, out: Path) -> dict[str, bytes]:
    """The files' bytes, report.json without its timing block."""
    write_report(out, *result)
    doc = orjson.loads((out / "report.json").read_bytes())
    assert isinstance(doc.pop("timing")["events_per_s"], int)
    return {
        "report.json": orjson.dumps(doc, option=orjson.OPT_SORT_KEYS),
        "equity.csv": (out / "equity.csv").read_bytes(),
        "fills.csv": (out / "fills.csv").read_bytes(),
    }


def _summary(result: Result) -> dict[str, object]:
    summary = result[0]["summary"]
    assert isinstance(summary, dict)
    return summary


@pytest.mark.parametrize("strategy", ["momentum", "market_maker"])
def test_same_seed_gives_identical_results(strategy: str, tmp_path: Path) -> None:
    first = _written(_run(strategy, 5), tmp_path / "a")
    second = _written(_run(strategy, 5), tmp_path / "b")
    assert first == second
    report = orjson.loads(first["report.json"])
    # The run traded, so the comparison covers fills, fees and P&L, not an empty report.
    assert report["summary"]["fills"] > 0
    assert first["fills.csv"].count(b"\n") == report["summary"]["fills"] + 1
    assert report["market"]["bad_frames"] == 0
    assert all(f["synced"] for f in report["market"]["feeds"].values())


def test_another_seed_gives_other_results() -> None:
    a, b = _run("market_maker", 5), _run("market_maker", 6)
    assert a[1] != b[1]
    assert _summary(a)["net_pnl_usdt"] != _summary(b)["net_pnl_usdt"]


def test_pnl_is_consistent_with_the_fills(tmp_path: Path) -> None:
    # Funding every 15 s so that a held position pays or receives some.
    result = _run("market_maker", 9, duration_s=120.0, funding_s=15.0)
    write_report(tmp_path, *result)
    s = _summary(result)
    with (tmp_path / "fills.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert len(rows) == s["fills"]
    # Cash flow and the final position at the final mark, independently of the account's
    # average-cost bookkeeping: realized + unrealized must equal it.
    cash: dict[str, float] = {}
    position: dict[str, float] = {}
    fees = 0.0
    for row in rows:
        sign = 1 if row["side"] == "BUY" else -1
        qty, price = float(row["qty"]), float(row["price"])
        cash[row["symbol"]] = cash.get(row["symbol"], 0.0) - sign * qty * price
        position[row["symbol"]] = position.get(row["symbol"], 0.0) + sign * qty
        fees += float(row["fee_usdt"])
    marks = s["marks"]
    assert isinstance(marks, dict)
    gross = sum(cash[sym] + position[sym] * marks[sym] for sym in cash)
    realized, unrealized = s["realized_usdt"], s["unrealized_usdt"]
    assert isinstance(realized, float)
    assert isinstance(unrealized, float)
    assert realized + unrealized == pytest.approx(gross, abs=1e-4)
    assert s["fees_usdt"] == pytest.approx(fees, abs=1e-5)
    assert "settlement" in str(s["funding_note"])
    funding = s["funding_usdt"]
    assert isinstance(funding, float)
    assert funding != 0.0
    net = realized + unrealized - fees - funding
    assert s["net_pnl_usdt"] == pytest.approx(net, abs=1e-5)
    with (tmp_path / "equity.csv").open() as handle:
        equity = list(csv.DictReader(handle))
    assert float(equity[-1]["equity_usdt"]) == pytest.approx(net, abs=1e-5)
    assert float(equity[0]["equity_usdt"]) == 0.0
    worst = min(float(r["drawdown_usdt"]) for r in equity)
    assert s["max_drawdown_usdt"] == pytest.approx(-worst, abs=1e-6)


def test_a_recording_gives_what_its_live_frames_gave(tmp_path: Path) -> None:
    # Record the synthetic frames with the engine's recorder, then backtest the recording:
    # the same frames through the same pipeline must give the same trading. The recording
    # has two symbols and the backtest takes one: each symbol's market has its own generator,
    # so it matches a synthetic run of that symbol alone.
    source = SyntheticSource(("BTCUSDT", "ETHUSDT"), 11, 60.0)
    recorder = Recorder(tmp_path / "rec")
    for recv_ns, channel, payload in source.frames():
        recorder.write(recv_ns, channel, payload)
    recorder.close()
    assert recorder.files
    recording = RecordingSource(tmp_path / "rec")
    recorded = run_backtest(Config(), "market_maker", recording, symbols=("ETHUSDT",))
    synthetic = run_backtest(Config(), "market_maker", SyntheticSource(("ETHUSDT",), 11, 60.0))
    assert recorded[0]["data"] == {"kind": "recording", "path": str(tmp_path / "rec")}
    assert recorded[0]["symbols"] == ["ETHUSDT"]
    assert recorded[1]  # it traded
    assert recorded[1] == synthetic[1]
    assert _summary(recorded) == _summary(synthetic)
    assert recorded[2] == synthetic[2]
    assert recorded[0]["market"] == synthetic[0]["market"]  # no bad frames from BTCUSDT's


def test_unknown_strategy_and_parameter_are_refused() -> None:
    source = SyntheticSource(("ETHUSDT",), 1, 5.0)
    with pytest.raises(BacktestError, match="no strategy named 'nope'"):
        run_backtest(Config(), "nope", source)
    with pytest.raises(BacktestError, match="no parameter 'speed'"):
        run_backtest(Config(), "market_maker", source, {"speed": "2"})
    with pytest.raises(ValueError, match="not listed"):
        SyntheticSource(("NOPEUSDT",), 1, 5.0)


def test_params_override_the_defaults() -> None:
    source = SyntheticSource(("ETHUSDT",), 1, 20.0)
    report, _, _ = run_backtest(Config(), "market_maker", source, {"qty": "0.020", "gamma": "0.2"})
    params = report["params"]
    assert isinstance(params, dict)
    assert params["qty"] == "0.020"
    assert params["gamma"] == 0.2


def test_cli_backtest_json(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    out = tmp_path / "out"
    args = ["backtest", "--strategy", "market_maker", "--synthetic", "--seed", "3"]
    done = cli([*args, "--duration", "60", "--json", "--out", str(out)], env, timeout_s=90)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar with --json
    doc = orjson.loads(done.stdout)
    assert doc["data"] == {
        "kind": "synthetic",
        "seed": 3,
        "duration_s": 60.0,
        "funding_interval_s": 28800.0,
    }
    assert doc["summary"]["fills"] > 0
    assert doc["timing"]["events"] == doc["market"]["frames"] > 0
    assert load_report(out) == doc
    for name in ("equity.csv", "fills.csv"):
        assert (out / name).stat().st_mode & 0o077 == 0
    # The library gives the same run (timing aside).
    report, _, _ = run_backtest(
        Config(), "market_maker", SyntheticSource(("BTCUSDT", "ETHUSDT"), 3, 60.0)
    )
    report.pop("timing")
    doc.pop("timing")
    assert doc == orjson.loads(orjson.dumps(report))
    text = cli([*args, "--duration", "10", "--out", str(tmp_path / "o2")], env, timeout_s=60)
    assert text.returncode == 0, text.stderr
    assert "net P&L" in text.stdout
    assert "drawdown (USDT)" in text.stdout
    bad = cli(["backtest", "--strategy", "nope", "--synthetic"], env)
    assert bad.returncode == 2
    assert "no strategy named" in bad.stderr


def test_summary_and_charts_render() -> None:
    result = _run("market_maker", 2, duration_s=20.0)
    lines = summary_lines(result[0])
    assert any(line.startswith("net P&L") for line in lines)
    chart = braille_chart([0.0, 1.0, -1.0, 2.0], 10, 3)
    assert len(chart) == 3
    assert all(len(line) == 10 for line in chart)
    assert sparkline([1.0, 2.0, 3.0], 3) == "▁▅█"
    assert sparkline([], 5) == ""
