"""The engine's numba kernels.

numba's on-disk cache (`cache=True`) is keyed on each kernel's own source file, but a kernel
compiles in the code of the kernels it calls from other files: after an edit to `parse.py`,
`book.py`'s cached `ingest_frame_` would keep running the old parser. So the cache is
checked against a fingerprint of every kernel source here, before any kernel loads, and
cleared when any of them changed.

Every kernel is compiled with `_nrt=False`: numba's reference counting makes an atomic
increment and decrement for each array view made or passed in a call, which took half of the
receive path kernel's time. The kernels allocate nothing (a kernel that allocated would not
compile), so they lose nothing by it; nor may one return an array, which nothing would own.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from numba import njit
from numba.core.dispatcher import Dispatcher

_F = TypeVar("_F", bound=Callable[..., Any])


def kernel(fn: _F) -> Dispatcher[_F]:
    """`@njit` as every kernel is compiled: cached, without the GIL and without reference
    counting (see above). numba's stubs do not know `_nrt`, numba's own name for it."""
    return cast("Dispatcher[_F]", njit(cache=True, nogil=True, _nrt=False)(fn))  # type: ignore[call-overload]


def inline_kernel(fn: _F) -> Dispatcher[_F]:
    """`kernel`, for a small helper inlined into its callers by numba."""
    compiled = njit(cache=True, nogil=True, _nrt=False, inline="always")  # type: ignore[call-overload]
    return cast("Dispatcher[_F]", compiled(fn))


_HERE = Path(__file__).parent
_CACHE = _HERE / "__pycache__"
_STAMP = _CACHE / "kernels.sources"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for source in sorted(_HERE.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _drop_stale_cache() -> None:
    current = _fingerprint()
    with contextlib.suppress(OSError):
        if _STAMP.read_text() == current:
            return
    with contextlib.suppress(OSError):  # a read-only install keeps whatever it has
        for cached in (*_CACHE.glob("*.nbi"), *_CACHE.glob("*.nbc")):
            cached.unlink(missing_ok=True)
        _CACHE.mkdir(exist_ok=True)
        _STAMP.write_text(current)


_drop_stale_cache()
