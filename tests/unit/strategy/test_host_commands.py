"""The strategy host's operator commands: live parameter changes (checked against the frozen
params class, state carried, what on_start derives from the parameters recomputed), reload
by name, and the figures the snapshot publishes."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from hftui.engine.strategy_host import params_text, parse_params_text
from hftui.protocol import (
    AlertRaised,
    Mode,
    PauseStrategy,
    Reason,
    ReloadStrategy,
    SetStrategyParams,
)
from tests.unit.strategy.rig import BTC_MID, ladder, make_rig

TUNED = """
from __future__ import annotations
from dataclasses import dataclass
from hftui.strategy import OrderBook, Params, Side, Strategy


@dataclass(frozen=True, slots=True)
class TunedParams(Params):
    step: int = 1
    scale: float = 1.0
    label: str = "a"
    flag: bool = False

    def __post_init__(self) -> None:
        if self.step < 0:
            raise ValueError("step must be 0 or more")


class Tuned(Strategy[TunedParams]):
    params_type = TunedParams

    def on_start(self) -> None:
        self.books = 0
        self.increment = self.params.step * self.params.scale  # derived from the parameters
        self.placed = ""
        self.version = VERSION

    def on_book(self, symbol: str, book: OrderBook, now_ns: int) -> None:
        self.books += self.increment
        if not self.placed and symbol == "BTCUSDT":
            self.placed = self.ctx.place(symbol, Side.BUY, 2, book.best_bid() - 50)
"""


def in_loop(test: Callable[..., None]) -> Callable[..., None]:
    """Run the test inside an event loop: paper orders schedule their latency on it."""

    @functools.wraps(test)
    def wrapper(*args: object, **kwargs: object) -> None:
        async def run() -> None:
            test(*args, **kwargs)

        asyncio.run(run())

    return wrapper


def write(directory: Path, version: int, bump_s: int = 0) -> Path:
    path = directory / "tuned.py"
    path.write_text(textwrap.dedent(TUNED).replace("VERSION", str(version)))
    if bump_s:
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump_s * 1_000_000_000))
    return path


@in_loop
def test_a_live_parameter_change_carries_state_and_orders_and_recomputes_what_derives(
    tmp_path: Path,
) -> None:
    write(tmp_path, 1)
    rig = make_rig(("tuned",), tmp_path, mode=Mode.PAPER)
    book = ladder("BTCUSDT", BTC_MID, 50, 50)
    rig.feed(book, 1)
    rig.feed(book, 2)
    slot = rig.host.slots["tuned"]
    before = slot.strategy
    assert slot.context is not None
    orders = slot.context.open_orders()
    assert len(orders) == 1

    answer = rig.host.command(SetStrategyParams("tuned", "step=5 flag=true"))
    assert answer.ok, answer.text
    assert answer.text == "strategy tuned parameters: step 1 -> 5, flag False -> True"
    strategy = slot.strategy
    assert strategy is not before
    assert getattr(strategy, "books") == 2  # noqa: B009  carried
    assert getattr(strategy, "increment") == 5.0  # noqa: B009  derived: from the new start
    assert getattr(strategy, "placed") == orders[0]  # noqa: B009  the same order, managed
    rig.feed(book, 3)
    assert getattr(strategy, "books") == 7  # noqa: B009
    assert slot.context.open_orders() == orders  # not re-placed
    assert rig.execution.tracker.open_orders() != []
    assert slot.last_alert == answer.text
    assert any(answer.text == a for a in rig.alerts())

    # Sent again: nothing to change.
    again = rig.host.command(SetStrategyParams("tuned", "step=5"))
    assert again.ok
    assert again.text == "strategy tuned: parameters unchanged"
    assert slot.strategy is strategy


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("nokey=1", "no parameter 'nokey'; the parameters are: step, scale, label, flag"),
        ("step=abc", "step=abc: expected a int like 1"),
        ("flag=yes", "flag=yes: expected a bool like False"),
        ("step", "expected key=value, not 'step'"),
        ("", "no parameters given"),
        ("step=-1", "step must be 0 or more"),
    ],
)
def test_a_bad_parameter_change_is_refused_and_changes_nothing(
    tmp_path: Path, text: str, says: str
) -> None:
    write(tmp_path, 1)
    rig = make_rig(("tuned",), tmp_path)
    slot = rig.host.slots["tuned"]
    before = slot.strategy
    answer = rig.host.command(SetStrategyParams("tuned", text))
    assert not answer.ok
    assert answer.reason == Reason.BAD_COMMAND
    assert says in answer.text, answer.text
    assert slot.strategy is before
    assert slot.overrides == {}


def test_parameters_for_an_unknown_strategy_are_refused(tmp_path: Path) -> None:
    write(tmp_path, 1)
    rig = make_rig(("tuned",), tmp_path)
    answer = rig.host.command(SetStrategyParams("nobody", "step=2"))
    assert answer.reason == Reason.NOT_FOUND
    assert "enabled: tuned" in answer.text


@in_loop
def test_reload_by_command_keeps_state_orders_and_live_parameters(tmp_path: Path) -> None:
    path = write(tmp_path, 1)
    rig = make_rig(("tuned",), tmp_path, mode=Mode.PAPER)
    book = ladder("BTCUSDT", BTC_MID, 50, 50)
    rig.feed(book, 1)
    slot = rig.host.slots["tuned"]
    assert slot.context is not None
    orders = slot.context.open_orders()
    assert rig.host.command(SetStrategyParams("tuned", "step=3")).ok
    rig.feed(book, 2)  # 1 + 3
    write(tmp_path, 2, bump_s=5)

    answer = rig.host.command(ReloadStrategy("tuned"))
    assert answer.ok, answer.text
    assert answer.text == f"strategy tuned reloaded from {path}"
    strategy = slot.strategy
    assert slot.reloads == 1
    assert getattr(strategy, "version") == 1  # noqa: B009  state carried over the new start
    assert getattr(strategy, "books") == 4  # noqa: B009
    assert strategy is not None
    assert getattr(strategy.params, "step") == 3  # noqa: B009  the live value stays
    assert slot.context.open_orders() == orders

    # A broken file: refused with the loader's words; the running version stays.
    path.write_text("def broken(:\n")
    broken = rig.host.command(ReloadStrategy("tuned"))
    assert broken.reason == Reason.BAD_COMMAND
    assert "syntax error on line 1" in broken.text
    assert "previous version keeps running" in broken.text
    assert slot.strategy is strategy
    assert rig.host.command(ReloadStrategy("nobody")).reason == Reason.NOT_FOUND


@in_loop
def test_figures_show_state_counts_cost_and_parameters(tmp_path: Path) -> None:
    write(tmp_path, 1)
    rig = make_rig(("tuned",), tmp_path, mode=Mode.PAPER)
    book = ladder("BTCUSDT", BTC_MID, 50, 50)
    for t in range(5):
        rig.feed(book, t + 1)
    (running,) = rig.host.figures({}, lambda name: (0.0, 0.0, 0.0))
    assert running.state == "running"
    assert running.open_orders == 1
    assert running.why == ""
    assert not running.by_trader
    assert rig.host.command(PauseStrategy("tuned")).ok
    (row,) = rig.host.figures({}, lambda name: (1.5, -0.25, 0.1))
    assert row.name == "tuned"
    assert row.state == "paused"
    assert row.why == "paused by the trader"
    assert row.by_trader  # a choice, not a fault: readiness and the alert's level say so
    (pause,) = [e for e in rig.events if isinstance(e, AlertRaised) and "paused" in e.text]
    assert pause.level == logging.INFO
    assert row.last_alert == (
        "strategy tuned paused: paused by the trader; 1 open orders cancelled"
    )
    assert row.intents == 1
    assert row.calls == 5
    assert 0 < row.p50_ns <= row.p99_ns <= row.max_ns
    assert (row.realized, row.unrealized, row.fees) == (1.5, -0.25, 0.1)
    assert row.params == "step=1 scale=1.0 label=a flag=false"


def test_parameter_text_round_trips() -> None:
    from dataclasses import dataclass

    from hftui.strategy import Params

    @dataclass(frozen=True, slots=True)
    class P(Params):
        qty: str = "0.010"
        n: int = 2
        x: float = 0.5
        on: bool = True

    text = params_text(P())
    assert text == "qty=0.010 n=2 x=0.5 on=true"
    assert P(**parse_params_text(P, text)) == P()  # type: ignore[arg-type]
    assert parse_params_text(P, "x=3 on=FALSE") == {"x": 3.0, "on": False}
