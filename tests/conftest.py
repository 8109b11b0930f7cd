"""Shared test setup: SVG snapshots live in <repo>/snapshots/<test module>/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_textual_snapshot import SVGImageExtension

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots"


def _snapshot_dirname(cls: type[SVGImageExtension], *, test_location: Any) -> str:
    # syrupy 4.8 (pinned by pytest-textual-snapshot) has no --snapshot-dirname option.
    return str(SNAPSHOTS / test_location.basename)


SVGImageExtension.dirname = classmethod(_snapshot_dirname)
