"""The real `hftui` command under a pseudo-terminal: start, quit by keys, hang up."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Iterator
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

pytestmark = pytest.mark.e2e


class Terminal:
    """A pty whose output is drained continuously (a full pty would block the app)."""

    def __init__(self, columns: int = 80, rows: int = 24) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk
            del self.output[:-200_000]

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with suppress(OSError):
                os.close(fd)


@contextmanager
def tui(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Terminal, dict[str, str]]]:
    env = isolated_env(tmp_path)
    env["TERM"] = "xterm-256color"
    cfg = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[engine]\ninstance = "tui"\n[market]\nsymbols = ["BTCUSDT"]\n')
    term = Terminal()
    proc = subprocess.Popen(
        [*HFTUI],
        env=env,
        stdin=term.slave,
        stdout=term.slave,
        stderr=term.slave,
        start_new_session=True,
    )
    try:
        yield proc, term, env
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # Whatever happened, stop an engine the test left behind.
        status = cli_json(["status", "--json"], env)
        if status.get("running"):
            os.kill(int(str(status["engine_pid"])), signal.SIGKILL)
        term.close()


def _engine_synced(env: dict[str, str]) -> dict[str, object] | None:
    status = cli_json(["status", "--json"], env)
    symbols = status.get("symbols")
    if isinstance(symbols, dict) and symbols.get("BTCUSDT", {}).get("synced"):
        return status
    return None


def test_quit_and_stop_the_engine_by_keys(tmp_path: Path) -> None:
    with tui(tmp_path) as (proc, term, env):
        status = eventually(lambda: _engine_synced(env), timeout_s=30)
        engine_pid = int(str(status["engine_pid"]))
        exchange = pids_of_children(engine_pid, "hftui exchange")
        assert len(exchange) == 1
        assert shm_segments(f"hftui_tui_{engine_pid}_")  # what must be gone after
        eventually(lambda: b"BTCUSDT book" in term.output, timeout_s=10)
        term.type(b"q")
        eventually(lambda: b"Stop the engine too?" in term.output, timeout_s=5)
        term.type(b"s")
        assert proc.wait(timeout=20) == 0
        assert not os.path.exists(f"/proc/{engine_pid}")
        eventually(lambda: not os.path.exists(f"/proc/{exchange[0]}"), timeout_s=10)
        assert cli_json(["status", "--json"], env)["running"] is False
        assert shm_segments(f"hftui_tui_{engine_pid}_") == []


def test_leave_the_engine_running_then_attach(tmp_path: Path) -> None:
    with tui(tmp_path) as (proc, term, env):
        status = eventually(lambda: _engine_synced(env), timeout_s=30)
        term.type(b"q")
        eventually(lambda: b"Stop the engine too?" in term.output, timeout_s=5)
        term.type(b"l")
        assert proc.wait(timeout=20) == 0
        after = cli_json(["status", "--json"], env)
        assert after["running"] is True
        assert after["engine_pid"] == status["engine_pid"]
        os.kill(int(str(status["engine_pid"])), signal.SIGTERM)
        eventually(lambda: cli_json(["status", "--json"], env)["running"] is False)


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_hangup_or_sigterm_stops_the_engine_it_started(tmp_path: Path, sig: int) -> None:
    with tui(tmp_path) as (proc, _term, env):
        status = eventually(lambda: _engine_synced(env), timeout_s=30)
        engine_pid = int(str(status["engine_pid"]))
        exchange = pids_of_children(engine_pid, "hftui exchange")
        assert shm_segments(f"hftui_tui_{engine_pid}_")  # what must be gone after
        proc.send_signal(sig)
        proc.wait(timeout=10)
        eventually(lambda: not os.path.exists(f"/proc/{engine_pid}"), timeout_s=15)
        eventually(lambda: not os.path.exists(f"/proc/{exchange[0]}"), timeout_s=10)
        assert shm_segments(f"hftui_tui_{engine_pid}_") == []
