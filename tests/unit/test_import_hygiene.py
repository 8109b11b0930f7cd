"""Process boundaries hold at import time, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stdout.split())


def _under(modules: set[str], prefix: str) -> set[str]:
    return {m for m in modules if m == prefix or m.startswith(prefix + ".")}


def test_engine_never_loads_the_tui() -> None:
    modules = _modules_after("import hftui.engine.main")
    assert _under(modules, "textual") == set()
    for tui in ("hftui.app", "hftui.link", "hftui.screens", "hftui.widgets", "hftui.exchange"):
        assert _under(modules, tui) == set(), tui


def test_tui_never_loads_the_engine_or_the_exchange() -> None:
    modules = _modules_after("import hftui.app, hftui.link")
    assert _under(modules, "hftui.engine") == set()
    assert _under(modules, "hftui.exchange") == set()
    assert "numba" not in modules  # the TUI has no use for the JIT; it would slow start-up


def test_exchange_shares_nothing_with_the_engine() -> None:
    modules = _modules_after("import hftui.exchange.main")
    assert _under(modules, "hftui.engine") == set()
    assert _under(modules, "textual") == set()


@pytest.mark.parametrize("kernel", ["hftui.engine.kernels.book"])
def test_kernels_use_only_numpy_and_numba(kernel: str) -> None:
    modules = _modules_after(f"import {kernel}")
    ours = {m for m in _under(modules, "hftui") if not m.startswith("hftui.engine.kernels")}
    assert ours <= {"hftui", "hftui.engine"}, ours
    for heavy in ("orjson", "aiohttp", "textual", "sqlite3"):
        assert heavy not in modules, heavy
