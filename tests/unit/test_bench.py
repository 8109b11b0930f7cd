"""`hftui bench`: the commands run and print the documented shape. No assertions on speed:
performance is judged from benchmark runs, never from timings inside tests."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from hftui import bench, bench_suite
from hftui.bench import BenchmarkError, percentile
from hftui.cli import main


def test_bench_lists_the_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "list"]) == 0
    out = capsys.readouterr().out
    for name in (*bench.BENCHMARKS, *bench_suite.SUITE, "compare"):
        assert name in out


def test_ingest_json_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", "--json", "--messages", "2000", "--seconds", "0"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    for path in ("ours", "baseline"):
        figures = doc[path]
        assert set(figures) >= {"msgs_per_s", "p50_ns", "p99_ns", "p999_ns", "msgs_per_s_alone"}
        assert figures["msgs_per_s"] > 0
        assert figures["msgs_per_s_alone"] > 0
        assert 0 < figures["p50_ns"] <= figures["p99_ns"] <= figures["p999_ns"]
    assert doc["ratio"] > 0
    assert doc["frames"] == 2000
    assert doc["levels_per_msg"] > 0
    assert doc["rounds"] >= bench.MIN_ROUNDS


def test_ingest_table_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", "--messages", "300", "--seconds", "0"]) == 0
    out = capsys.readouterr().out
    assert "on_frames" in out
    assert "ratio" in out


def test_too_few_messages_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", "--messages", "5"]) == 2
    assert "--messages" in capsys.readouterr().err


def test_books_that_disagree_fail_loudly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = bench.baseline_path

    def skewed(snapshot: bytes) -> bench.Path:
        path = real(snapshot)

        def wrong() -> bench.Book:
            bids, asks = path.book()
            return bids[1:], asks

        return path._replace(book=wrong)

    monkeypatch.setattr(bench, "baseline_path", skewed)
    with pytest.raises(BenchmarkError, match="differ"):
        bench.run_ingest(300, 0)
    monkeypatch.setattr(bench, "baseline_path", skewed)
    assert main(["bench", "ingest", "--messages", "300", "--seconds", "0"]) == 1
    assert "benchmark failed" in capsys.readouterr().err


def test_percentile_is_nearest_rank() -> None:
    ordered = list(range(1, 1001))
    assert percentile(ordered, 0.50) == 500
    assert percentile(ordered, 0.99) == 990
    assert percentile(ordered, 0.999) == 999
    assert percentile([7], 0.999) == 7


# ---- the suite --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """One quick run of the whole suite (a real engine and exchange included), its JSON
    appended to a results file: the tests below read it rather than run it again."""
    results = tmp_path_factory.mktemp("bench") / "results.jsonl"
    capture = pytest.MonkeyPatch()  # capsys is per test; this runs once per module
    out, err = io.StringIO(), io.StringIO()
    capture.setattr(sys, "stdout", out)
    capture.setattr(sys, "stderr", err)
    try:
        status = main(["bench", "--quick", "--json", "--save", str(results)])
    finally:
        capture.undo()
    assert status == 0, err.getvalue()
    return orjson.loads(out.getvalue()), results


@pytest.mark.slow  # runs every benchmark: make soak, not make test
def test_quick_suite_has_every_benchmark_and_figure(
    quick_run: tuple[dict[str, Any], Path],
) -> None:
    doc, _ = quick_run
    assert set(doc) == {*bench_suite.SUITE, "machine", "commit", "when", "quick"}
    assert doc["quick"] is True
    assert doc["machine"]["cpus"] >= 1
    assert len(doc["machine"]["load_avg"]) == 3
    assert doc["machine"]["python"].count(".") == 2
    assert doc["when"].endswith("+00:00")
    expected = {
        "ingest": {"throughput", "throughput, frames alone", "p50 per message", "p99 per message"},
        "tick-to-order": {
            "strategy decision p50",
            "strategy decision p99",
            "routing its intents p50",
            "signed order round trip",
        },
        "risk": {"pass p50", "pass p99", "refuse p50"},
        "ring": {"event p50", "event p99"},
        "tui": {"frame p50 (160x48)", "frame p99 (160x48)", "CPU at 10 Hz"},
        "cold-start": {"engine launch -> ready", "import hftui.app"},
        "kill": {"key -> cancels sent p50", "key -> zero open p50"},
        "memory": {"engine RSS"},
    }
    assert {name: set(doc[name]) for name in bench_suite.SUITE} == expected
    for name in bench_suite.SUITE:
        for figure, f in doc[name].items():
            assert isinstance(f["ours"], float | int), (name, figure)
            assert f["ours"] >= 0, (name, figure)
            assert f["unit"], (name, figure)
            assert f["better"] in ("lower", "higher")
            if f["baseline"] is None:  # said plainly, never a made-up figure
                assert f["ratio"] is None
                assert f["note"].startswith("no baseline"), (name, figure)
                continue
            assert isinstance(f["baseline"], float | int), (name, figure)
            assert f["baseline"] > 0, (name, figure)
            assert f["ratio"] == pytest.approx(f["ours"] / f["baseline"], rel=1e-2)
            if f["goal"] is not None:
                assert isinstance(f["met"], bool)
    # Only the strategy decision lacks a plain baseline.
    missing = {
        (n, k) for n in bench_suite.SUITE for k, f in doc[n].items() if f["baseline"] is None
    }
    assert {n for n, _ in missing} == {"tick-to-order"}


@pytest.mark.slow  # reads the full quick run above
def test_each_run_is_appended_and_compare_reads_them(
    quick_run: tuple[dict[str, Any], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    doc, results = quick_run
    lines = results.read_text().splitlines()
    assert orjson.loads(lines[-1]) == doc
    assert main(["bench", "risk", "--quick", "--save", str(results)]) == 0
    table = capsys.readouterr().out
    assert table.split()[:6] == ["benchmark", "figure", "ours", "baseline", "ratio", "goal"]
    assert "pass p99" in table
    runs = [orjson.loads(line) for line in results.read_text().splitlines()]
    assert len(runs) == len(lines) + 1
    assert set(runs[-1]) == {"risk", "machine", "commit", "when", "quick"}

    assert main(["bench", "compare", "--last", "2", "--save", str(results)]) == 0
    out = capsys.readouterr().out
    risk_rows = [line for line in out.splitlines() if line.startswith("risk")]
    assert len(risk_rows) == 3
    for row in risk_rows:  # this run against the one before
        assert row.count("ns") == 2
        assert row.rstrip().endswith("x)")
    # A figure the last run did not measure shows as absent, not as zero.
    assert any(
        line.startswith("memory") and line.rstrip().endswith("-") for line in out.splitlines()
    )


def test_default_results_file_and_no_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    results = tmp_path / "hftui" / "bench" / "results.jsonl"
    assert main(["bench", "risk", "--quick", "--no-save"]) == 0
    assert not results.exists()
    assert "pass p50" in capsys.readouterr().out
    assert main(["bench", "--json", "risk", "--quick"]) == 0
    doc = orjson.loads(capsys.readouterr().out)  # --json before the name still counts
    assert set(doc["risk"]) == {"pass p50", "pass p99", "refuse p50"}
    assert [orjson.loads(line) for line in results.read_text().splitlines()] == [doc]
    assert main(["bench", "compare"]) == 0
    assert "pass p50" in capsys.readouterr().out


def test_compare_without_results_fails_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "compare", "--save", str(tmp_path / "none.jsonl")]) == 1
    assert "no saved results" in capsys.readouterr().err


def test_a_failing_benchmark_is_reported_and_the_rest_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(ctx: bench_suite.Context) -> list[bench_suite.Figure]:
        raise RuntimeError("the gates disagree")

    monkeypatch.setitem(bench_suite.SUITE, "ring", ("broken", broken))
    results = tmp_path / "r.jsonl"
    assert main(["bench", "ring", "--quick", "--json", "--save", str(results)]) == 1
    captured = capsys.readouterr()
    assert orjson.loads(captured.out)["ring"] == {"error": "RuntimeError: the gates disagree"}
    assert "ring failed" in captured.err
    assert main(["bench", "compare", "--save", str(results)]) == 0  # a failed run still reads
