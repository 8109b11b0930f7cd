"""Recordings of raw market data: the file format, a background writer and a reader.

A recording is a directory of gzip files named `frames-<UTC start>-<n>.tsv.gz`, each line
`<receive time ns>\\t<channel>\\t<payload>`: the payload is the frame's bytes exactly as they
arrived (JSON never contains a raw newline) or, for the `info` and `snapshot:<SYMBOL>`
channels, the JSON of exchangeInfo's symbol filters and of a REST depth snapshot, which a
replay needs to rebuild books. Files rotate by size and by age.

Shared by the engine (which records) and the local exchange (which replays); it imports only
the standard library.
"""

from __future__ import annotations

import gzip
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

__all__ = ["Recorder", "read_recording"]

log = logging.getLogger(__name__)

_STOP: Final = b""


class Recorder:
    """Appends lines from the event loop; a daemon thread compresses and writes them.

    `write` only puts bytes on a queue, so the receive path never waits on a disk.
    """

    def __init__(
        self, directory: Path, rotate_bytes: int = 64 << 20, rotate_s: float = 3600.0
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory = directory
        self.rotate_bytes = rotate_bytes
        self.rotate_s = rotate_s
        self.lines = 0
        self.files: list[Path] = []
        self._queue: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def write(self, recv_ns: int, channel: str, payload: bytes) -> None:
        self._queue.put(b"%d\t%s\t%s\n" % (recv_ns, channel.encode(), payload))

    def close(self) -> None:
        """Flush everything queued so far and close the current file."""
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    def _open(self, sequence: int) -> tuple[gzip.GzipFile, float]:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = self.directory / f"frames-{stamp}-{sequence:04d}.tsv.gz"
        self.files.append(path)
        # Owner-only, like everything else hftui writes.
        raw = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
        self._raw = raw  # a GzipFile given a file object leaves it open: closed in _close
        return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5), time.monotonic()

    def _run(self) -> None:
        sequence = 0
        handle, opened = self._open(sequence)
        written = 0
        try:
            while True:
                line = self._queue.get()
                if line is _STOP or line == _STOP:
                    return
                handle.write(line)
                self.lines += 1
                written += len(line)
                if written >= self.rotate_bytes or time.monotonic() - opened >= self.rotate_s:
                    self._close(handle)
                    sequence += 1
                    handle, opened = self._open(sequence)
                    written = 0
        except OSError:
            log.exception("recording stopped: cannot write")
        finally:
            self._close(handle)

    def _close(self, handle: gzip.GzipFile) -> None:
        handle.close()
        self._raw.close()


def read_recording(directory: Path) -> Iterator[tuple[int, str, bytes]]:
    """Every line of a recording in order: (receive time ns, channel, payload).

    Malformed lines (a file cut short by a crash) are skipped, not fatal.
    """
    paths = sorted(directory.glob("frames-*.tsv.gz"))
    if not paths:
        raise FileNotFoundError(f"no recording (frames-*.tsv.gz) in {directory}")
    for path in paths:
        try:
            with gzip.open(path, "rb") as handle:
                for raw in handle:
                    parts = raw.rstrip(b"\n").split(b"\t", 2)
                    if len(parts) != 3 or not parts[0].isdigit():
                        continue
                    yield int(parts[0]), parts[1].decode(), parts[2]
        except (OSError, EOFError):
            log.warning("recording file ends early", extra={"path": str(path)})
