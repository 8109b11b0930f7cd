"""Per-component liveness and readiness of a running engine, judged from its snapshot region.

`hftui status` shows one line per component and `status --json` a `components` object. Each
component is `{"live": bool, "ready": bool, "detail": str}`: *live* says the part is up and
answering, *ready* that it can do its job now. A part the engine does not use at the moment
(the user-data stream outside live, a TUI when none controls the engine, metrics turned off,
strategies when none is enabled) is ready and not live, and its detail starts with "n/a".
The engine is ready when every component is.

Everything here reads records the engine's publisher wrote (see HEADER_DTYPE in
`hftui.protocol`); nothing asks the engine, so a stuck engine cannot stall `hftui status`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, TypedDict

import numpy as np

from hftui.protocol import STRATEGY_STATES, FeedState, Mode, decode_text

__all__ = ["COMPONENTS", "Component", "all_ready", "components"]

# In the order `hftui status` prints them.
COMPONENTS: Final = (
    "engine",
    "market_data",
    "user_stream",
    "venue_rest",
    "journal",
    "risk",
    "strategies",
    "metrics",
    "tui_link",
)

ENGINE_SILENT_S: Final = 2.0  # a heartbeat older than this: the engine is not responding
JOURNAL_BACKLOG: Final = 10_000  # queued records beyond this: the writer cannot keep up
_BREAKER: Final = ("closed", "half-open", "open")  # HEADER_DTYPE.rest_breaker
_OPEN: Final = 2


class Component(TypedDict):
    live: bool
    ready: bool
    detail: str


def _c(live: bool, ready: bool, detail: str) -> Component:
    return {"live": live, "ready": ready, "detail": detail}


def _ago(now_ns: int, then_ns: int) -> str:
    return f"{max(0.0, (now_ns - then_ns) / 1e9):.1f}s ago"


def components(
    header: np.void,
    symbols: Sequence[np.void],
    strategies: np.void | None,
    now_ns: int,
    *,
    pid_alive: bool,
    metrics_url: str | None,
    metrics_enabled: bool = True,
) -> dict[str, Component]:
    """Each component's state, keyed as in `COMPONENTS`.

    Args:
        header: a consistent copy of the region's header record.
        symbols: the first `n_symbols` symbol blocks.
        strategies: the strategies block (None: not read).
        now_ns: wall clock to measure ages from.
        pid_alive: the engine's process exists.
        metrics_url: where the engine said its exporter listens (None: not listening).
        metrics_enabled: `[metrics] enabled` (False: no exporter is expected).
    """
    engine = _engine(header, now_ns, pid_alive)
    if not engine["live"]:
        # The rest of the record is whatever a dead or stuck engine last wrote.
        unknown = _c(False, False, "unknown: the engine is not responding")
        return {name: engine if name == "engine" else unknown for name in COMPONENTS}
    return {
        "engine": engine,
        "market_data": _market_data(header, symbols, now_ns),
        "user_stream": _user_stream(header, now_ns),
        "venue_rest": _venue_rest(header, now_ns),
        "journal": _journal(header, now_ns),
        "risk": _risk(header),
        "strategies": _strategies(strategies),
        "metrics": _metrics(header, metrics_url, metrics_enabled),
        "tui_link": _tui_link(header, now_ns),
    }


def all_ready(parts: Mapping[str, Component]) -> bool:
    return all(part["ready"] for part in parts.values())


def _engine(header: np.void, now_ns: int, pid_alive: bool) -> Component:
    beat = int(header["heartbeat_ns"])
    age_s = (now_ns - beat) / 1e9
    if not pid_alive:
        return _c(False, False, "process gone")
    if not beat or age_s >= ENGINE_SILENT_S:
        return _c(False, False, f"no heartbeat for {age_s:.1f}s")
    if header["stopping"]:
        return _c(True, False, "stopping")
    return _c(True, True, f"heartbeat {_ago(now_ns, beat)}")


def _market_data(header: np.void, symbols: Sequence[np.void], now_ns: int) -> Component:
    connected = bool(header["ws_connected"])
    if not header["stream_url"]:
        return _c(False, False, "starting: no venue yet")
    if not symbols:
        return _c(connected, False, "no symbols yet")
    states = {decode_text(s["symbol"]): FeedState(int(s["feed_state"])) for s in symbols}
    behind = [f"{name} {state.label}" for name, state in states.items() if state != FeedState.LIVE]
    received = [int(s["recv_ns"]) for s in symbols]
    age = f"feed age {(now_ns - min(received)) / 1e9:.1f}s" if all(received) else "no frames"
    live_n = len(states) - len(behind)
    head = f"{live_n}/{len(states)} synced and live, {age}"
    if not connected:
        head = f"stream down; {head}"
    detail = f"{head}; {', '.join(behind)}" if behind else head
    return _c(connected, connected and not behind, detail)


def _user_stream(header: np.void, now_ns: int) -> Component:
    mode = Mode(int(header["mode"]))
    if mode != Mode.LIVE:
        return _c(False, True, f"n/a ({mode.label} mode)")
    last = int(header["user_event_ns"])
    heard = f"last event {_ago(now_ns, last)}" if last else "no event yet"
    if header["user_stream_up"]:
        return _c(True, True, f"connected, {heard}")
    return _c(False, False, f"disconnected, {heard}")


def _venue_rest(header: np.void, now_ns: int) -> Component:
    breaker = int(header["rest_breaker"])
    parts = [f"circuit {_BREAKER[breaker] if breaker < len(_BREAKER) else breaker}"]
    ban_until = int(header["venue_ban_until_ns"])
    banned = ban_until > now_ns
    if banned:
        parts.append(f"rate limited for {(ban_until - now_ns) / 1e9:.1f}s more")
    error_ns = int(header["venue_error_ns"])
    if error_ns:
        parts.append(f"last error {_ago(now_ns, error_ns)}: {decode_text(header['venue_error'])}")
    live = breaker != _OPEN
    return _c(live, live and not banned, "; ".join(parts))


def _journal(header: np.void, now_ns: int) -> Component:
    pending = int(header["journal_pending"])
    committed = int(header["journal_commit_ns"])
    last = f"last commit {_ago(now_ns, committed)}" if committed else "nothing committed yet"
    detail = f"queue {pending}, {last}"
    if header["journal_failing"]:
        return _c(False, False, f"commits failing; {detail}")
    if pending > JOURNAL_BACKLOG:
        return _c(True, False, f"behind; {detail}")
    return _c(True, True, detail)


def _risk(header: np.void) -> Component:
    if header["killed"]:
        reason = decode_text(header["kill_reason"]) or "kill switch"
        return _c(True, False, f"killed ({reason}); `hftui rearm` to re-arm")
    return _c(True, True, "armed")


def _strategies(block: np.void | None) -> Component:
    if block is None:
        return _c(False, True, "n/a (not read)")
    rows = [block["rows"][k] for k in range(int(block["count"]))]
    if not rows:
        return _c(False, True, "n/a (none enabled)")
    faults: list[str] = []
    running = 0
    for row in rows:
        state = STRATEGY_STATES[int(row["state"])]
        why = decode_text(row["why"])
        if state == "running":
            running += 1
        elif state == "failed" or not row["by_trader"]:  # a host pause (error, budget)
            faults.append(f"{decode_text(row['name'])} {state}: {why}")
    detail = f"{running}/{len(rows)} running"
    if faults:
        detail = f"{detail}; {'; '.join(faults)}"
    return _c(running > 0, not faults, detail)


def _metrics(header: np.void, url: str | None, enabled: bool) -> Component:
    if not enabled:
        return _c(False, True, "n/a (off)")
    if url is None:
        return _c(False, False, "not listening (no port could be bound at start; see the log)")
    port = int(header["metrics_port"])
    if port:
        return _c(True, True, f"listening on {url}")
    return _c(False, False, f"not serving (was {url})")


def _tui_link(header: np.void, now_ns: int) -> Component:
    pid = int(header["tui_pid"])
    if not pid:
        return _c(False, True, "n/a (no TUI in control)")
    beat = int(header["tui_heartbeat_ns"])
    after_s = int(header["dead_man_after_ms"]) / 1000
    age_s = (now_ns - beat) / 1e9 if beat else float("inf")
    if age_s < after_s:
        return _c(True, True, f"pid {pid}, heartbeat {_ago(now_ns, beat)}")
    heard = f"last heartbeat {_ago(now_ns, beat)}" if beat else "no heartbeat"
    return _c(False, False, f"pid {pid} silent: {heard} (dead man after {after_s:g}s)")
