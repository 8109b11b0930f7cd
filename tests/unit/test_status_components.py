"""Component liveness and readiness, derived from a real snapshot region filled as a running
engine's publisher fills it (tests/support/region.py), at the tests' frozen clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.protocol import STRATEGY_STATES, FeedState, Mode
from hftui.status_components import COMPONENTS, Component, all_ready, components
from tests.support.region import FROZEN_NS, fill_header, fill_symbol, frozen_region

URL = "http://127.0.0.1:9464/metrics"


@pytest.fixture
def region() -> Iterator[SnapshotWriter]:
    with frozen_region() as writer:
        set_header(
            writer,
            metrics_port=9464,
            journal_commit_ns=FROZEN_NS - 3 * 10**9,
            dead_man_after_ms=5000,
        )
        yield writer


def set_header(writer: SnapshotWriter, **fields: object) -> None:
    writer.begin_header()
    for name, value in fields.items():
        writer.header[name] = value
    writer.end_header()


def add_strategy(
    writer: SnapshotWriter, name: str, state: str, why: str = "", by_trader: bool = False
) -> None:
    writer.begin_strategies()
    block = writer.strategies
    row = block["rows"][int(block["count"])]
    row["name"] = name.encode()
    row["state"] = STRATEGY_STATES.index(state)
    row["by_trader"] = by_trader
    row["why"] = why.encode()
    block["count"] += 1
    block["total"] += 1
    writer.end_strategies()


def derive(
    writer: SnapshotWriter,
    *,
    pid_alive: bool = True,
    metrics_url: str | None = URL,
    metrics_enabled: bool = True,
    now_ns: int = FROZEN_NS,
) -> dict[str, Component]:
    reader = SnapshotReader(writer.name)
    try:
        header = reader.header()
        symbols = [reader.symbol(i) for i in range(int(header["n_symbols"]))]
        return components(
            header,
            symbols,
            reader.strategies(),
            now_ns,
            pid_alive=pid_alive,
            metrics_url=metrics_url,
            metrics_enabled=metrics_enabled,
        )
    finally:
        reader.close()


def not_ready(parts: dict[str, Component]) -> list[str]:
    return [name for name, part in parts.items() if not part["ready"]]


def test_a_healthy_engine_in_observe_is_ready_in_every_component(
    region: SnapshotWriter,
) -> None:
    parts = derive(region)
    assert list(parts) == list(COMPONENTS)
    assert not_ready(parts) == []
    assert all_ready(parts)
    assert parts["engine"] == {"live": True, "ready": True, "detail": "heartbeat 0.0s ago"}
    assert parts["market_data"]["live"]
    assert parts["market_data"]["detail"] == "2/2 synced and live, feed age 0.1s"
    assert parts["journal"]["detail"] == "queue 0, last commit 3.0s ago"
    assert parts["risk"]["detail"] == "armed"
    assert parts["metrics"] == {"live": True, "ready": True, "detail": f"listening on {URL}"}
    assert parts["venue_rest"] == {"live": True, "ready": True, "detail": "circuit closed"}
    # Not in use: ready, not live, said so.
    for name in ("user_stream", "tui_link", "strategies"):
        assert parts[name]["ready"], name
        assert not parts[name]["live"], name
        assert parts[name]["detail"].startswith("n/a"), parts[name]
    assert parts["user_stream"]["detail"] == "n/a (observe mode)"


def test_the_kill_latch_makes_risk_not_ready(region: SnapshotWriter) -> None:
    fill_header(region, killed=True, kill_reason="kill switch (TUI)", killed_ns=FROZEN_NS)
    set_header(region, metrics_port=9464, journal_commit_ns=FROZEN_NS)
    parts = derive(region)
    assert not_ready(parts) == ["risk"]
    assert parts["risk"]["live"]
    assert "killed (kill switch (TUI))" in parts["risk"]["detail"]
    assert not all_ready(parts)


def test_a_down_stream_or_an_unsynced_symbol_makes_market_data_not_ready(
    region: SnapshotWriter,
) -> None:
    fill_symbol(region, 1, synced=False)
    parts = derive(region)
    assert not_ready(parts) == ["market_data"]
    assert parts["market_data"]["live"]  # connected, one book still syncing
    assert parts["market_data"]["detail"].endswith("; ETHUSDT syncing")

    fill_symbol(region, 0, feed_state=FeedState.STALE, age_s=12.0)
    set_header(region, ws_connected=0)
    market = derive(region)["market_data"]
    assert market["live"] is False
    assert market["ready"] is False
    assert market["detail"] == (
        "stream down; 0/2 synced and live, feed age 12.0s; BTCUSDT stale, ETHUSDT syncing"
    )


def test_a_silent_or_gone_engine_leaves_every_other_component_unknown(
    region: SnapshotWriter,
) -> None:
    parts = derive(region, now_ns=FROZEN_NS + 3 * 10**9)
    assert parts["engine"] == {"live": False, "ready": False, "detail": "no heartbeat for 3.0s"}
    assert all(
        not p["ready"] and "unknown" in p["detail"] for n, p in parts.items() if n != "engine"
    )
    assert derive(region, pid_alive=False)["engine"]["detail"] == "process gone"
    set_header(region, stopping=1)
    assert derive(region)["engine"] == {"live": True, "ready": False, "detail": "stopping"}


def test_live_mode_needs_the_user_stream(region: SnapshotWriter) -> None:
    set_header(region, mode=int(Mode.LIVE), user_stream_up=0)
    stream = derive(region)["user_stream"]
    assert stream == {"live": False, "ready": False, "detail": "disconnected, no event yet"}
    set_header(region, user_stream_up=1, user_event_ns=FROZEN_NS - 12 * 10**9)
    stream = derive(region)["user_stream"]
    assert stream == {"live": True, "ready": True, "detail": "connected, last event 12.0s ago"}


def test_venue_rest_open_circuit_ban_and_last_error(region: SnapshotWriter) -> None:
    set_header(
        region,
        venue_error_ns=FROZEN_NS - 2 * 10**9,
        venue_error=b"venue unreachable: POST /fapi/v1/order: ClientConnectorError",
    )
    rest = derive(region)["venue_rest"]
    assert rest["ready"]  # an error alone, circuit closed: the next call may well work
    assert "last error 2.0s ago: venue unreachable" in rest["detail"]
    set_header(region, venue_ban_until_ns=FROZEN_NS + 30 * 10**9)
    rest = derive(region)["venue_rest"]
    assert rest["live"]
    assert not rest["ready"]
    assert "rate limited for 30.0s more" in rest["detail"]
    set_header(region, venue_ban_until_ns=0, rest_breaker=2)
    rest = derive(region)["venue_rest"]
    assert not rest["live"]
    assert not rest["ready"]
    assert rest["detail"].startswith("circuit open")


def test_journal_failing_or_behind(region: SnapshotWriter) -> None:
    set_header(region, journal_failing=1, journal_pending=7)
    journal = derive(region)["journal"]
    assert journal == {
        "live": False,
        "ready": False,
        "detail": "commits failing; queue 7, last commit 3.0s ago",
    }
    set_header(region, journal_failing=0, journal_pending=50_000)
    journal = derive(region)["journal"]
    assert journal["live"]
    assert not journal["ready"]
    assert journal["detail"].startswith("behind; queue 50000")


def test_a_strategy_paused_by_an_error_is_a_fault_one_paused_by_the_trader_is_not(
    region: SnapshotWriter,
) -> None:
    add_strategy(region, "market_maker", "running")
    add_strategy(region, "momentum", "paused", "paused by the trader", by_trader=True)
    part = derive(region)["strategies"]
    assert part == {"live": True, "ready": True, "detail": "1/2 running"}
    # The flag decides, not the words: a host pause that happens to read the same is a fault.
    add_strategy(region, "lookalike", "paused", "paused by the trader")
    assert derive(region)["strategies"]["detail"] == (
        "1/3 running; lookalike paused: paused by the trader"
    )
    add_strategy(region, "broken", "paused", "on_book raised ZeroDivisionError: division by zero")
    part = derive(region)["strategies"]
    assert part["live"]
    assert not part["ready"]
    assert part["detail"] == (
        "1/4 running; lookalike paused: paused by the trader; "
        "broken paused: on_book raised ZeroDivisionError: division by zero"
    )


def test_metrics_and_the_tui_link(region: SnapshotWriter) -> None:
    assert derive(region, metrics_url=None, metrics_enabled=False)["metrics"]["detail"] == (
        "n/a (off)"
    )
    taken = derive(region, metrics_url=None)["metrics"]
    assert not taken["ready"]
    assert "no port could be bound" in taken["detail"]
    set_header(region, metrics_port=0)
    assert derive(region)["metrics"] == {
        "live": False,
        "ready": False,
        "detail": f"not serving (was {URL})",
    }
    set_header(region, tui_pid=777, tui_heartbeat_ns=FROZEN_NS - 300_000_000)
    assert derive(region)["tui_link"] == {
        "live": True,
        "ready": True,
        "detail": "pid 777, heartbeat 0.3s ago",
    }
    set_header(region, tui_heartbeat_ns=FROZEN_NS - 9 * 10**9)
    link = derive(region)["tui_link"]
    assert not link["live"]
    assert not link["ready"]
    assert link["detail"] == "pid 777 silent: last heartbeat 9.0s ago (dead man after 5s)"
