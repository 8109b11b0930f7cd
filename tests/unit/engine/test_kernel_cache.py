"""The kernels' numba cache is dropped when any kernel source changes, not only its own."""

from __future__ import annotations

from pathlib import Path

import pytest

import hftui.engine.kernels as kernels


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "book.py").write_text("# calls parse\n")
    (tmp_path / "parse.py").write_text("# v1\n")
    cache = tmp_path / "__pycache__"
    monkeypatch.setattr(kernels, "_HERE", tmp_path)
    monkeypatch.setattr(kernels, "_CACHE", cache)
    monkeypatch.setattr(kernels, "_STAMP", cache / "kernels.sources")
    return tmp_path


def _compiled(cache: Path) -> list[Path]:
    # What numba leaves after compiling book.py's kernel (which inlines parse.py's).
    files = [
        cache / "book.ingest_frame_-282.py311.nbi",
        cache / "book.ingest_frame_-282.py311.1.nbc",
    ]
    for f in files:
        f.write_bytes(b"compiled")
    return files


def test_an_edit_to_another_kernel_file_drops_the_whole_cache(package: Path) -> None:
    kernels._drop_stale_cache()  # first run: stamps the sources
    files = _compiled(package / "__pycache__")
    kernels._drop_stale_cache()
    assert all(f.exists() for f in files)  # nothing changed: the cache is kept
    (package / "parse.py").write_text("# v2\n")
    kernels._drop_stale_cache()
    assert not any(f.exists() for f in files)
    assert (package / "__pycache__" / "kernels.sources").read_text() == kernels._fingerprint()


def test_every_kernel_is_compiled_without_reference_counting() -> None:
    # numba's reference counting makes an atomic increment and decrement for every array
    # view made or passed in a call: with it, the receive path's kernel took twice as long
    # (benchmarks/bench_book.py). The kernels allocate nothing, so none needs it, and one
    # that allocated would fail to compile rather than leak.
    from numba.core.registry import CPUDispatcher

    from hftui.engine.kernels import book, decimal, hist, parse

    found = [
        (module.__name__, name, value.targetoptions.get("_nrt"))
        for module in (book, decimal, hist, parse)
        for name, value in vars(module).items()
        if isinstance(value, CPUDispatcher) and value.__module__ == module.__name__
    ]
    assert len(found) >= 20
    assert [f for f in found if f[2] is not False] == []


def test_no_kernel_returns_an_array() -> None:
    # Without reference counting nothing would own an array a kernel handed back.
    from numba import types
    from numba.core.registry import CPUDispatcher

    from hftui.engine.kernels import book, decimal, hist, parse
    from hftui.engine.warmup import warm_kernels

    warm_kernels()
    returns = [
        (name, sig.return_type)
        for module in (book, decimal, hist, parse)
        for name, value in vars(module).items()
        if isinstance(value, CPUDispatcher)
        for sig in value.nopython_signatures
    ]
    assert len(returns) >= 10  # the receive path's kernels, compiled by the warm-up
    assert [r for r in returns if isinstance(r[1], types.Array)] == []
