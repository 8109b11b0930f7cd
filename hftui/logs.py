"""Structured JSON-lines logging to rotating, owner-only files in the data dir.

Nothing is ever logged to the terminal: the TUI draws there, and the engine and the local
exchange run detached from it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import time
from pathlib import Path
from typing import Final

import orjson

from hftui.paths import logs_dir

__all__ = ["JsonFormatter", "setup_logging"]

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


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    # Log files may name orders and accounts: create them 0600, never world-readable.
    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, self.mode, encoding=self.encoding)


def setup_logging(
    name: str, level: str = "INFO", max_bytes: int = 10_000_000, backups: int = 5
) -> Path:
    """Send the root logger to `<logs_dir>/<name>.log` as JSON lines.

    Args:
        name: file stem, one per process kind (engine, tui, exchange).
        level: logging level name.
        max_bytes: rotate after this many bytes.
        backups: rotated files kept.

    Returns:
        The log file's path.
    """
    path = logs_dir() / f"{name}.log"
    handler = _PrivateRotatingHandler(path, maxBytes=max_bytes, backupCount=backups)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return path
