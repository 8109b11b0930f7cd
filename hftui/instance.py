"""Instance files: how a TUI or the CLI finds a running engine and its shared memory.

An engine writes `<run_dir>/<instance>.json` (0600) once its snapshot segment exists and
removes it on a clean exit. After a `kill -9` the file is left behind; whoever finds it with
a dead pid removes it and the segment it names, so nothing leaks across crashes.
"""

from __future__ import annotations

import _posixshmem
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from hftui.paths import run_dir
from hftui.rings import command_segment_name, event_segment_name

__all__ = [
    "InstanceInfo",
    "command_lock_path",
    "find_running",
    "pid_alive",
    "remove_instance",
    "write_instance",
]


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    instance: str
    pid: int
    shm: str
    started_ns: int
    venue: str
    venue_url: str
    path: Path
    metrics_url: str | None = None  # the Prometheus exporter's, None when it is off


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (and is not a zombie we could reap)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # A zombie has exited; only its parent has not collected it yet.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _path(instance: str) -> Path:
    return run_dir() / f"{instance}.json"


def command_lock_path(instance: str) -> Path:
    """The lock file command-ring producers of `instance` serialise on."""
    return run_dir() / f"{instance}.cmd.lock"


def write_instance(
    instance: str,
    pid: int,
    shm: str,
    started_ns: int,
    venue: str,
    venue_url: str,
    metrics_url: str | None = None,
) -> Path:
    """Atomically publish this engine's instance file (owner-only)."""
    path = _path(instance)
    tmp = path.with_suffix(f".{pid}.tmp")
    body = orjson.dumps(
        {
            "instance": instance,
            "pid": pid,
            "shm": shm,
            "started_ns": started_ns,
            "venue": venue,
            "venue_url": venue_url,
            "metrics_url": metrics_url,
        }
    )
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
    os.replace(tmp, path)
    return path


def _unlink_segment(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _posixshmem.shm_unlink("/" + name)


def remove_instance(instance: str, pid: int) -> None:
    """Remove the instance file if it still belongs to `pid`."""
    info = find_running(instance, clean_stale=False)
    if info is not None and info.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            info.path.unlink()


def find_running(instance: str, clean_stale: bool = True) -> InstanceInfo | None:
    """The running engine of `instance`, or None.

    Args:
        instance: instance name from config.
        clean_stale: if the file names a dead process, remove it and its segment.
    """
    path = _path(instance)
    try:
        raw = orjson.loads(path.read_bytes())
        info = InstanceInfo(
            instance=str(raw["instance"]),
            pid=int(raw["pid"]),
            shm=str(raw["shm"]),
            started_ns=int(raw["started_ns"]),
            venue=str(raw["venue"]),
            venue_url=str(raw["venue_url"]),
            path=path,
            metrics_url=str(raw["metrics_url"]) if raw.get("metrics_url") else None,
        )
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        # Unreadable or half-written by a crashed engine: treat as stale.
        if clean_stale:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return None
    if pid_alive(info.pid):
        return info
    if clean_stale:
        _unlink_segment(info.shm)
        _unlink_segment(command_segment_name(info.instance, info.pid))
        _unlink_segment(event_segment_name(info.instance, info.pid))
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return None
