"""Shared-memory snapshot region with per-block seqlocks.

Layout of one region: a header block, then `MAX_SYMBOLS` symbol blocks, the open-orders block
and the strategies block. Every block is
``[seq: u8][body]`` padded to a cache line. The single writer (the engine) makes `seq` odd,
writes the body, then makes it even again; a reader copies the body between two reads of
`seq` and retries when they differ or are odd. Readers never block the writer.

Ordering: numpy stores and loads are plain aligned memory accesses. On x86-64 (TSO) stores
become visible in program order and loads are not reordered with each other, which is what a
seqlock needs. Weakly ordered CPUs would need fences that Python cannot express.

Segments are created with mode 0600 (the stdlib default) and named after the engine
instance and pid. Readers map the segment read-only with `shm_open` + `mmap` rather than
`SharedMemory`: on Python 3.11 attaching through `SharedMemory` registers the segment with the
reader's resource tracker, which unlinks it when the reader exits. A read-only mapping also
means no reader can corrupt what the engine publishes.
"""

from __future__ import annotations

import _posixshmem
import contextlib
import mmap
import os
import time
from multiprocessing import shared_memory
from typing import Final

import numpy as np

from hftui.protocol import (
    HEADER_DTYPE,
    LAYOUT_VERSION,
    MAGIC,
    MAX_SYMBOLS,
    ORDERS_DTYPE,
    STRATEGIES_DTYPE,
    SYMBOL_DTYPE,
)

__all__ = [
    "REGION_SIZE",
    "RegionError",
    "SnapshotReader",
    "SnapshotWriter",
    "TornReadError",
    "segment_name",
]

_LINE: Final = 64


def _block_dtype(body: np.dtype[np.void]) -> np.dtype[np.void]:
    size = 8 + body.itemsize
    padded = (size + _LINE - 1) // _LINE * _LINE
    return np.dtype({"names": ["seq", "body"], "formats": ["<u8", body], "itemsize": padded})


_HEADER_BLOCK: Final = _block_dtype(HEADER_DTYPE)
_SYMBOL_BLOCK: Final = _block_dtype(SYMBOL_DTYPE)
_ORDERS_BLOCK: Final = _block_dtype(ORDERS_DTYPE)
_ORDERS_OFFSET: Final = _HEADER_BLOCK.itemsize + MAX_SYMBOLS * _SYMBOL_BLOCK.itemsize
_STRATEGIES_BLOCK: Final = _block_dtype(STRATEGIES_DTYPE)
_STRATEGIES_OFFSET: Final = _ORDERS_OFFSET + _ORDERS_BLOCK.itemsize
REGION_SIZE: Final = _STRATEGIES_OFFSET + _STRATEGIES_BLOCK.itemsize


class RegionError(RuntimeError):
    """The segment is missing, too small, or not an hftui snapshot region of this layout."""


class TornReadError(RuntimeError):
    """A block stayed mid-write for longer than a reader will wait (a writer died mid-write)."""


def segment_name(instance: str, pid: int) -> str:
    """Name of the snapshot segment of one engine process."""
    return f"hftui_{instance}_{pid}_snap"


def _strategies_view(buf: memoryview) -> np.ndarray:
    return np.ndarray((1,), dtype=_STRATEGIES_BLOCK, buffer=buf, offset=_STRATEGIES_OFFSET)


def _views(buf: memoryview) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    header = np.ndarray((1,), dtype=_HEADER_BLOCK, buffer=buf, offset=0)
    symbols = np.ndarray(
        (MAX_SYMBOLS,), dtype=_SYMBOL_BLOCK, buffer=buf, offset=_HEADER_BLOCK.itemsize
    )
    orders = np.ndarray((1,), dtype=_ORDERS_BLOCK, buffer=buf, offset=_ORDERS_OFFSET)
    return header, symbols, orders


class SnapshotWriter:
    """The engine's side: creates, writes and finally unlinks the region.

    Use `header_body()` / `symbol_body(i)` inside `begin_*`/`end_*` pairs; the bodies are
    views straight into shared memory, so writing them allocates nothing.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._shm = shared_memory.SharedMemory(name=name, create=True, size=REGION_SIZE)
        buf = self._shm.buf
        if buf is None:
            raise RegionError(f"segment {name!r} could not be mapped")
        self._header, self._symbols, self._orders = _views(buf)
        self._strategies = _strategies_view(buf)
        self._header[0]["seq"] = 0
        body = self._header[0]["body"]
        body["magic"] = MAGIC
        body["layout_version"] = LAYOUT_VERSION
        self._closed = False

    @property
    def header(self) -> np.ndarray:
        """View of the header body (a 0-d structured array)."""
        return self._header["body"][0:1].reshape(())

    def symbol(self, index: int) -> np.ndarray:
        """View of symbol block `index`'s body (a 0-d structured array)."""
        return self._symbols["body"][index : index + 1].reshape(())

    @property
    def orders(self) -> np.ndarray:
        """View of the open-orders block body (a 0-d structured array)."""
        return self._orders["body"][0:1].reshape(())

    @property
    def strategies(self) -> np.ndarray:
        """View of the strategies block body (a 0-d structured array)."""
        return self._strategies["body"][0:1].reshape(())

    def begin_strategies(self) -> None:
        self._strategies["seq"][0] += 1

    def end_strategies(self) -> None:
        self._strategies["seq"][0] += 1

    def begin_orders(self) -> None:
        self._orders["seq"][0] += 1

    def end_orders(self) -> None:
        self._orders["seq"][0] += 1

    def begin_header(self) -> None:
        self._header["seq"][0] += 1

    def end_header(self) -> None:
        self._header["seq"][0] += 1

    def begin_symbol(self, index: int) -> None:
        self._symbols["seq"][index] += 1

    def end_symbol(self, index: int) -> None:
        self._symbols["seq"][index] += 1

    def close(self, unlink: bool = True) -> None:
        """Release the mapping and, by default, remove the segment."""
        if self._closed:
            return
        self._closed = True
        del self._header, self._symbols, self._orders, self._strategies  # views pin the map
        self._shm.close()
        if unlink:
            with contextlib.suppress(FileNotFoundError):
                self._shm.unlink()


class SnapshotReader:
    """A TUI's or CLI's side: attaches read-only in spirit and copies consistent records."""

    def __init__(self, name: str) -> None:
        try:
            fd = _posixshmem.shm_open("/" + name, os.O_RDONLY, mode=0o600)
        except FileNotFoundError as exc:
            raise RegionError(f"shared-memory segment {name!r} does not exist") from exc
        try:
            size = os.fstat(fd).st_size
            if size < REGION_SIZE:
                raise RegionError(f"segment {name!r} is {size} bytes, need {REGION_SIZE}")
            self._map = mmap.mmap(fd, REGION_SIZE, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        self.name = name
        buf = memoryview(self._map)
        self._buf: memoryview | None = buf
        self._header, self._symbols, self._orders = _views(buf)
        self._strategies = _strategies_view(buf)
        magic = int(self._header[0]["body"]["magic"])
        version = int(self._header[0]["body"]["layout_version"])
        if magic != MAGIC or version != LAYOUT_VERSION:
            self.close()
            raise RegionError(
                f"segment {name!r} is not an hftui snapshot region of layout {LAYOUT_VERSION} "
                f"(magic {magic:#x}, layout {version})"
            )

    @staticmethod
    def _read(block: np.ndarray, timeout_s: float) -> np.void:
        deadline = 0.0
        while True:
            before = int(block["seq"])
            if not before & 1:
                copy = block["body"].copy()
                if int(block["seq"]) == before:
                    return copy  # type: ignore[return-value]  # a 0-d copy of a void field
            # Writer mid-update: spin briefly, then yield; give up if it never finishes.
            now = time.monotonic()
            if deadline == 0.0:
                deadline = now + timeout_s
            elif now > deadline:
                raise TornReadError("snapshot block stayed mid-write")
            time.sleep(0)

    def header(self, timeout_s: float = 0.5) -> np.void:
        """A consistent copy of the header record."""
        return self._read(self._header[0], timeout_s)

    def symbol(self, index: int, timeout_s: float = 0.5) -> np.void:
        """A consistent copy of symbol block `index`."""
        return self._read(self._symbols[index], timeout_s)

    def orders(self, timeout_s: float = 0.5) -> np.void:
        """A consistent copy of the open-orders block."""
        return self._read(self._orders[0], timeout_s)

    def strategies(self, timeout_s: float = 0.5) -> np.void:
        """A consistent copy of the strategies block."""
        return self._read(self._strategies[0], timeout_s)

    def strategies_seq(self) -> int:
        return int(self._strategies[0]["seq"])

    def orders_seq(self) -> int:
        return int(self._orders[0]["seq"])

    def symbol_seq(self, index: int) -> int:
        """The block's sequence number: unchanged means nothing new to draw."""
        return int(self._symbols[index]["seq"])

    def close(self) -> None:
        if self._buf is None:
            return
        del self._header, self._symbols, self._orders, self._strategies
        self._buf.release()
        self._buf = None
        self._map.close()
