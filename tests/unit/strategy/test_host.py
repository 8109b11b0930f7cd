"""The strategy host: discovery, broken plugins, the guard (errors and time budget), hot
reload under a running host, pause/resume, and intents through real risk and execution."""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path

import pytest

from hftui.config import ConfigError, parse_config
from hftui.engine.strategy_loader import discover
from hftui.protocol import Mode, PauseStrategy, Reason, ResumeStrategy
from tests.unit.strategy.rig import BTC_MID, ladder, make_rig

HEADER = """
from __future__ import annotations
from dataclasses import dataclass
from hftui.strategy import OrderBook, Params, Side, Strategy, TimeInForce
"""

COUNTER = (
    HEADER
    + """
@dataclass(frozen=True, slots=True)
class CounterParams(Params):
    step: int = 1

class Counter(Strategy[CounterParams]):
    params_type = CounterParams

    def on_start(self) -> None:
        self.books = 0
        self.placed = ""

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        self.books += self.params.step * STEP_SCALE
        if not self.placed and symbol == "BTCUSDT":
            self.placed = self.ctx.place(symbol, Side.BUY, 2, book.best_bid() - 50)
"""
)


def write(directory: Path, name: str, source: str, bump_s: int = 0) -> Path:
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    if bump_s:  # a distinct mtime even on a coarse file-system clock
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump_s * 1_000_000_000))
    return path


def test_discovery_finds_the_shipped_strategies_and_the_extra_path(tmp_path: Path) -> None:
    write(tmp_path, "mine", COUNTER)
    write(tmp_path, "_helper", "X = 1\n")
    write(tmp_path, "momentum", COUNTER)  # the trader's file shadows the example
    found = discover(tmp_path)
    assert {"market_maker", "template", "mine"} <= set(found)
    assert "_helper" not in found
    assert found["momentum"] == tmp_path / "momentum.py"


@pytest.mark.parametrize(
    ("source", "fault"),
    [
        ("def broken(:\n", "syntax error on line 1"),
        ("import no_such_module_here\n", "ModuleNotFoundError"),
        ("X = 1\n", "exactly one Strategy subclass (found none)"),
        (COUNTER.replace("STEP_SCALE", "1") + "\nclass Other(Counter):\n    pass\n", "Counter"),
        (
            COUNTER.replace("STEP_SCALE", "1").replace(
                "params_type = CounterParams", "params_type = CounterParams\n    api_version = 99"
            ),
            "written for strategy API 99",
        ),
        ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    ],
)
def test_a_bad_plugin_file_is_a_clear_error_and_the_rest_runs(
    tmp_path: Path, source: str, fault: str
) -> None:
    write(tmp_path, "bad", source)
    write(tmp_path, "good", COUNTER.replace("STEP_SCALE", "1"))
    rig = make_rig(("bad", "good"), tmp_path)
    states = {row["name"]: row for row in rig.host.status()}
    assert states["bad"]["state"] == "failed"
    assert fault in str(states["bad"]["why"])
    assert "bad.py" in str(states["bad"]["why"])
    assert states["good"]["state"] == "running"
    assert any("strategy not loaded" in a and fault in a for a in rig.alerts())


def test_unknown_or_mistyped_parameters_are_named(tmp_path: Path) -> None:
    write(tmp_path, "good", COUNTER.replace("STEP_SCALE", "1"))
    rig = make_rig(("good",), tmp_path, params=(("good", (("stpe", 2),)),))
    assert "strategies.params.good.stpe: no such parameter; good has: step" in str(
        rig.host.status()[0]["why"]
    )
    rig = make_rig(("good",), tmp_path, params=(("good", (("step", "two"),)),))
    assert "expected a int like the default 1" in str(rig.host.status()[0]["why"])


def test_a_strategy_on_a_symbol_the_engine_does_not_trade_is_told_so() -> None:
    rig = make_rig(("market_maker",), params=(("market_maker", (("symbol", "XRPUSDT"),)),))
    row = rig.host.status()[0]
    assert row["state"] == "failed"
    assert "XRPUSDT is not one of the engine's symbols (BTCUSDT, ETHUSDT)" in str(row["why"])


def test_a_missing_strategy_file_is_reported() -> None:
    rig = make_rig(("nowhere",))
    assert "no file nowhere.py" in str(rig.host.status()[0]["why"])
    assert rig.host.pause("nowhere").reason == Reason.NOT_FOUND


def test_a_raising_strategy_is_paused_its_orders_cancelled_and_others_go_on(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "crashy",
        COUNTER.replace("STEP_SCALE", "1")
        + """
    def on_trade(self, symbol: str, price: int, qty: int, buyer_maker: bool, now_ns: int) -> None:
        raise ZeroDivisionError("no edge today")
""",
    )
    write(tmp_path, "steady", COUNTER.replace("STEP_SCALE", "1"))

    async def run() -> None:
        rig = make_rig(("crashy", "steady"), tmp_path, mode=Mode.PAPER)
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        crashy = rig.host.slots["crashy"]
        assert crashy.context is not None
        cid = crashy.context.open_orders()[0]
        rig.host.on_trade("BTCUSDT", BTC_MID, 1, True, 2)  # raises inside the strategy
        assert crashy.paused
        assert not crashy.by_trader  # a fault: the strategies component is not ready
        assert crashy.errors == 1
        assert "on_trade raised ZeroDivisionError: no edge today" in crashy.why
        order = rig.execution.tracker.get(cid)
        assert order is not None
        assert order.cancel_requested
        assert any("strategy crashy paused" in a for a in rig.alerts())
        rig.feed(ladder("BTCUSDT", BTC_MID + 1, 50, 50), 3)
        steady, paused = rig.host.slots["steady"].strategy, crashy.strategy
        assert getattr(steady, "books") == 2  # noqa: B009
        assert getattr(paused, "books") == 1  # noqa: B009

    asyncio.run(run())


def test_a_callback_over_its_time_budget_pauses_the_strategy(tmp_path: Path) -> None:
    write(
        tmp_path,
        "slow",
        COUNTER.replace("STEP_SCALE", "1").replace(
            "self.books += ", "import time; time.sleep(0.02); self.books += "
        ),
    )
    write(tmp_path, "quick", COUNTER.replace("STEP_SCALE", "1"))
    rig = make_rig(("slow", "quick"), tmp_path, callback_budget_ms=5.0)
    rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
    slow = rig.host.slots["slow"]
    assert slow.paused
    assert slow.overruns == 1
    assert "on_book took" in slow.why
    assert "over its budget of 5 ms" in slow.why
    assert not rig.host.slots["quick"].paused


def test_pause_and_resume_by_command(tmp_path: Path) -> None:
    write(tmp_path, "good", COUNTER.replace("STEP_SCALE", "1"))
    rig = make_rig(("good",), tmp_path)
    book = ladder("BTCUSDT", BTC_MID, 50, 50)
    assert rig.host.command(PauseStrategy("good")).ok
    rig.feed(book, 1)
    strategy = rig.host.slots["good"].strategy
    assert getattr(strategy, "books") == 0  # noqa: B009
    assert rig.host.command(ResumeStrategy("good")).ok
    rig.feed(book, 2)
    assert getattr(strategy, "books") == 1  # noqa: B009
    answer = rig.host.command(PauseStrategy("nobody"))
    assert answer.reason == Reason.NOT_FOUND
    assert "enabled: good" in answer.text


def test_observe_intents_are_would_send_owned_and_charged_to_the_budget(tmp_path: Path) -> None:
    write(tmp_path, "good", COUNTER.replace("STEP_SCALE", "1"))
    write(tmp_path, "greedy", COUNTER.replace("STEP_SCALE", "1"))
    rig = make_rig(("good", "greedy"), tmp_path, budgets=(("greedy", 1.0),))
    rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
    assert any(
        a.startswith("observe: would send BUY") and a.endswith("[good]") for a in rig.alerts()
    )
    greedy = rig.host.slots["greedy"].context
    assert greedy is not None
    assert greedy.last_reason == Reason.STRATEGY_BUDGET
    assert rig.execution.would_send == 1
    assert rig.execution.refusals == 1


def test_intents_above_max_mode_are_held(tmp_path: Path) -> None:
    write(tmp_path, "good", COUNTER.replace("STEP_SCALE", "1"))

    async def run() -> None:
        rig = make_rig(("good",), tmp_path, mode=Mode.PAPER, max_mode=Mode.OBSERVE)
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        context = rig.host.slots["good"].context
        assert context is not None
        assert context.last_reason == Reason.HALTED
        assert rig.execution.tracker.open_orders() == []
        assert rig.host.held == 1

    asyncio.run(run())


def test_intents_are_held_while_the_kill_switch_is_latched(tmp_path: Path) -> None:
    write(tmp_path, "good", COUNTER.replace("STEP_SCALE", "1"))
    rig = make_rig(("good",), tmp_path)
    rig.execution.exposure.killed = True
    rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
    context = rig.host.slots["good"].context
    assert context is not None
    assert context.last_reason == Reason.KILLED
    assert (rig.host.held, rig.execution.refusals, rig.execution.would_send) == (1, 0, 0)
    assert not any("would send" in a for a in rig.alerts())


def test_hot_reload_under_a_running_host_keeps_state_and_orders(tmp_path: Path) -> None:
    path = write(tmp_path, "live", COUNTER.replace("STEP_SCALE", "1"))

    async def run() -> None:
        rig = make_rig(("live",), tmp_path, mode=Mode.PAPER, reload_interval_s=0.05)
        task = asyncio.create_task(rig.host.run())
        try:
            book = ladder("BTCUSDT", BTC_MID, 50, 50)
            rig.feed(book, 1)
            rig.feed(book, 2)
            slot = rig.host.slots["live"]
            before = slot.strategy
            assert slot.context is not None
            orders = slot.context.open_orders()
            assert len(orders) == 1
            write(tmp_path, "live", COUNTER.replace("STEP_SCALE", "100"), bump_s=5)
            for _ in range(100):
                if slot.reloads:
                    break
                await asyncio.sleep(0.02)
            assert slot.strategy is not before
            assert slot.reloads == 1
            assert getattr(slot.strategy, "books") == 2  # noqa: B009  carried across
            rig.feed(book, 3)
            assert getattr(slot.strategy, "books") == 102  # noqa: B009  the new code runs
            assert slot.context.open_orders() == orders  # still managed, not re-placed
            assert any("strategy live reloaded" in a for a in rig.alerts())

            # A broken edit leaves the running version in place, reported once.
            path.write_text("def broken(:\n")
            os.utime(path, ns=(0, path.stat().st_mtime_ns + 10_000_000_000))
            for _ in range(100):
                if slot.failed_mtime_ns:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.15)
            assert sum("previous version keeps running" in a for a in rig.alerts()) == 1
            rig.feed(book, 4)
            assert getattr(slot.strategy, "books") == 202  # noqa: B009
        finally:
            rig.host.stop()
            task.cancel()

    asyncio.run(run())


def test_fills_reach_the_owner_and_its_position(tmp_path: Path) -> None:
    write(
        tmp_path,
        "taker",
        HEADER
        + """
class Taker(Strategy[Params]):
    def on_start(self) -> None:
        self.fills = []
        self.sent = False

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        if not self.sent:
            self.sent = True
            self.ctx.place(symbol, Side.BUY, 3, book.best_ask(), TimeInForce.IOC)

    def on_fill(self, fill) -> None:
        self.fills.append((fill.qty, fill.price))
""",
    )

    async def run() -> None:
        rig = make_rig(("taker",), tmp_path, mode=Mode.PAPER)
        book = ladder("BTCUSDT", BTC_MID, 50, 50)
        rig.execution.paper.see_book("BTCUSDT", book)
        rig.feed(book, 1)
        slot = rig.host.slots["taker"]
        for _ in range(100):
            if getattr(slot.strategy, "fills"):  # noqa: B009
                break
            await asyncio.sleep(0.01)
        assert getattr(slot.strategy, "fills") == [(3, BTC_MID + 1)]  # noqa: B009
        assert slot.context is not None
        assert slot.context.position("BTCUSDT") == 3
        # Its own position is per mode: the paper lots are not there in live or observe.
        rig.execution.set_mode(Mode.LIVE)
        assert slot.context.position("BTCUSDT") == 0
        rig.execution.set_mode(Mode.OBSERVE)
        assert slot.context.position("BTCUSDT") == 0
        rig.execution.set_mode(Mode.PAPER)
        assert slot.context.position("BTCUSDT") == 3

    asyncio.run(run())


def test_the_strategies_section_is_validated() -> None:
    config = parse_config(
        {
            "strategies": {
                "enabled": ["momentum"],
                "path": "~/mine",
                "max_mode": "paper",
                "params": {"momentum": {"entry_bps": 2, "symbol": "ETHUSDT"}},
            }
        }
    )
    assert config.strategies.enabled == ("momentum",)
    assert config.strategies.max_mode == Mode.PAPER
    assert config.strategies.params_of("momentum") == {"entry_bps": 2, "symbol": "ETHUSDT"}
    assert parse_config({}).strategies.enabled == ("momentum", "market_maker")
    for raw, words in [
        ({"enabled": ["Bad-Name"]}, "strategies.enabled"),
        ({"enabled": ["a", "a"]}, "must not repeat"),
        ({"params": {"other": {}}}, "strategies.params.other: not an enabled strategy"),
        ({"params": {"momentum": {"x": [1]}}}, "strategies.params.momentum.x"),
        ({"callback_budget_ms": 0}, "strategies.callback_budget_ms"),
        ({"colour": 1}, "unknown key strategies.colour"),
    ]:
        with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
            parse_config({"strategies": raw})
