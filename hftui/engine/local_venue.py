"""Starting and stopping the local exchange as a child process of the engine.

The exchange is a separate process (`hftui exchange`) so that it is the same program a test
or a third-party client talks to. The child asks the kernel for SIGTERM when its parent dies,
so even a `kill -9` of the engine leaves no exchange behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

import orjson

__all__ = ["LocalExchange", "LocalExchangeError"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG: Final = 1
_START_TIMEOUT_S: Final = 20.0


class LocalExchangeError(RuntimeError):
    """The local exchange did not come up; the message says where to look."""


def _die_with_parent() -> None:
    # Runs in the child between fork and exec (Linux only; elsewhere a no-op).
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalExchange:
    """One `hftui exchange` child process on loopback."""

    def __init__(self, symbols: tuple[str, ...], seed: int, port: int) -> None:
        self.symbols = symbols
        self.seed = seed
        self.port = port
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> str:
        """Start the child and wait until it listens.

        Returns:
            Its REST base url, e.g. "http://127.0.0.1:41234".
        """
        ready = Path(tempfile.mkdtemp(prefix="hftui-exchange-")) / "ready.json"
        command = [
            sys.executable,
            "-m",
            "hftui",
            "exchange",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--symbols",
            ",".join(self.symbols),
            "--seed",
            str(self.seed),
            "--ready-file",
            str(ready),
        ]
        # Popen returns as soon as the child is forked; PDEATHSIG needs preexec_fn, which the
        # asyncio subprocess API does not offer.
        self._process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own program
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            close_fds=True,
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise LocalExchangeError(
                        f"the local exchange exited with status {self._process.returncode} "
                        "during start-up; see exchange.log in the logs directory"
                    )
                if ready.exists():
                    info = orjson.loads(ready.read_bytes())
                    self.url = str(info["url"])
                    log.info("local exchange up", extra={"url": self.url, "pid": self.pid})
                    return self.url
                await asyncio.sleep(0.02)
        finally:
            with contextlib.suppress(OSError):
                ready.unlink()
                ready.parent.rmdir()
        await self.stop()
        raise LocalExchangeError(f"the local exchange did not listen within {_START_TIMEOUT_S}s")

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    async def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, wait, then SIGKILL: the child never outlives this call."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        deadline = time.monotonic() + timeout_s
        while process.poll() is None and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a child
            await asyncio.sleep(0.02)
        if process.poll() is None:
            log.warning("local exchange ignored SIGTERM; killing it", extra={"pid": process.pid})
            process.kill()
            process.wait()

    def stop_now(self) -> None:
        """Synchronous last-resort stop, for exit paths that have no event loop."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait()
