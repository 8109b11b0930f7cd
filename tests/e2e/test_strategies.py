"""End to end: the engine as a real process on a real local exchange runs the example market
maker (from `strategies/`) and a copy of it from the config's extra path; in observe mode the
first's quotes show as "would send" intents, and the second, over its risk budget, is refused
by risk. Both read from the engine's event ring, as the TUI does."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import orjson
import pytest

from hftui.protocol import AlertRaised, OrderChanged, OrderStatus, Reason
from hftui.rings import EventReader, event_segment_name
from tests.e2e.test_trading import _ready
from tests.support.processes import (
    cli,
    cli_json,
    eventually,
    isolated_env,
    journal_audit,
    local_exchange,
    process,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_strategy_intents_show_in_observe_and_a_budget_is_enforced(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    extra = tmp_path / "my_strategies"
    extra.mkdir()
    shutil.copy(ROOT / "strategies" / "market_maker.py", extra / "mm_btc.py")
    with local_exchange(env, tmp_path) as url:
        path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'[venue]\nname = "local"\nurl = "{url}"\n'
            "[risk.budgets]\nmm_btc = 1.0\n"
            f'[strategies]\nenabled = ["market_maker", "mm_btc"]\npath = "{extra}"\n'
            '[strategies.params.mm_btc]\nsymbol = "BTCUSDT"\nqty = "0.002"\n'
        )
        with process(["engine"], env) as engine:
            status = eventually(
                lambda: (doc := cli_json(["status", "--json"], env)).get("running") and doc, 30
            )
            assert isinstance(status, dict)
            reader = eventually(
                lambda: EventReader(
                    event_segment_name("default", int(str(status["engine_pid"]))), from_start=True
                ),
                10,
            )
            would_send: list[str] = []
            refused: list[OrderChanged] = []
            deadline = time.monotonic() + 40
            try:
                while time.monotonic() < deadline and not (would_send and refused):
                    events, _ = reader.poll()
                    for event in events:
                        if isinstance(event, AlertRaised) and "would send" in event.text:
                            would_send.append(event.text)
                        if (
                            isinstance(event, OrderChanged)
                            and event.status == OrderStatus.REJECTED
                            and event.reason == Reason.STRATEGY_BUDGET
                        ):
                            refused.append(event)
                    time.sleep(0.05)
            finally:
                reader.close()
            assert engine.poll() is None, engine.stderr.read() if engine.stderr else ""
            assert any(
                "ETHUSDT" in t and "post-only" in t and t.endswith("[market_maker]")
                for t in would_send
            ), would_send
            assert refused, "no budget refusal seen"
            assert "strategy mm_btc" in refused[0].text, refused
            assert refused[0].symbol == "BTCUSDT"
            done = cli(["status", "--json"], env)
            assert done.returncode == 0


# A strategy whose state the test can follow in the engine's log: it counts books, keeps one
# far-from-the-touch post-only bid working, and logs both twice a second with its version.
COUNTER = """
from __future__ import annotations
from dataclasses import dataclass
from hftui.strategy import OrderBook, Params, Side, Strategy, TimeInForce


@dataclass(frozen=True, slots=True)
class CounterParams(Params):
    symbol: str = "BTCUSDT"
    qty: str = "0.002"


class Counter(Strategy[CounterParams]):
    params_type = CounterParams
    timer_interval_s = 0.5

    def on_start(self) -> None:
        self.books = 0
        self.order = ""

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        if symbol != self.params.symbol:
            return
        self.books += 1
        if not self.order and book.best_bid() > 0:
            price = book.best_bid() - book.best_bid() // 50  # 2 % under: rests, never fills
            lots = self.ctx.lots(symbol, self.params.qty)
            self.order = self.ctx.place(symbol, Side.BUY, lots, price, TimeInForce.GTX)

    def on_timer(self, now_ns: int) -> None:
        open_ = self.ctx.is_open(self.order) if self.order else False
        self.ctx.log(f"counter VERSION books={self.books} order={self.order} open={open_}")
"""

CRASHER = """
from __future__ import annotations
from dataclasses import dataclass
from hftui.strategy import OrderBook, Params, Strategy


@dataclass(frozen=True, slots=True)
class CrasherParams(Params):
    after: int = 5


class Crasher(Strategy[CrasherParams]):
    params_type = CrasherParams

    def on_start(self) -> None:
        self.books = 0

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        self.books += 1
        if self.books >= self.params.after:
            raise RuntimeError("boom")
"""


def _config(env: dict[str, str], url: str, extra: Path, enabled: str, more: str = "") -> None:
    path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[venue]\nname = "local"\nurl = "{url}"\n'
        f'[strategies]\nenabled = [{enabled}]\npath = "{extra}"\nmax_mode = "paper"\n' + more
    )


def _counter_lines(env: dict[str, str]) -> list[tuple[str, int, str, bool]]:
    """(version, books, order, open) of every line the counter logged, oldest first."""
    log = Path(env["XDG_DATA_HOME"]) / "hftui" / "logs" / "engine.log"
    out = []
    for line in log.read_text().splitlines() if log.exists() else []:
        entry = orjson.loads(line)
        text = str(entry.get("msg", ""))
        if entry.get("strategy") == "counter" and text.startswith("counter "):
            version, books, order, open_ = text.split()[1:]
            out.append(
                (version, int(books.split("=")[1]), order.split("=")[1], open_ == "open=True")
            )
    return out


def _strategy(env: dict[str, str], name: str) -> dict[str, object]:
    doc = cli_json(["strategy", "list", "--json"], env)
    rows = doc["strategies"]
    assert isinstance(rows, list)
    found = [r for r in rows if r["name"] == name]
    if not found:  # not published yet (the host starts once the venue's symbols are in)
        raise KeyError(name)
    row = found[0]
    assert isinstance(row, dict)
    return row


def test_a_saved_file_reloads_in_the_running_engine_with_state_and_orders(
    tmp_path: Path,
) -> None:
    env = isolated_env(tmp_path)
    extra = tmp_path / "my_strategies"
    extra.mkdir()
    path = extra / "counter.py"
    path.write_text(COUNTER.replace("VERSION", "v1"))
    with local_exchange(env, tmp_path) as url:
        _config(env, url, extra, '"counter"')
        with process(["engine"], env) as engine:
            _ready(env)  # trading answers (exchangeInfo in), not only the engine running
            status = cli_json(["status", "--json"], env)
            assert cli(["mode", "paper"], env).returncode == 0

            # v1 has its order working and counts on.
            def working() -> tuple[str, int, str, bool] | None:
                lines = _counter_lines(env)
                return lines[-1] if lines and lines[-1][3] and lines[-1][1] > 20 else None

            first = eventually(working, 40)
            order = first[2]
            assert order
            before = _strategy(env, "counter")
            assert before["state"] == "running"
            assert before["open_orders"] == 1  # intents: also the observe ones before paper

            # Saved anew: a new version, picked up by the engine that keeps running.
            path.write_text(COUNTER.replace("VERSION", "v2"))
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
            v2 = eventually(
                lambda: [line for line in _counter_lines(env) if line[0] == "v2"] or None, 20
            )
            last_v1 = max(b for v, b, _, _ in _counter_lines(env) if v == "v1")
            assert v2[0][1] >= last_v1  # the count carried over: no restart from zero
            assert v2[0][2] == order  # the same order, still managed by the new code
            assert v2[0][3]
            after = _strategy(env, "counter")
            assert after["reloads"] == 1
            # Not placed again.
            assert (after["intents"], after["open_orders"]) == (before["intents"], 1)
            assert str(after["last_alert"]).startswith("strategy counter reloaded from")
            orders = cli_json(["orders", "--json"], env)["orders"]
            assert isinstance(orders, list)
            assert [o["client_id"] for o in orders if o["strategy"] == "counter"] == [order]
            now = cli_json(["status", "--json"], env)
            assert now["engine_pid"] == status["engine_pid"]
            assert engine.poll() is None


def test_strategy_commands_from_the_shell_and_a_crash_that_pauses_only_its_strategy(
    tmp_path: Path,
) -> None:
    env = isolated_env(tmp_path)
    extra = tmp_path / "my_strategies"
    extra.mkdir()
    (extra / "crasher.py").write_text(CRASHER)
    with local_exchange(env, tmp_path) as url:
        _config(env, url, extra, '"market_maker", "crasher"')
        with process(["engine"], env) as engine:
            _ready(env)

            # The crasher raises in on_book: paused with its reason and an alert; the market
            # maker goes on sending intents.
            def paused() -> dict[str, object] | None:
                row = _strategy(env, "crasher")
                return row if row["state"] == "paused" else None

            crasher = eventually(paused, 40)
            assert crasher["why"] == "on_book raised RuntimeError: boom"
            assert crasher["errors"] == 1
            assert str(crasher["last_alert"]).startswith("strategy crasher paused: on_book")
            mm = _strategy(env, "market_maker")
            assert mm["state"] == "running"
            intents = mm["intents"]
            assert isinstance(intents, int)
            eventually(lambda: _int(_strategy(env, "market_maker")["intents"]) > intents, 20)

            def answer(*args: str) -> tuple[int, dict[str, object]]:
                done = cli(["strategy", *args, "--json"], env)
                doc = orjson.loads(done.stdout)
                assert isinstance(doc, dict), done.stdout
                return done.returncode, doc

            code, doc = answer("pause", "market_maker")
            assert (code, doc["ok"], doc["text"]) == (0, True, "strategy market_maker paused")
            assert _strategy(env, "market_maker")["state"] == "paused"
            code, doc = answer("resume", "market_maker")
            assert (code, doc["ok"]) == (0, True)
            assert _strategy(env, "market_maker")["state"] == "running"

            code, doc = answer("set", "market_maker", "gamma=0.2", "qty=0.020")
            assert (code, doc["ok"], doc["reason"]) == (0, True, "ok")
            assert doc["text"] == (
                "strategy market_maker parameters: gamma 0.1 -> 0.2, qty 0.010 -> 0.020"
            )
            params = str(_strategy(env, "market_maker")["params"])
            assert "gamma=0.2 " in params
            assert "qty=0.020 " in params
            code, doc = answer("set", "market_maker", "nokey=1")
            assert (code, doc["ok"], doc["reason"]) == (3, False, "bad_command")
            assert "no parameter 'nokey'" in str(doc["text"])
            code, doc = answer("set", "market_maker", "gamma=lots")
            assert (code, doc["reason"]) == (3, "bad_command")
            assert "gamma=lots: expected a float like 0.1" in str(doc["text"])
            assert "gamma=0.2 " in str(_strategy(env, "market_maker")["params"])

            code, doc = answer("reload", "crasher")
            assert (code, doc["ok"]) == (0, True)
            assert str(doc["text"]).startswith("strategy crasher reloaded from")
            code, doc = answer("pause", "nobody")
            assert (code, doc["reason"]) == (3, "not_found")
            bad = cli(["strategy", "set", "market_maker", "gamma"], env)
            assert bad.returncode == 2
            assert "KEY=VALUE" in bad.stderr

            text = cli(["strategy", "list"], env)
            assert text.returncode == 0
            assert "market_maker" in text.stdout
            assert "params: symbol=ETHUSDT" in text.stdout
            assert engine.poll() is None


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def test_enabling_and_disabling_a_strategy_in_the_config_file_of_a_running_engine(
    tmp_path: Path,
) -> None:
    env = isolated_env(tmp_path)
    extra = tmp_path / "my_strategies"
    extra.mkdir()
    (extra / "counter.py").write_text(COUNTER.replace("VERSION", "v1"))
    with local_exchange(env, tmp_path) as url:
        _config(env, url, extra, "")
        with process(["engine"], env) as engine:
            _ready(env)
            pid = cli_json(["status", "--json"], env)["engine_pid"]
            assert cli(["mode", "paper"], env).returncode == 0
            assert cli_json(["strategy", "list", "--json"], env)["strategies"] == []

            # Enabled in the file: loaded and started with its parameters, no restart.
            _config(env, url, extra, '"counter"', '[strategies.params.counter]\nqty = "0.003"\n')

            def working() -> dict[str, object] | None:
                row = _strategy(env, "counter")
                return row if row["open_orders"] == 1 else None

            row = eventually(working, 30, 0.2)
            assert row["state"] == "running"
            assert "qty=0.003" in str(row["params"])
            assert str(row["last_alert"]).startswith("strategy counter started from")
            mine = _counter_orders(env, "orders")
            assert [(o["qty"], o["status"]) for o in mine] == [("0.003", "new")]
            cid = mine[0]["client_id"]
            # The shell's strategy commands reach it.
            done = cli(["strategy", "reload", "counter", "--json"], env)
            assert done.returncode == 0, done.stdout
            assert [o["client_id"] for o in _counter_orders(env, "orders")] == [cid]

            # Disabled in the file: stopped, its order cancelled, gone from the list.
            _config(env, url, extra, "")
            eventually(
                lambda: cli_json(["strategy", "list", "--json"], env)["strategies"] == [], 20, 0.2
            )
            eventually(lambda: not _counter_orders(env, "orders"), 10, 0.2)
            ended = [o for o in _counter_orders(env, "recent") if o["client_id"] == cid]
            assert [o["status"] for o in ended] == ["canceled"]
            done = cli(["strategy", "pause", "counter", "--json"], env)
            assert (done.returncode, orjson.loads(done.stdout)["reason"]) == (3, "not_found")

            def unloaded() -> list[str] | None:
                rows = journal_audit(env, "config")
                return rows if any("unloaded" in t for t in rows) else None

            audit = eventually(unloaded, 10, 0.2)
            assert any(t.startswith("config: strategies.enabled () -> ('counter',)") for t in audit)
            assert any(t.startswith("config: strategies.enabled ('counter',) -> ()") for t in audit)
            assert "strategy counter stopped and unloaded; 1 open orders cancelled" in audit
            assert cli_json(["status", "--json"], env)["engine_pid"] == pid
            assert engine.poll() is None


def _counter_orders(env: dict[str, str], key: str) -> list[dict[str, str]]:
    rows = cli_json(["orders", "--json"], env)[key]
    assert isinstance(rows, list)
    return [o for o in rows if o["strategy"] == "counter"]
