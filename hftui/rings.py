"""The two rings between the engine and its clients, in shared memory.

**Command ring** (TUI and CLI -> engine): fixed-size `COMMAND_DTYPE` records. Several clients
may send at once (a TUI and `hftui kill` from a second SSH session), so producers take an
exclusive `flock` on a lock file while they claim a slot; the engine, the only consumer,
never locks. A producer writes the record, then its `commit` field (the ring position + 1)
last, then advances `head`; the engine consumes a slot only once `commit` says it is whole,
and publishes how far it got in `tail`, which producers read to refuse a full ring instead of
overwriting. A producer killed mid-write leaves `head` alone, so the slot is simply reused.

**Event ring** (engine -> any number of readers): `EVENT_DTYPE` records, broadcast. Each slot
has a seqlock (2n+1 while event n is written, 2n+2 when done); readers keep their own cursor
and never write. A reader that falls a whole ring behind detects the overrun, skips to the
oldest event still there, and should resync its view from the snapshot region.

Segments are 0600 and named after the engine instance and pid. Clients map them with
`shm_open` + `mmap`, never `SharedMemory`, so Python 3.11's resource tracker cannot unlink
them when a client exits.
"""

from __future__ import annotations

import _posixshmem
import contextlib
import fcntl
import mmap
import os
import struct
import sys
import time
from collections.abc import Callable
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np

from hftui.protocol import (
    COMMAND_DTYPE,
    COMMAND_TAGS,
    EVENT_DTYPE,
    FLAG_FLATTEN,
    FLAG_POST_ONLY,
    FLAG_REDUCE_ONLY,
    AlertRaised,
    CancelAll,
    CancelOrder,
    Command,
    CommandAnswered,
    Event,
    EventKind,
    Flatten,
    Heartbeat,
    Kill,
    Mode,
    ModeChanged,
    OrderChanged,
    OrderFilled,
    OrderStatus,
    OrderType,
    PauseStrategy,
    PlaceOrder,
    Rearm,
    Reason,
    ReloadRisk,
    ReloadStrategy,
    ReplaceOrder,
    ResumeStrategy,
    SetMode,
    SetStrategyParams,
    Side,
    TakeControl,
    WatchSymbol,
    decode_text,
)

__all__ = [
    "COMMAND_CAPACITY",
    "EVENT_CAPACITY",
    "CommandReceiver",
    "CommandSender",
    "EventReader",
    "EventWriter",
    "Received",
    "RingError",
    "RingFullError",
    "command_segment_name",
    "decode_command",
    "decode_event",
    "encode_command",
    "encode_event",
    "event_segment_name",
]

COMMAND_CAPACITY: Final = 256
EVENT_CAPACITY: Final = 4096
_RING_MAGIC: Final = 0x474E4952_49555446  # b"FTUIRING"
_RING_LAYOUT: Final = 2
_FLAG_CLAIM: Final = 8  # a heartbeat that claims control (COMMAND_DTYPE.flags)
_FLAG_WATCH: Final = 16  # WatchSymbol: follow (set) or drop (clear) the symbol
_POPULATE: Final = getattr(mmap, "MAP_POPULATE", 0)  # Linux only

# Counters on their own cache lines: producers write `head`, the consumer `tail`.
_RING_HEADER: Final = np.dtype(
    {
        "names": ["magic", "layout", "capacity", "record_size", "head", "tail"],
        "formats": ["<u8", "<u4", "<u4", "<u4", "<u8", "<u8"],
        "offsets": [0, 8, 12, 16, 64, 128],
        "itemsize": 192,
    }
)


class RingError(RuntimeError):
    """A ring segment is missing or not a ring of this layout, or a record is malformed."""


class Received(NamedTuple):
    """One command as the engine takes it off the ring."""

    request_id: int
    sender_pid: int
    sent_ns: int  # the sender's CLOCK_MONOTONIC when it queued the command
    command: Command | RingError


class RingFullError(RingError):
    """The engine has not consumed commands for a whole ring: it is stuck or gone."""


def command_segment_name(instance: str, pid: int) -> str:
    return f"hftui_{instance}_{pid}_cmd"


def event_segment_name(instance: str, pid: int) -> str:
    return f"hftui_{instance}_{pid}_evt"


def _create(name: str, record: np.dtype[np.void], capacity: int) -> shared_memory.SharedMemory:
    size = _RING_HEADER.itemsize + capacity * record.itemsize
    shm = shared_memory.SharedMemory(name=name, create=True, size=size)
    if shm.buf is None:
        raise RingError(f"segment {name!r} could not be mapped")
    # Fault every page in now: a first touch of a page later costs its writer a page fault
    # (about 3 us here) on the engine's loop, once per page, and the first lap of the event
    # ring set its latency p99 (benchmarks/bench_ring.py). Clients map with MAP_POPULATE.
    np.ndarray((size,), np.uint8, buffer=shm.buf)[:: mmap.PAGESIZE] = 0
    header = np.ndarray((), _RING_HEADER, buffer=shm.buf)
    header["capacity"] = capacity
    header["record_size"] = record.itemsize
    header["layout"] = _RING_LAYOUT
    header["magic"] = _RING_MAGIC
    del header
    return shm


def _buffer(shm: shared_memory.SharedMemory) -> memoryview:
    if shm.buf is None:
        raise RingError(f"segment {shm.name!r} is not mapped")
    return shm.buf


def _attach(name: str, record: np.dtype[np.void], writable: bool) -> tuple[mmap.mmap, int]:
    flags = os.O_RDWR if writable else os.O_RDONLY
    try:
        fd = _posixshmem.shm_open("/" + name, flags, mode=0o600)
    except FileNotFoundError as exc:
        raise RingError(f"ring segment {name!r} does not exist") from exc
    try:
        size = os.fstat(fd).st_size
        if size < _RING_HEADER.itemsize:
            raise RingError(f"ring segment {name!r} is too small")
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        # MAP_POPULATE: the page tables are filled now, not by a fault per page on first read.
        mapping = mmap.mmap(fd, size, flags=mmap.MAP_SHARED | _POPULATE, prot=prot)
    finally:
        os.close(fd)
    header = np.ndarray((), _RING_HEADER, buffer=mapping)
    ok = (
        int(header["magic"]) == _RING_MAGIC
        and int(header["layout"]) == _RING_LAYOUT
        and int(header["record_size"]) == record.itemsize
        and size >= _RING_HEADER.itemsize + int(header["capacity"]) * record.itemsize
    )
    capacity = int(header["capacity"])
    del header
    if not ok:
        mapping.close()
        raise RingError(f"segment {name!r} is not a ring of this layout")
    return mapping, capacity


class _OwnedRing:
    """The engine's side of a ring: creates the segment, maps header and slots, and finally
    unlinks it. Clients attach with `_attach` instead."""

    def __init__(self, name: str, record: np.dtype[np.void], capacity: int) -> None:
        self.name = name
        self._shm = _create(name, record, capacity)
        buf = _buffer(self._shm)
        self._header = np.ndarray((), _RING_HEADER, buffer=buf)
        self._slots = np.ndarray((capacity,), record, buffer=buf, offset=_RING_HEADER.itemsize)
        self._capacity = capacity
        self._closed = False

    def close(self, unlink: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        del self._header, self._slots  # numpy views pin the mapping
        self._shm.close()
        if unlink:
            with contextlib.suppress(FileNotFoundError):
                self._shm.unlink()


def _text(value: str, field: str, size: int) -> bytes:
    raw = value.encode()
    if len(raw) > size:
        raise ValueError(f"{field} is longer than {size} bytes: {value[:40]!r}")
    return raw


# ---- commands -----------------------------------------------------------------------------


def encode_command(command: Command, out: np.ndarray) -> None:
    """Fill the record `out` (a 0-d COMMAND_DTYPE view) from `command`, all but `commit`,
    `request_id` and `sender_pid`.

    Raises:
        ValueError: a field does not fit its record slot.
    """
    out["kind"] = COMMAND_TAGS[command.tag]
    out["side"] = 0
    out["order_type"] = 0
    out["flags"] = 0
    out["mode"] = 0
    out["symbol"] = b""
    out["qty"] = b""
    out["price"] = b""
    out["text"] = b""
    out["params"] = b""
    match command:
        case PlaceOrder():
            out["symbol"] = _text(command.symbol, "symbol", 16)
            out["side"] = int(command.side)
            out["order_type"] = int(command.order_type)
            out["qty"] = _text(command.qty, "qty", 32)
            out["price"] = _text(command.price, "price", 32)
            out["flags"] = (FLAG_POST_ONLY if command.post_only else 0) | (
                FLAG_REDUCE_ONLY if command.reduce_only else 0
            )
        case CancelOrder():
            out["text"] = _text(command.client_id, "client id", 64)
        case ReplaceOrder():
            out["text"] = _text(command.client_id, "client id", 64)
            out["qty"] = _text(command.qty, "qty", 32)
            out["price"] = _text(command.price, "price", 32)
        case CancelAll() | Flatten():
            out["symbol"] = _text(command.symbol, "symbol", 16)
        case Kill():
            out["flags"] = FLAG_FLATTEN if command.flatten else 0
        case SetMode():
            out["mode"] = int(command.mode)
            out["text"] = _text(command.confirm, "confirmation", 64)
        case PauseStrategy() | ResumeStrategy() | ReloadStrategy():
            out["text"] = _text(command.name, "strategy name", 64)
        case SetStrategyParams():
            out["text"] = _text(command.name, "strategy name", 64)
            out["params"] = _text(command.params, "params", 256)
        case Heartbeat():
            out["flags"] = _FLAG_CLAIM if command.claim else 0
            out["qty"] = str(command.read).encode()  # counters as text: no numeric field fits
            out["price"] = str(command.overruns).encode()
        case WatchSymbol():
            out["symbol"] = _text(command.symbol, "symbol", 16)
            out["flags"] = _FLAG_WATCH if command.watch else 0
        case Rearm() | ReloadRisk() | TakeControl():
            pass


def decode_command(record: np.void) -> Command:
    """The command in a record.

    Raises:
        RingError: an unknown kind or an out-of-range enum value.
    """
    try:
        kind = int(record["kind"])
        symbol = decode_text(record["symbol"])
        text = decode_text(record["text"])
        flags = int(record["flags"])
        if kind == COMMAND_TAGS["place"]:
            return PlaceOrder(
                symbol,
                Side(int(record["side"])),
                decode_text(record["qty"]),
                decode_text(record["price"]),
                OrderType(int(record["order_type"])),
                post_only=bool(flags & FLAG_POST_ONLY),
                reduce_only=bool(flags & FLAG_REDUCE_ONLY),
            )
        if kind == COMMAND_TAGS["heartbeat"]:
            read, overruns = _counter(record["qty"]), _counter(record["price"])
            return Heartbeat(bool(flags & _FLAG_CLAIM), read, overruns)
        simple: dict[int, Command] = {
            COMMAND_TAGS["cancel"]: CancelOrder(text),
            COMMAND_TAGS["cancel_all"]: CancelAll(symbol),
            COMMAND_TAGS["flatten"]: Flatten(symbol),
            COMMAND_TAGS["kill"]: Kill(bool(flags & FLAG_FLATTEN)),
            COMMAND_TAGS["rearm"]: Rearm(),
            COMMAND_TAGS["reload_risk"]: ReloadRisk(),
            COMMAND_TAGS["pause"]: PauseStrategy(text),
            COMMAND_TAGS["resume"]: ResumeStrategy(text),
            COMMAND_TAGS["reload_strategy"]: ReloadStrategy(text),
            COMMAND_TAGS["set_params"]: SetStrategyParams(text, decode_text(record["params"])),
            COMMAND_TAGS["take_control"]: TakeControl(),
            COMMAND_TAGS["watch"]: WatchSymbol(symbol, bool(flags & _FLAG_WATCH)),
        }
        if kind == COMMAND_TAGS["replace"]:
            return ReplaceOrder(text, decode_text(record["qty"]), decode_text(record["price"]))
        if kind == COMMAND_TAGS["mode"]:
            return SetMode(Mode(int(record["mode"])), text)
        return simple[kind]
    except (KeyError, ValueError) as exc:
        raise RingError(f"malformed command record: {exc}") from None


def _counter(field: bytes) -> int:
    # A non-negative decimal counter in a text field ("" is 0); ValueError otherwise.
    value = int(decode_text(field) or "0")
    if not 0 <= value < 2**63:
        raise ValueError(f"counter out of range: {value}")
    return value


class CommandSender:
    """A client's side of the command ring (the TUI, or one CLI call)."""

    def __init__(self, name: str, lock_path: Path) -> None:
        self.name = name
        self._map, self._capacity = _attach(name, COMMAND_DTYPE, writable=True)
        self._header = np.ndarray((), _RING_HEADER, buffer=self._map)
        self._slots = np.ndarray(
            (self._capacity,), COMMAND_DTYPE, buffer=self._map, offset=_RING_HEADER.itemsize
        )
        self._lock_path = lock_path
        self._pid = os.getpid()

    def send(self, command: Command, sent_ns: int | None = None) -> int:
        """Queue `command` for the engine; returns its request id.

        Args:
            command: what to do.
            sent_ns: CLOCK_MONOTONIC of the key press that asked for it; now by default.

        Raises:
            ValueError: a field is too long for the record.
            RingFullError: the engine has not consumed a whole ring of commands.
        """
        request_id = int.from_bytes(os.urandom(8), "little") >> 1 or 1
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            head = int(self._header["head"])
            if head - int(self._header["tail"]) >= self._capacity:
                raise RingFullError("the engine is not reading commands (command ring full)")
            slot = self._slots[head % self._capacity : head % self._capacity + 1].reshape(())
            encode_command(command, slot)
            slot["request_id"] = request_id
            slot["sender_pid"] = self._pid
            slot["sent_ns"] = time.monotonic_ns() if sent_ns is None else sent_ns
            slot["commit"] = head + 1  # the record is whole from here on
            self._header["head"] = head + 1
        finally:
            os.close(fd)  # releases the lock
        return request_id

    def close(self) -> None:
        del self._header, self._slots
        self._map.close()


class CommandReceiver(_OwnedRing):
    """The engine's side: creates the ring and takes commands off it, never blocking."""

    def __init__(self, name: str, capacity: int = COMMAND_CAPACITY) -> None:
        super().__init__(name, COMMAND_DTYPE, capacity)

    def poll(self, limit: int = 64) -> list[tuple[int, int, Command | RingError]]:
        """Up to `limit` committed commands as (request_id, sender_pid, command), oldest
        first; a malformed record comes back as its `RingError` so it can be answered."""
        return [(r.request_id, r.sender_pid, r.command) for r in self.poll_stamped(limit)]

    def poll_stamped(self, limit: int = 64) -> list[Received]:
        """As `poll`, with each command's send time."""
        out: list[Received] = []
        tail = int(self._header["tail"])
        while len(out) < limit:
            slot = self._slots[tail % self._capacity]
            if int(slot["commit"]) != tail + 1:
                break
            record = slot.copy()
            try:
                command: Command | RingError = decode_command(record)
            except RingError as exc:
                command = exc
            out.append(
                Received(
                    int(record["request_id"]),
                    int(record["sender_pid"]),
                    int(record["sent_ns"]),
                    command,
                )
            )
            tail += 1
            self._header["tail"] = tail
        return out


# ---- events -------------------------------------------------------------------------------


def encode_event(event: Event, out: np.ndarray) -> None:
    """Fill the record `out` (a 0-d EVENT_DTYPE view) from `event`, all but `seq`. Text that
    does not fit is cut (events are for display; the journal keeps the full story)."""
    out["request_id"] = 0
    out["ok"] = 0
    out["side"] = 0
    out["status"] = 0
    out["mode"] = 0
    out["reason"] = 0
    out["symbol"] = b""
    out["client_id"] = b""
    out["qty"] = b""
    out["price"] = b""
    out["filled"] = b""
    out["text"] = _text_bytes(event.text)
    match event:
        case CommandAnswered():
            out["kind"] = EventKind.ANSWER
            out["request_id"] = event.request_id
            out["ok"] = 1 if event.ok else 0
            out["reason"] = int(event.reason)
        case OrderChanged():
            out["kind"] = EventKind.ORDER
            out["client_id"] = event.client_id.encode()[:40]
            out["symbol"] = event.symbol.encode()[:16]
            out["side"] = int(event.side)
            out["status"] = int(event.status)
            out["qty"] = event.qty.encode()[:24]
            out["price"] = event.price.encode()[:24]
            out["filled"] = event.filled.encode()[:24]
            out["reason"] = int(event.reason)
        case OrderFilled():
            out["kind"] = EventKind.FILL
            out["client_id"] = event.client_id.encode()[:40]
            out["symbol"] = event.symbol.encode()[:16]
            out["side"] = int(event.side)
            out["qty"] = event.qty.encode()[:24]
            out["price"] = event.price.encode()[:24]
        case AlertRaised():
            out["kind"] = EventKind.ALERT
            out["reason"] = event.level
        case ModeChanged():
            out["kind"] = EventKind.MODE
            out["mode"] = int(event.mode)
            out["ok"] = 1 if event.killed else 0


def decode_event(record: np.void) -> Event:
    """The event in a record.

    Raises:
        RingError: an unknown kind or an out-of-range enum value.
    """
    return _decode_at(record.tobytes(), 0)


_KIND_ANSWER: Final = int(EventKind.ANSWER)  # plain ints: compared once per record
_KIND_ORDER: Final = int(EventKind.ORDER)
_KIND_FILL: Final = int(EventKind.FILL)
_KIND_ALERT: Final = int(EventKind.ALERT)
_KIND_MODE: Final = int(EventKind.MODE)

# Enum members by value: a dict lookup is ~10x cheaper than calling the enum class.
_REASONS: Final = {m.value: m for m in Reason}
_SIDES: Final = {m.value: m for m in Side}
_STATUSES: Final = {m.value: m for m in OrderStatus}
_MODES: Final = {m.value: m for m in Mode}


def _fields_struct(names: tuple[str, ...], start: int, end: int | None = None) -> struct.Struct:
    # The named fields of an EVENT_DTYPE record, in record order, at their offsets counted
    # from byte `start` of the record; the bytes between them skipped (written as zeros by
    # pack_into) and, with `end`, up to that byte. One struct call per event instead of a
    # numpy access per field (about 1 us against 7 us).
    codes = {"<u8": "Q", "<i8": "q", "|u1": "B", "|i1": "b", "<u2": "H"}
    fields: dict[str, Any] = dict(EVENT_DTYPE.fields or {})
    fmt, pos = "<", start
    for name in EVENT_DTYPE.names or ():
        if name in names:
            dtype, offset = fields[name][:2]
            fmt += "x" * (offset - pos)
            fmt += f"{dtype.itemsize}s" if dtype.kind == "S" else codes[dtype.str]
            pos = offset + dtype.itemsize
    return struct.Struct(fmt + "x" * ((end or pos) - pos))


# A reader per kind unpacks, from the slot's start, only the fields its kind has (fewer
# objects made than from the whole record) and builds the event. Text fields come back
# padded with zeros: `.rstrip(b"\0").decode(...)` is decode_text, written out to save a call.
_ANSWER_IN: Final = _fields_struct(("request_id", "ok", "reason", "text"), 0).unpack_from
_ORDER_IN: Final = _fields_struct(
    ("side", "status", "reason", "symbol", "client_id", "qty", "price", "filled", "text"), 0
).unpack_from
_FILL_IN: Final = _fields_struct(
    ("side", "symbol", "client_id", "qty", "price", "text"), 0
).unpack_from
_ALERT_IN: Final = _fields_struct(("reason", "text"), 0).unpack_from
_MODE_IN: Final = _fields_struct(("ok", "mode", "text"), 0).unpack_from


def _read_answer(buf: bytes | mmap.mmap, at: int) -> CommandAnswered:
    request_id, ok, reason, text = _ANSWER_IN(buf, at)
    return CommandAnswered(
        request_id, ok != 0, _REASONS[reason], text.rstrip(b"\0").decode("utf-8", "replace")
    )


def _read_order(buf: bytes | mmap.mmap, at: int) -> OrderChanged:
    side, status, reason, symbol, client_id, qty, price, filled, text = _ORDER_IN(buf, at)
    return OrderChanged(
        client_id.rstrip(b"\0").decode("utf-8", "replace"),
        symbol.rstrip(b"\0").decode("utf-8", "replace"),
        _SIDES[side],
        _STATUSES[status],
        qty.rstrip(b"\0").decode("utf-8", "replace"),
        price.rstrip(b"\0").decode("utf-8", "replace"),
        filled.rstrip(b"\0").decode("utf-8", "replace"),
        _REASONS[reason],
        text.rstrip(b"\0").decode("utf-8", "replace"),
    )


def _read_fill(buf: bytes | mmap.mmap, at: int) -> OrderFilled:
    side, symbol, client_id, qty, price, text = _FILL_IN(buf, at)
    return OrderFilled(
        client_id.rstrip(b"\0").decode("utf-8", "replace"),
        symbol.rstrip(b"\0").decode("utf-8", "replace"),
        _SIDES[side],
        qty.rstrip(b"\0").decode("utf-8", "replace"),
        price.rstrip(b"\0").decode("utf-8", "replace"),
        text.rstrip(b"\0").decode("utf-8", "replace"),
    )


def _read_alert(buf: bytes | mmap.mmap, at: int) -> AlertRaised:
    level, text = _ALERT_IN(buf, at)
    return AlertRaised(level, text.rstrip(b"\0").decode("utf-8", "replace"))


def _read_mode(buf: bytes | mmap.mmap, at: int) -> ModeChanged:
    ok, mode, text = _MODE_IN(buf, at)
    return ModeChanged(_MODES[mode], ok != 0, text.rstrip(b"\0").decode("utf-8", "replace"))


# The readers indexed by the record's kind byte (None: a kind this build cannot read). A
# list indexed by the byte is cheaper than a dict lookup.
_Read = Callable[[bytes | mmap.mmap, int], Event]
_READERS: Final[list[_Read | None]] = [None] * 256
_READERS[_KIND_ANSWER] = _read_answer
_READERS[_KIND_ORDER] = _read_order
_READERS[_KIND_FILL] = _read_fill
_READERS[_KIND_ALERT] = _read_alert
_READERS[_KIND_MODE] = _read_mode
_KIND_AT: Final = EVENT_DTYPE.fields["kind"][1] if EVENT_DTYPE.fields else 24


def _decode_at(buf: bytes | mmap.mmap, at: int) -> Event:
    kind = buf[at + _KIND_AT]
    read = _READERS[kind]
    if read is None:
        raise RingError(f"malformed event record: unknown event kind {kind}")
    try:
        return read(buf, at)
    except KeyError as exc:
        raise RingError(f"malformed event record: no such value {exc}") from None


_SLOTS_AT: Final = _RING_HEADER.itemsize  # the first slot's offset in the segment
_EVENT_SIZE: Final = EVENT_DTYPE.itemsize
_HEAD_OFFSET: Final = _RING_HEADER.fields["head"][1] if _RING_HEADER.fields else 64
_HEAD_WORD: Final = _HEAD_OFFSET >> 3
if _SLOTS_AT % 8 or _EVENT_SIZE % 8 or _HEAD_OFFSET % 8 or sys.byteorder != "little":
    raise ImportError("the event ring needs 8-byte aligned words in little-endian order")


def _words(view: memoryview) -> memoryview:
    # The segment as native 64-bit words: a sequence number or the head read or written by
    # index costs about 35 ns against 95 ns through struct. Every slot, and so its `seq`,
    # starts on a multiple of 8, and native order is the record's "<u8" (checked above).
    return view[: len(view) & ~7].cast("Q")


# The writer packs, for each kind of event, the fields that kind has, from the record's
# byte 8 (after `seq`) to its end: the bytes between them are written as zeros, so nothing
# of the slot's previous event stays. Text that does not fit is cut, as `encode_event` does.
# One struct and one function per kind, chosen by type: packing every field of the record
# cost an answer about 590 ns against 220.
_TEXT_BYTES: Final = EVENT_DTYPE["text"].itemsize
_CUT: Final = "…".encode()


def _text_bytes(text: str) -> bytes:
    """`text` for the record's text field: whole if it fits, else cut on a character
    boundary and ended with "…", so that a reader never takes a cut message for all of it."""
    raw = text.encode()
    if len(raw) <= _TEXT_BYTES:
        return raw
    kept = raw[: _TEXT_BYTES - len(_CUT)].decode("utf-8", "ignore").encode()
    return kept + _CUT


def _out(*names: str) -> Callable[..., None]:
    return _fields_struct(("time_ns", "kind", *names), 8, EVENT_DTYPE.itemsize).pack_into


_ANSWER_OUT: Final = _out("request_id", "ok", "reason", "text")
_ORDER_OUT: Final = _out(
    "side", "status", "reason", "symbol", "client_id", "qty", "price", "filled", "text"
)
_FILL_OUT: Final = _out("side", "symbol", "client_id", "qty", "price", "text")
_ALERT_OUT: Final = _out("reason", "text")
_MODE_OUT: Final = _out("ok", "mode", "text")


def _write_answer(buf: memoryview, at: int, e: CommandAnswered) -> None:
    t = _text_bytes(e.text)
    _ANSWER_OUT(buf, at, time.time_ns(), e.request_id, _KIND_ANSWER, e.ok, e.reason, t)


def _write_order(buf: memoryview, at: int, e: OrderChanged) -> None:
    _ORDER_OUT(
        buf,
        at,
        time.time_ns(),
        _KIND_ORDER,
        e.side,
        e.status,
        e.reason,
        e.symbol.encode()[:16],
        e.client_id.encode()[:40],
        e.qty.encode()[:24],
        e.price.encode()[:24],
        e.filled.encode()[:24],
        _text_bytes(e.text),
    )


def _write_fill(buf: memoryview, at: int, e: OrderFilled) -> None:
    _FILL_OUT(
        buf,
        at,
        time.time_ns(),
        _KIND_FILL,
        e.side,
        e.symbol.encode()[:16],
        e.client_id.encode()[:40],
        e.qty.encode()[:24],
        e.price.encode()[:24],
        _text_bytes(e.text),
    )


def _write_alert(buf: memoryview, at: int, e: AlertRaised) -> None:
    _ALERT_OUT(buf, at, time.time_ns(), _KIND_ALERT, e.level, _text_bytes(e.text))


def _write_mode(buf: memoryview, at: int, e: ModeChanged) -> None:
    _MODE_OUT(buf, at, time.time_ns(), _KIND_MODE, e.killed, e.mode, _text_bytes(e.text))


# (`at` is the record's byte 8.)
_WRITERS: Final[dict[type, Callable[[memoryview, int, Any], None]]] = {
    CommandAnswered: _write_answer,
    OrderChanged: _write_order,
    OrderFilled: _write_fill,
    AlertRaised: _write_alert,
    ModeChanged: _write_mode,
}


class EventWriter(_OwnedRing):
    """The engine's side of the event ring: the only writer."""

    def __init__(self, name: str, capacity: int = EVENT_CAPACITY) -> None:
        super().__init__(name, EVENT_DTYPE, capacity)
        self._buf = _buffer(self._shm)
        self._words = _words(self._buf)
        self._head = int(self._header["head"])  # the only writer: no need to read it back

    def publish(self, event: Event) -> int:
        """Append `event`; returns its sequence number."""
        n, words = self._head, self._words
        at = _SLOTS_AT + (n % self._capacity) * _EVENT_SIZE
        write = _WRITERS[type(event)]
        words[at >> 3] = 2 * n + 1
        write(self._buf, at + 8, event)
        words[at >> 3] = 2 * n + 2
        self._head = n + 1
        words[_HEAD_WORD] = n + 1
        return n

    def close(self, unlink: bool = True) -> None:
        if not self._closed:
            self._words.release()  # a view on the mapping would keep it from closing
            del self._buf
        super().close(unlink)


class EventReader:
    """One reader's cursor over the event ring (read-only mapping).

    Args:
        name: the segment.
        from_start: read the events still in the ring; otherwise only those published after
            this reader attached.
    """

    def __init__(self, name: str, from_start: bool = False) -> None:
        self.name = name
        self._map, self._capacity = _attach(name, EVENT_DTYPE, writable=False)
        # Sequence numbers and the head read as words; records unpacked with struct.
        self._words = _words(memoryview(self._map))
        head = self._words[_HEAD_WORD]
        self.cursor = max(0, head - self._capacity + 1) if from_start else head
        self.overruns = 0  # events lost to falling behind, ever

    def poll(self, limit: int = 512) -> tuple[list[Event], bool]:
        """New events, oldest first, and whether this reader was overrun since the last poll
        (then it should resync its view from the snapshots)."""
        # struct on the mapping, not numpy records: a record view and its field reads cost
        # about 10 us per event, this under 1 us (benchmarks/bench_ring.py). The cursor is
        # kept in a local and stored once.
        events: list[Event] = []
        overrun = False
        buf, words, capacity, readers = self._map, self._words, self._capacity, _READERS
        n = self.cursor
        while len(events) < limit:
            at = _SLOTS_AT + (n % capacity) * _EVENT_SIZE
            seq = words[at >> 3]
            if seq == 2 * n + 2:
                read = readers[buf[at + _KIND_AT]]
                try:
                    event = read(buf, at) if read is not None else None
                except KeyError:
                    event = None  # an enum value this reader does not know
                if words[at >> 3] != seq:
                    continue  # rewritten while copying: look again
                n += 1
                if event is not None:  # else a lost event (a kind or value unknown here)
                    events.append(event)
            elif seq > 2 * n + 2:
                # Lapped: skip to the oldest event the writer cannot be overwriting.
                skip_to = max(n + 1, words[_HEAD_WORD] - capacity + 1)
                self.overruns += skip_to - n
                n = skip_to
                overrun = True
            else:
                break  # not written yet, or being written
        self.cursor = n
        return events, overrun

    def close(self) -> None:
        self._words.release()
        self._map.close()
