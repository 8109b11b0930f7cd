"""`hftui bench`: the commands run and print the documented shape. No assertions on speed:
performance is judged from benchmark runs, never from timings inside tests."""

from __future__ import annotations

import orjson
import pytest

from hftui import bench
from hftui.bench import BenchmarkError, percentile
from hftui.cli import main


def test_bench_lists_the_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench"]) == 0
    out = capsys.readouterr().out
    for name in bench.BENCHMARKS:
        assert name in out


def test_ingest_json_has_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", "--json", "--messages", "2000", "--seconds", "0"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    for path in ("ours", "baseline"):
        figures = doc[path]
        assert set(figures) >= {"msgs_per_s", "p50_ns", "p99_ns", "p999_ns"}
        assert figures["msgs_per_s"] > 0
        assert 0 < figures["p50_ns"] <= figures["p99_ns"] <= figures["p999_ns"]
    assert doc["ratio"] > 0
    assert doc["frames"] == 2000
    assert doc["levels_per_msg"] > 0
    assert doc["rounds"] >= bench.MIN_ROUNDS


def test_ingest_table_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", "--messages", "300", "--seconds", "0"]) == 0
    out = capsys.readouterr().out
    assert "MarketData.on_frame" in out
    assert "ratio" in out


def test_too_few_messages_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ingest", "--messages", "5"]) == 2
    assert "--messages" in capsys.readouterr().err


def test_books_that_disagree_fail_loudly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = bench.baseline_path

    def skewed(snapshot: bytes) -> bench.Path:
        handle, book = real(snapshot)

        def wrong() -> bench.Book:
            bids, asks = book()
            return bids[1:], asks

        return handle, wrong

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
