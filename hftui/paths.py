"""Where hftui keeps its files: XDG config and data directories, owner-only."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["config_path", "data_dir", "journal_file", "logs_dir", "run_dir"]


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # The XDG spec says relative paths are invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def config_path() -> Path:
    """The default config file: `$XDG_CONFIG_HOME/hftui/config.toml`."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "hftui" / "config.toml"


def data_dir() -> Path:
    """`$XDG_DATA_HOME/hftui`, created 0700 on first use."""
    return _private_dir(_xdg("XDG_DATA_HOME", ".local/share") / "hftui")


def logs_dir() -> Path:
    """Log files, inside the data dir."""
    return _private_dir(data_dir() / "logs")


def run_dir() -> Path:
    """Instance files of running engines, inside the data dir."""
    return _private_dir(data_dir() / "run")


def journal_file(instance: str) -> Path:
    """The engine's journal of `instance`: `<data dir>/journal/<instance>.sqlite3`. Only
    names it; the engine creates it (the TUI reads it, and must not create it)."""
    return data_dir() / "journal" / f"{instance}.sqlite3"
