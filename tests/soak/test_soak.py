"""`make soak`: the engine against the local exchange for SOAK_SECONDS (default an hour) under
random faults, engine and exchange `kill -9`s; its memory must stay flat and the journal must
agree with the exchange (see `tests/soak/soak.py`). Marked slow: `make test` never runs it."""

from __future__ import annotations

import os

import pytest

from tests.soak.soak import Life, memory_failures, memory_of, run_soak

SECONDS = float(os.environ.get("SOAK_SECONDS", "3600"))


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.timeout(int(SECONDS) + 900)  # restarts and the checks come on top of the run
def test_soak(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_soak(SECONDS, seed=int(os.environ.get("SOAK_SEED", "1")))
    with capsys.disabled():  # the figures are the point of the run: always shown
        print(f"\n{report.table()}")  # noqa: T201
    assert not report.failures, report.failures


def test_memory_is_judged_on_the_fitted_line() -> None:
    # Not slow: the soak's verdict on memory, on samples whose answer is known.
    flat = Life(
        pid=1, started=0.0, samples=[(t, 180_000 + (t % 3) * 900) for t in range(0, 1800, 2)]
    )
    memory = memory_of(flat, warmup_s=60)
    assert memory is not None
    assert abs(memory.slope_mib_per_h) < 1
    assert memory_failures(memory) == []
    # 100 KiB a second: a leak of about 350 MiB an hour, and 170 MiB over this life.
    leaking = Life(pid=1, started=0.0, samples=[(t, 180_000 + 100 * t) for t in range(0, 1800, 2)])
    memory = memory_of(leaking, warmup_s=60)
    assert memory is not None
    assert memory.slope_mib_per_h == pytest.approx(100 * 3600 / 1024)
    failures = memory_failures(memory)
    assert len(failures) == 2, failures
    # A short life is judged on its growth only: its slope says little.
    short = Life(pid=1, started=0.0, samples=[(t, 180_000 + 100 * t) for t in range(0, 120, 2)])
    memory = memory_of(short, warmup_s=10)
    assert memory is not None
    assert memory_failures(memory) == []
    assert memory_of(Life(pid=1, started=0.0, samples=[(0, 1), (70, 2)]), 60) is None
