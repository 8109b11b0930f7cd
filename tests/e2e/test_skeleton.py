"""End to end: local exchange and engine as real processes, read through the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.support.processes import (
    HFTUI,
    cli,
    cli_json,
    eventually,
    http_get,
    http_post,
    isolated_env,
    local_exchange,
    pids_of_children,
    process,
    shm_segments,
    stop,
)

pytestmark = pytest.mark.e2e


def _config(env: dict[str, str], text: str) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _synced_book(env: dict[str, str], symbol: str) -> dict[str, object] | None:
    done = cli(["book", symbol, "--depth", "20", "--json"], env)
    if done.returncode != 0:
        return None
    doc = orjson.loads(done.stdout)
    return doc if doc["synced"] and doc["bids"] and doc["asks"] else None


def test_engine_book_matches_the_exchange(tmp_path: Path) -> None:
    """The engine syncs by Binance's procedure and its book is the exchange's book, exactly."""
    env = isolated_env(tmp_path)
    with local_exchange(env, tmp_path) as url:
        _config(env, f'[venue]\nname = "local"\nurl = "{url}"\n[engine]\ninstance = "e2e"\n')
        with process(["engine"], env) as engine:
            eventually(lambda: _synced_book(env, "BTCUSDT"), timeout_s=30)
            eventually(lambda: _synced_book(env, "ETHUSDT"), timeout_s=30)
            status = cli_json(["status", "--json"], env)
            assert status["running"] is True
            assert status["venue"] == "local"
            assert status["venue_url"] == url
            assert status["mode"] == "observe"
            assert status["killed"] is False
            assert status["engine_pid"] == engine.pid
            assert shm_segments(f"hftui_e2e_{engine.pid}_")  # what must be gone after
            symbols = status["symbols"]
            assert isinstance(symbols, dict)
            for entry in symbols.values():
                assert entry["synced"] is True
                assert float(entry["best_bid"]) < float(entry["best_ask"])
                assert entry["last_update_id"] > 0

            # Freeze the market, let the engine catch up, then compare level by level.
            http_post(f"{url}/admin/market/pause")
            try:
                for symbol in ("BTCUSDT", "ETHUSDT"):
                    venue = http_get(f"{url}/fapi/v1/depth?symbol={symbol}&limit=20")

                    def caught_up(
                        s: str = symbol, want: object = venue["lastUpdateId"]
                    ) -> dict[str, object] | None:
                        book = _synced_book(env, s)
                        return book if book and book["last_update_id"] == want else None

                    book = eventually(caught_up, timeout_s=10)
                    assert book["bids"] == venue["bids"]
                    assert book["asks"] == venue["asks"]
            finally:
                http_post(f"{url}/admin/market/resume")

            # The book keeps moving after the pause.
            before = _synced_book(env, "BTCUSDT")
            assert before is not None
            eventually(
                lambda: (
                    (b := _synced_book(env, "BTCUSDT"))
                    and b["last_update_id"] != before["last_update_id"]
                )
            )
            assert stop(engine) == 0
        assert cli(["status"], env).returncode == 1
        assert shm_segments(f"hftui_e2e_{engine.pid}_") == []


def test_book_and_status_without_an_engine(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    done = cli(["status", "--json"], env)
    assert done.returncode == 1
    assert orjson.loads(done.stdout) == {"running": False, "instance": "default"}
    done = cli(["book", "BTCUSDT"], env)
    assert done.returncode == 1
    assert "no engine running" in done.stderr
    done = cli(["book", "BTCUSDT", "--depth", "99"], env)
    assert done.returncode == 2
    assert "--depth 99 is not allowed" in done.stderr


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    _config(env, '[venue]\nname = "kraken"\n')
    done = cli(["engine"], env)
    assert done.returncode == 2
    assert "venue.name = 'kraken' is not allowed" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_engine_with_its_own_exchange_shuts_down_cleanly(tmp_path: Path, sig: int) -> None:
    """The engine starts the local exchange itself; any stop signal leaves nothing behind."""
    env = isolated_env(tmp_path)
    _config(env, '[engine]\ninstance = "own"\n[market]\nsymbols = ["ETHUSDT"]\n')
    with process(["engine"], env) as engine:
        eventually(lambda: _synced_book(env, "ETHUSDT"), timeout_s=30)
        children = pids_of_children(engine.pid, "hftui exchange")
        assert len(children) == 1, children  # the exchange
        assert stop(engine, sig) == 0
        eventually(lambda: not os.path.exists(f"/proc/{children[0]}"), timeout_s=10)
    assert shm_segments(f"hftui_own_{engine.pid}_") == []
    assert not (tmp_path / "data" / "hftui" / "run" / "own.json").exists()


def test_killed_engine_takes_its_exchange_and_leaves_no_segment(tmp_path: Path) -> None:
    """`kill -9` of the engine: the exchange dies with it; the next reader cleans up."""
    env = isolated_env(tmp_path)
    _config(env, '[engine]\ninstance = "k9"\n[market]\nsymbols = ["BTCUSDT"]\n')
    with process(["engine"], env) as engine:
        eventually(lambda: _synced_book(env, "BTCUSDT"), timeout_s=30)
        children = pids_of_children(engine.pid, "hftui exchange")
        assert len(children) == 1
        engine.kill()
        engine.wait()
        eventually(lambda: not os.path.exists(f"/proc/{children[0]}"), timeout_s=10)
    assert cli(["status"], env).returncode == 1  # finds the stale file, removes it
    eventually(lambda: shm_segments(f"hftui_k9_{engine.pid}_") == [], timeout_s=5)
    assert not (tmp_path / "data" / "hftui" / "run" / "k9.json").exists()
    # And a new engine starts cleanly in its place.
    with process(["engine"], env) as engine:
        eventually(lambda: _synced_book(env, "BTCUSDT"), timeout_s=30)
        assert stop(engine) == 0


def test_second_engine_of_an_instance_is_refused(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    _config(env, '[engine]\ninstance = "dup"\n[market]\nsymbols = ["BTCUSDT"]\n')
    with process(["engine"], env):
        eventually(lambda: cli(["status"], env).returncode == 0, timeout_s=30)
        second = subprocess.run(
            [*HFTUI, "engine"], env=env, capture_output=True, text=True, timeout=30, check=False
        )
        assert second.returncode == 1
        assert "already running" in second.stderr


def test_output_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    _config(env, '[engine]\ninstance = "pipe"\n[market]\nsymbols = ["BTCUSDT"]\n')
    with process(["engine"], env):
        eventually(lambda: _synced_book(env, "BTCUSDT"), timeout_s=30)
        reader = subprocess.Popen(
            [*HFTUI, "book", "BTCUSDT", "--depth", "20", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert reader.stdout is not None
        assert reader.stderr is not None
        reader.stdout.close()  # the reader is gone before anything is written
        errors = reader.stderr.read().decode()
        assert reader.wait(timeout=30) == 0
        assert "Traceback" not in errors
        assert "BrokenPipe" not in errors
