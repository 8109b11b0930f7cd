"""The engine's numba kernels.

numba's on-disk cache (`cache=True`) is keyed on each kernel's own source file, but a kernel
compiles in the code of the kernels it calls from other files: after an edit to `parse.py`,
`book.py`'s cached `ingest_frame_` would keep running the old parser. So the cache is
checked against a fingerprint of every kernel source here, before any kernel loads, and
cleared when any of them changed.

Every kernel is compiled with `_nrt=False`: numba's reference counting makes an atomic
increment and decrement for each array view made or passed in a call, which took half of the
receive path kernel's time. The kernels allocate nothing (a kernel that allocated would not
compile), so they lose nothing by it.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

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
