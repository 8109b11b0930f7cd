"""Fuzz tests. `make test` runs them at a fraction of their examples (HFTUI_FUZZ_SCALE,
default 0.4); `make fuzz` runs them in full, then atheris."""

from __future__ import annotations

import os


def examples(n: int) -> int:
    """`n` hypothesis examples scaled by HFTUI_FUZZ_SCALE, at least 10."""
    return max(10, int(n * float(os.environ.get("HFTUI_FUZZ_SCALE", "0.4"))))
