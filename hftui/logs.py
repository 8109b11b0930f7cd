"""Structured JSON-lines logging to rotating, owner-only files in the data dir.

Nothing is ever logged to the terminal: the TUI draws there, and the engine and the local
exchange run detached from it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Final

import orjson

from hftui.paths import logs_dir

__all__ = ["JsonFormatter", "request_id", "setup_logging"]

# The command being acted on (its command-ring request id; 0: none). The engine sets it while
# it handles a command; tasks started meanwhile inherit it, so every line the command causes,
# later ones included, can be found by it.
request_id: ContextVar[int] = ContextVar("request_id", default=0)

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        entry.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _STANDARD and not key.startswith("_")
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class _Correlate(logging.Filter):
    """Stamps each record with the request id in force where it was made. A handler filter
    runs on the caller's thread, in its context, before the record is queued for writing."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = request_id.get()
        if current and not hasattr(record, "request_id"):
            record.request_id = current
        return True


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    # Log files may name orders and accounts: create them 0600, never world-readable.
    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, self.mode, encoding=self.encoding)


class _Handoff(logging.handlers.QueueHandler):
    """Hands records to a writer thread as they are: the caller (the engine's event loop)
    pays for neither the JSON formatting nor the file write."""

    def __init__(self, target: logging.Handler) -> None:
        super().__init__(queue.SimpleQueue())
        self.listener = logging.handlers.QueueListener(
            self.queue, target, respect_handler_level=True
        )
        self.listener.start()
        self._drained = False

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record  # same process: nothing to make picklable, formatting happens later

    def close(self) -> None:
        # logging.shutdown() (at exit, or before os._exit) closes this: write what is queued.
        if not self._drained:
            self._drained = True
            self.listener.stop()
            for target in self.listener.handlers:
                target.close()
        super().close()


def setup_logging(
    name: str,
    level: str = "INFO",
    max_bytes: int = 10_000_000,
    backups: int = 5,
    background: bool = True,
) -> Path:
    """Send the root logger to `<logs_dir>/<name>.log` as JSON lines.

    Args:
        name: file stem, one per process kind (engine, tui, exchange).
        level: logging level name.
        max_bytes: rotate after this many bytes.
        backups: rotated files kept.
        background: format and write on a thread of their own, off the caller's path.

    Returns:
        The log file's path.
    """
    path = logs_dir() / f"{name}.log"
    writer = _PrivateRotatingHandler(path, maxBytes=max_bytes, backupCount=backups)
    writer.setFormatter(JsonFormatter())
    handler: logging.Handler = _Handoff(writer) if background else writer
    handler.addFilter(_Correlate())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return path
