"""The SSH drop: a real `hftui attach` under a pseudo-terminal controls a real engine on the
local exchange, then gets SIGHUP. The engine applies its dead-man policy: `cancel` cancels
every order and drops to observe, `keep` trades on; the exchange's own books prove it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.engine.binance.client import Credentials, VenueClient
from hftui.instance import find_running, pid_alive
from hftui.protocol import AlertRaised
from hftui.remote import EngineControl
from tests.e2e.test_trading import _engine_config
from tests.e2e.test_tui_process import Terminal
from tests.support.processes import HFTUI, cli, cli_json, eventually, isolated_env, local_exchange
from tests.support.processes import process as hftui_process

# Asserts wall-clock bounds: run one at a time, never beside another end-to-end test.
pytestmark = [pytest.mark.e2e, pytest.mark.timing]


async def _venue_orders(url: str) -> list[dict[str, object]]:
    client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
    try:
        return await client.open_orders()
    finally:
        await client.close()


def _orders_at(url: str) -> list[dict[str, object]]:
    return asyncio.run(_venue_orders(url))


def _resting_bid(env: dict[str, str]) -> str:
    # 1 % under the touch, on the 0.10 tick: rests, inside the fat-finger band.
    doc = orjson.loads(cli(["book", "BTCUSDT", "--depth", "1", "--json"], env).stdout)
    units = round(float(doc["bids"][0][0]) * 10)
    return f"{units * 99 // 100 / 10:.1f}"


def _status(env: dict[str, str]) -> dict[str, object]:
    return cli_json(["status", "--json"], env)


def _dead_man(env: dict[str, str]) -> dict[str, object]:
    doc = _status(env)["dead_man"]
    assert isinstance(doc, dict)
    return doc


def _ok(args: list[str], env: dict[str, str]) -> None:
    done = cli(args, env)
    assert done.returncode == 0, done.stdout + done.stderr


def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = isolated_env(tmp_path)
    env["TERM"] = "xterm-256color"
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, env[name])  # this process reads the engine's events too
    monkeypatch.delenv("HFTUI_CONFIG", raising=False)
    return env


def _config(env: dict[str, str], url: str, extra: str) -> None:
    _engine_config(env, url, '[market]\nsymbols = ["BTCUSDT"]\n' + extra)


def _on_terminal(args: list[str], env: dict[str, str], term: Terminal) -> subprocess.Popen[bytes]:
    """`args` run with `term` as their controlling terminal's stdin, stdout and stderr."""
    return subprocess.Popen(
        args,
        env=env,
        stdin=term.slave,
        stdout=term.slave,
        stderr=term.slave,
        start_new_session=True,
    )


@pytest.mark.parametrize(
    ("policy", "mode"), [("cancel", "live"), ("cancel", "paper"), ("keep", "live")]
)
def test_sighup_to_the_tui_applies_the_dead_man_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, mode: str
) -> None:
    env = _env(tmp_path, monkeypatch)
    with local_exchange(env, tmp_path) as url:
        _config(
            env,
            url,
            f'[engine]\ndead_man = "{policy}"\ndead_man_after_s = 1.0\n[live]\ncountdown_s = 0\n',
        )
        with hftui_process(["engine"], env):
            info = eventually(lambda: find_running("default"), 60)
            eventually(lambda: _status(env)["symbols"]["BTCUSDT"]["synced"], 60)  # type: ignore[index]
            # A headless engine driven by the CLI is not armed: no TUI, no policy.
            assert _dead_man(env) == {
                "policy": policy,
                "after_s": 1.0,
                "tui_pid": None,
                "tui_heartbeat_age_s": None,
            }
            term = Terminal()
            tui = _on_terminal([*HFTUI, "attach"], env, term)
            control = EngineControl(info)
            try:
                eventually(lambda: _dead_man(env)["tui_pid"] == tui.pid, 30)
                age = _dead_man(env)["tui_heartbeat_age_s"]
                assert isinstance(age, float)
                assert age < 1.0
                # Orders from a shell: the CLI is not a TUI, so it is never read-only.
                _ok(["mode", "paper"], env)
                if mode == "live":
                    eventually(lambda: _status(env)["has_keys"], 30)
                    _ok(["mode", "live", "--confirm", "LIVE"], env)
                _ok(
                    ["order", "place", "BTCUSDT", "buy", "0.010", "--price", _resting_bid(env)], env
                )
                eventually(lambda: _status(env)["open_orders"] == 1, 10)
                if mode == "live":
                    assert len(_orders_at(url)) == 1

                tui.send_signal(signal.SIGHUP)
                assert tui.wait(timeout=10) == 128 + signal.SIGHUP
                alerts: list[str] = []

                def alerted() -> bool:
                    events, _ = control.poll()
                    alerts.extend(e.text for e in events if isinstance(e, AlertRaised))
                    return any("dead-man's switch" in text for text in alerts)

                eventually(alerted, 15)
                assert any(f"TUI pid {tui.pid}" in text for text in alerts)
                if policy == "cancel":
                    eventually(lambda: _status(env)["mode"] == "observe", 10)
                    eventually(lambda: _status(env)["open_orders"] == 0, 10)
                    assert _orders_at(url) == []
                else:
                    time.sleep(0.5)
                    status = _status(env)
                    assert (status["mode"], status["open_orders"]) == (mode, 1)
                    assert len(_orders_at(url)) == 1
                assert _dead_man(env)["tui_pid"] is None
                assert _status(env)["running"] is True  # the engine outlived its TUI
            finally:
                control.close()
                if tui.poll() is None:
                    os.kill(tui.pid, signal.SIGKILL)
                    tui.wait()
                term.close()


def test_a_tui_whose_terminal_hangs_up_without_a_signal_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not every hangup brings the TUI a SIGHUP: under a session leader that forwards none
    (`make demo` in a tmux pane that is killed; here `sh -c`), only the leader gets it. The
    TUI sees its terminal go and leaves, so its heartbeats stop and the policy applies; it
    must not linger holding control (and a core, spinning on the dead terminal)."""
    env = _env(tmp_path, monkeypatch)
    with local_exchange(env, tmp_path) as url:
        _config(env, url, "[engine]\ndead_man_after_s = 1.0\n")
        with hftui_process(["engine"], env):
            eventually(lambda: find_running("default"), 60)
            term = Terminal()
            leader = _on_terminal(["sh", "-c", '"$@"; exit 0', "sh", *HFTUI, "attach"], env, term)
            tui_pid = 0
            try:
                found = eventually(lambda: _dead_man(env)["tui_pid"], 30)
                assert isinstance(found, int)
                tui_pid = found
                assert tui_pid != leader.pid
                term.close()  # the terminal goes: the kernel hangs up the session leader only
                leader.wait(timeout=10)
                eventually(lambda: not pid_alive(tui_pid), 10)
                eventually(lambda: _dead_man(env)["tui_pid"] is None, 10)
                assert _status(env)["running"] is True
            finally:
                if tui_pid and pid_alive(tui_pid):
                    os.kill(tui_pid, signal.SIGKILL)
                if leader.poll() is None:
                    leader.kill()
                    leader.wait()


def test_an_engine_the_tui_started_outlives_its_hangup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hftui` over SSH starts the engine itself; the session drops. On a venue (here the
    local exchange run apart, as a remote venue would be) the engine trades on under its
    dead-man policy (`keep`), for `hftui attach` to pick up; only a demo engine with its own
    exchange goes with its TUI (test_tui_process)."""
    env = _env(tmp_path, monkeypatch)
    with local_exchange(env, tmp_path) as url:
        _config(
            env,
            url,
            '[engine]\ndead_man = "keep"\ndead_man_after_s = 1.0\n[strategies]\nenabled = []\n',
        )
        term = Terminal()
        tui = _on_terminal([*HFTUI], env, term)
        engine_pid = 0
        try:
            info = eventually(lambda: find_running("default"), 60)
            engine_pid = info.pid
            eventually(lambda: _dead_man(env)["tui_pid"] == tui.pid, 30)
            eventually(lambda: _status(env)["symbols"]["BTCUSDT"]["synced"], 60)  # type: ignore[index]
            _ok(["mode", "paper"], env)
            _ok(["order", "place", "BTCUSDT", "buy", "0.010", "--price", _resting_bid(env)], env)
            eventually(lambda: _status(env)["open_orders"] == 1, 10)

            tui.send_signal(signal.SIGHUP)
            assert tui.wait(timeout=10) == 128 + signal.SIGHUP
            eventually(lambda: _dead_man(env)["tui_pid"] is None, 10)  # the switch went off
            time.sleep(0.5)
            status = _status(env)
            assert (status["running"], status["engine_pid"]) == (True, engine_pid)
            assert (status["mode"], status["open_orders"]) == ("paper", 1)  # `keep`
        finally:
            if tui.poll() is None:
                os.kill(tui.pid, signal.SIGKILL)
                tui.wait()
            if engine_pid and pid_alive(engine_pid):
                os.kill(engine_pid, signal.SIGTERM)
                eventually(lambda: not pid_alive(engine_pid), 20)
            term.close()
