"""Shared test setup: SVG snapshots in <repo>/snapshots/<test module>/, a frozen clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.widgets import Input

from tests.support.region import FROZEN_NS

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots"


def _snapshot_dirname(cls: type[SVGImageExtension], *, test_location: Any) -> str:
    return str(SNAPSHOTS / test_location.basename)


# syrupy 4.8 (pinned by pytest-textual-snapshot) has no --snapshot-dirname option. Patched at
# import rather than in a fixture because syrupy also asks for the directory at session end,
# after fixtures are torn down, to find unused snapshots.
SVGImageExtension.dirname = classmethod(_snapshot_dirname)


@pytest.fixture
def frozen_clock() -> Callable[[], int]:
    """A wall clock (ns) stopped at `FROZEN_NS`, the time the test regions are written for."""
    return lambda: FROZEN_NS


@pytest.fixture(autouse=True)
def steady_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text cursors do not blink, so screenshots do not depend on timing."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
