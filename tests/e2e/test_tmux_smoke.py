"""The real `hftui` command in a detached tmux session at 100x30, driven by keys and read
from the screen as a trader sees it: the book shows and moves, a paper order placed from
the ticket shows in the orders panel, the kill switch latches, and quitting (stopping the
engine) leaves no engine, exchange, shared memory or tmux session behind."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.support.processes import (
    HFTUI,
    cli_json,
    eventually,
    isolated_env,
    pids_of_children,
    shm_segments,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

_INSTANCE = "tmuxsmoke"
_LEVEL = re.compile(r"^\W*\s*\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+")  # a ladder row: price qty cum


class Tmux:
    """One detached session on a private tmux server (its own socket): nothing the test
    does reaches the user's tmux, and killing the server ends exactly what it started."""

    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env
        self.session = "hftui"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )

    def start(self, command: list[str], columns: int, rows: int) -> None:
        done = self.run(
            "new-session", "-d", "-s", self.session, "-x", str(columns), "-y", str(rows),
            shlex.join(command),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def screen(self) -> str:
        """The pane's text as shown now ("" once the session has gone)."""
        done = self.run("capture-pane", "-p", "-t", self.session)
        return done.stdout if done.returncode == 0 else ""

    def keys(self, *keys: str, literal: bool = False) -> None:
        args = ["send-keys", "-t", self.session, *(["-l"] if literal else []), *keys]
        done = self.run(*args)
        assert done.returncode == 0, done.stderr

    def wait_for(self, shown: Callable[[str], bool], timeout_s: float, what: str) -> str:
        """The screen once `shown(screen)` holds; on a timeout, the last screen in the error."""
        last = [""]

        def probe() -> str | None:
            last[0] = self.screen()
            return last[0] if shown(last[0]) else None

        try:
            return eventually(probe, timeout_s=timeout_s)
        except AssertionError:
            raise AssertionError(
                f"{what} not shown in {timeout_s}s; the screen:\n{last[0]}"
            ) from None

    def alive(self) -> bool:
        return self.run("has-session", "-t", self.session).returncode == 0

    def kill(self) -> None:
        self.run("kill-server")


@contextmanager
def hftui_in_tmux(tmp_path: Path) -> Iterator[tuple[Tmux, dict[str, str]]]:
    env = isolated_env(tmp_path)
    env["TERM"] = "xterm-256color"
    env.pop("TMUX", None)  # a test run from inside tmux must still start its own server
    cfg = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(f'[engine]\ninstance = "{_INSTANCE}"\n[market]\nsymbols = ["BTCUSDT"]\n')
    tmux = Tmux(tmp_path / "tmux.sock", env)
    # `hftui` with no arguments, as `make demo` runs it: it starts the engine, and the
    # engine the local exchange.
    tmux.start(HFTUI, 100, 30)
    try:
        yield tmux, env
    finally:
        tmux.kill()
        # Whatever happened, stop an engine the test left behind (its exchange goes with it).
        with suppress(Exception):
            status = cli_json(["status", "--json"], env)
            if status.get("running"):
                os.kill(int(str(status["engine_pid"])), signal.SIGKILL)


def ladder(screen: str) -> list[str]:
    """The ladder's price rows as shown (left of the trades)."""
    rows = []
    for line in screen.splitlines():
        cell = line.strip("│╭╰ ").split("│")[0].strip()
        if _LEVEL.match(cell):
            rows.append(cell)
    return rows


def test_book_paper_order_kill_and_quit_in_tmux(tmp_path: Path) -> None:
    with hftui_in_tmux(tmp_path) as (tmux, env):
        # The book is shown: the ladder has levels on both sides of the spread.
        first = tmux.wait_for(lambda screen: len(ladder(screen)) >= 6, 60, "the book")
        assert "BTCUSDT book" in first
        assert "mid " in first
        status = cli_json(["status", "--json"], env)
        engine_pid = int(str(status["engine_pid"]))
        exchanges = pids_of_children(engine_pid, "hftui exchange")
        assert len(exchanges) == 1
        # The book moves: a later screen shows other levels.
        before = ladder(first)
        tmux.wait_for(lambda screen: ladder(screen) not in ([], before), 30, "a moved book")

        # Paper mode by keys: m, then p.
        tmux.keys("m")
        tmux.wait_for(lambda screen: "Trading mode" in screen, 5, "the mode dialog")
        tmux.keys("p")
        tmux.wait_for(lambda screen: "PAPER" in screen.partition("\n")[0], 10, "PAPER")

        # A paper buy five levels under the touch, so it rests: the cursor down to the
        # fifth bid, b opens the ticket at its price, a quantity, enter.
        tmux.keys("Down", "Down", "Down", "Down", "Down")
        tmux.keys("b")
        tmux.wait_for(lambda screen: "BUY BTCUSDT" in screen, 5, "the order ticket")
        tmux.keys("0.010", literal=True)
        tmux.wait_for(lambda screen: "ready to send" in screen, 5, "a ready ticket")
        tmux.keys("Enter")
        tmux.wait_for(lambda screen: "orders 1" in screen, 15, "one open order")
        # The answer's toasts cover the panel for a few seconds: read it once they go.
        row = re.compile(r"BTCUSDT\s+BUY\s.*0\.010")
        tmux.wait_for(lambda screen: row.search(screen) is not None, 20, "the order's row")
        orders = cli_json(["orders", "--json"], env)
        assert orders["mode"] == "paper"
        assert orders["total"] == 1

        # The kill switch: ctrl+k, at once; the screen says KILLED and the order is gone.
        tmux.keys("C-k")
        killed = tmux.wait_for(lambda screen: "KILLED" in screen, 15, "KILLED")
        assert "KILLED · OBSERVE" in killed.partition("\n")[0]  # the banner
        tmux.wait_for(lambda screen: "orders 0" in screen, 10, "no open orders")
        after = cli_json(["status", "--json"], env)
        assert after["killed"] is True
        assert after["mode"] == "observe"
        assert after["open_orders"] == 0

        # Quit, stopping the engine too: the session ends and nothing is left running.
        tmux.keys("q")
        tmux.wait_for(lambda screen: "Stop the engine too?" in screen, 5, "the quit dialog")
        tmux.keys("s")
        eventually(lambda: not tmux.alive(), timeout_s=30)
        eventually(lambda: not os.path.exists(f"/proc/{engine_pid}"), timeout_s=15)
        eventually(lambda: not os.path.exists(f"/proc/{exchanges[0]}"), timeout_s=10)
        assert cli_json(["status", "--json"], env)["running"] is False
        assert shm_segments(f"hftui_{_INSTANCE}_{engine_pid}_") == []
        # The private tmux server went with its last session.
        eventually(lambda: tmux.run("list-sessions").returncode != 0, timeout_s=5)
