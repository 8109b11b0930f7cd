"""The strategies block end to end in one process: the host's figures through the real
publisher into a real shared-memory region, read back as the TUI and the CLI read them; and
the new strategy commands through the real command-record codec."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import cast

import numpy as np

from hftui.engine.publisher import Publisher
from hftui.ipc import SnapshotReader, SnapshotWriter
from hftui.link import strategy_rows
from hftui.protocol import COMMAND_DTYPE, Mode, ReloadStrategy, SetStrategyParams
from hftui.rings import decode_command, encode_command
from tests.unit.strategy.rig import BTC_MID, ladder, make_rig
from tests.unit.strategy.test_host import COUNTER, write


def test_the_publisher_writes_every_strategy_and_a_reader_gets_them_back(tmp_path: Path) -> None:
    write(tmp_path, "good", COUNTER.replace("STEP_SCALE", "1"))
    write(tmp_path, "bad", "def broken(:\n")

    async def run() -> None:
        rig = make_rig(("good", "bad"), tmp_path, mode=Mode.PAPER)
        rig.feed(ladder("BTCUSDT", BTC_MID, 50, 50), 1)
        name = f"hftui_test_{os.getpid()}_strat"
        writer = SnapshotWriter(name)
        reader = None
        try:
            publisher = Publisher(writer)
            publisher.execution = rig.execution
            publisher.strategies = rig.host
            publisher.publish()
            reader = SnapshotReader(name)
            block = reader.strategies()
            assert int(block["total"]) == 2
            good, bad = strategy_rows(block)
            assert (good.name, good.state, good.intents, good.open_orders) == (
                "good",
                "running",
                1,
                1,
            )
            assert good.calls == 1
            assert good.p50_ns > 0
            assert good.params == "step=1"
            assert good.last_alert.startswith("strategy good started from")
            assert bad.state == "failed"
            assert "syntax error on line 1" in bad.why
            seq = reader.strategies_seq()
            publisher.publish()
            assert reader.strategies_seq() == seq + 2  # one whole seqlock round per publish
        finally:
            if reader is not None:
                reader.close()
            writer.close()

    asyncio.run(run())


def test_the_strategy_commands_survive_the_command_record() -> None:
    record = np.zeros((), COMMAND_DTYPE)
    long_params = " ".join(f"key_{i}=value_{i}" for i in range(14))
    assert 200 < len(long_params) <= 256
    for command in (ReloadStrategy("market_maker"), SetStrategyParams("mm", long_params)):
        encode_command(command, record)
        assert decode_command(cast(np.void, record[()])) == command
