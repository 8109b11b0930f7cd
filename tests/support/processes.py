"""Real processes for end-to-end tests: start them, poll them, always clean them up."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import orjson

T = TypeVar("T")

HFTUI = [sys.executable, "-m", "hftui"]


def eventually(probe: Callable[[], T | None], timeout_s: float = 20.0, every_s: float = 0.05) -> T:
    """Poll `probe` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value is not None and value is not False:
                return value
        except (AssertionError, OSError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s}s; last error: {last_error!r}")


def isolated_env(home: Path) -> dict[str, str]:
    """An environment whose XDG dirs are private to one test."""
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_DATA_HOME"] = str(home / "data")
    env.pop("HFTUI_CONFIG", None)
    return env


def cli(
    args: list[str], env: dict[str, str], timeout_s: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run `hftui ARGS` to completion."""
    return subprocess.run(
        [*HFTUI, *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def cli_json(args: list[str], env: dict[str, str]) -> dict[str, object]:
    done = cli(args, env)
    doc = orjson.loads(done.stdout)
    assert isinstance(doc, dict), done.stdout
    return doc


@contextmanager
def process(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Start `hftui ARGS`; on exit SIGTERM it, then SIGKILL if it lingers."""
    proc = subprocess.Popen(
        [*HFTUI, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


ACCOUNTS_FILE = "exchange-accounts"


def http_post(url: str) -> dict[str, object]:
    """POST nothing to a loopback admin URL (the local exchange's fault switches); its JSON."""
    request = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback URL
        assert response.status == 200
        doc = orjson.loads(response.read())
    assert isinstance(doc, dict)
    return doc


def http_get(url: str) -> dict[str, object]:
    """GET a loopback URL that answers a JSON object."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL
        doc = orjson.loads(response.read())
    assert isinstance(doc, dict)
    return doc


def journal_rows(env: dict[str, str], sql: str, *args: object) -> list[tuple[object, ...]]:
    """The engine journal's rows for `sql`, read-only beside the running engine's writer."""
    path = Path(env["XDG_DATA_HOME"]) / "hftui" / "journal" / "default.sqlite3"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
    try:
        return list(conn.execute(sql, args))
    finally:
        conn.close()


def journal_audit(env: dict[str, str], kind: str) -> list[str]:
    """The details of the engine journal's audit rows of `kind`, oldest first (read-only)."""
    rows = journal_rows(env, "SELECT detail FROM audit WHERE kind = ? ORDER BY id", kind)
    return [str(r[0]) for r in rows]


def accounts_file(directory: Path, accounts: list[str]) -> Path:
    """`accounts` (KEY:SECRET each) in a file only its owner reads, for `--accounts-file`:
    secrets in argv would show in the process list."""
    path = directory / ACCOUNTS_FILE
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("".join(f"{account}\n" for account in accounts))
    return path


@contextmanager
def local_exchange(
    env: dict[str, str],
    tmp: Path,
    seed: int = 3,
    accounts: list[str] | None = None,
    symbols: str = "",
    extra: tuple[str, ...] = (),
) -> Iterator[str]:
    """A real `hftui exchange` on a free loopback port; yields its base URL. `symbols`:
    comma-separated, the exchange's default when empty; `extra`: more of its options."""
    ready = tmp / "exchange-ready.json"
    args = ["exchange", "--port", "0", "--seed", str(seed), "--ready-file", str(ready), *extra]
    if symbols:
        args += ["--symbols", symbols]
    if accounts:
        args += ["--accounts-file", str(accounts_file(tmp, accounts))]
    with process(args, env) as proc:
        info = eventually(lambda: orjson.loads(ready.read_bytes()) if ready.exists() else None)
        assert proc.poll() is None
        yield str(info["url"])


def pids_of_children(pid: int, containing: str = "") -> list[int]:
    """Direct children of `pid` whose command line contains `containing` (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        children = [int(p) for p in path.read_text().split()]
    except OSError:
        return []
    found = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if containing.encode() in cmdline:
            found.append(child)
    return found


def shm_segments(prefix: str) -> list[str]:
    return [name for name in os.listdir("/dev/shm") if name.startswith(prefix)]


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port free right now (bound to 0, then closed): a process can claim it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class FixedPortExchange:
    """A real `hftui exchange` on one fixed port that can be killed and started again there,
    so an engine configured with its URL sees the same venue go away and come back."""

    def __init__(
        self,
        env: dict[str, str],
        tmp: Path,
        port: int | None = None,
        seed: int = 3,
        accounts: list[str] | None = None,
    ) -> None:
        self.env = env
        self.port = free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_file = tmp / f"exchange-{self.port}-ready.json"
        self.log_file = tmp / f"exchange-{self.port}.log"  # stderr of every run, appended
        self.seed = seed
        self.accounts = accounts or []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> float:
        """Start it and wait for its ready file; returns `time.monotonic()` when it was seen."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.ready_file.unlink(missing_ok=True)  # a previous run's file is not readiness
        args = [
            "exchange",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--seed",
            str(self.seed),
            "--ready-file",
            str(self.ready_file),
        ]
        if self.accounts:
            args += ["--accounts-file", str(accounts_file(self.ready_file.parent, self.accounts))]
        with self.log_file.open("ab") as log:  # a file, not a pipe nobody drains
            self.proc = subprocess.Popen(
                [*HFTUI, *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        proc = self.proc

        def ready() -> float | None:
            if proc.poll() is not None:  # not an AssertionError: `eventually` would retry it
                raise RuntimeError(
                    f"exchange exited {proc.returncode}: {self.log_file.read_text()[-2000:]}"
                )
            return time.monotonic() if self.ready_file.exists() else None

        try:
            seen = eventually(ready, timeout_s=timeout_s, every_s=0.005)
        except AssertionError:
            self.stop()
            raise
        info = orjson.loads(self.ready_file.read_bytes())
        assert info["url"] == self.url, info
        return seen

    def kill(self) -> None:
        """`kill -9`: no goodbye on any connection."""
        if self.proc is not None:
            stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def restart(self, down_s: float = 0.0) -> float:
        """Kill it, stay down `down_s`, start again on the same port; returns readiness time."""
        self.kill()
        time.sleep(down_s)
        return self.start()


@contextmanager
def fixed_port_exchange(
    env: dict[str, str], tmp: Path, seed: int = 3, accounts: list[str] | None = None
) -> Iterator[FixedPortExchange]:
    """A `FixedPortExchange`, started; stopped on exit whatever state it is in."""
    exchange = FixedPortExchange(env, tmp, seed=seed, accounts=accounts)
    exchange.start()
    try:
        yield exchange
    finally:
        exchange.stop()
