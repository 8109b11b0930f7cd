"""End to end: every kind of venue refusal ends in the right order state with its reason.

The exchange and the engine run as real processes, driven through the CLI as a trader would;
the exchange's own records (queried with the demo account) prove what reached the venue, and
the engine's log proves what the engine did about it. One exchange and one live engine serve
the whole module; each test leaves no faults armed and no orders open.

The engine's risk limits are generous on purpose ([risk] below), so every order here passes
the engine's own gate and the refusal comes from the venue.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from pathlib import Path
from subprocess import Popen
from typing import TypeVar

import orjson
import pytest

from hftui.config import Config
from hftui.demo_account import DEMO_API_KEY, DEMO_API_SECRET
from hftui.engine.binance.client import Credentials, VenueClient
from hftui.engine.execution import Execution, Outcome
from hftui.engine.instrument import parse_instruments
from hftui.engine.intents import Lots, OrderIntent, Ticks, base36
from hftui.protocol import Event, Mode, OrderStatus, Reason, Side
from tests.support.processes import (
    HFTUI,
    cli,
    cli_json,
    eventually,
    isolated_env,
    local_exchange,
    process,
    stop,
)

# Asserts wall-clock bounds: run one at a time, never beside another end-to-end test.
pytestmark = [pytest.mark.e2e, pytest.mark.timing]

T = TypeVar("T")

SYMBOL = "BTCUSDT"
ORDER_PATH = "/fapi/v1/order"
RECV_WINDOW_MS = 2000
TIMEOUT_S = 1.0
CONFIG = f"""
[risk]
max_order_notional = 10000000
price_band_bps = 1000

[live]
recv_window_ms = {RECV_WINDOW_MS}
request_timeout_s = {TIMEOUT_S}
countdown_s = 0
"""


@dataclass(frozen=True, slots=True)
class Live:
    url: str
    env: dict[str, str]
    engine: Popen[bytes]

    @property
    def log(self) -> Path:
        return Path(self.env["XDG_DATA_HOME"]) / "hftui" / "logs" / "engine.log"


# ---- helpers --------------------------------------------------------------------------------


def venue(url: str, call: Callable[[VenueClient], Awaitable[T]]) -> T:
    """Run `call` with the demo account's client: the exchange's own records."""

    async def run() -> T:
        client = VenueClient(url, Credentials(DEMO_API_KEY, DEMO_API_SECRET))
        try:
            return await call(client)
        finally:
            await client.close()

    return asyncio.run(run())


async def _all_orders(client: VenueClient) -> list[dict[str, object]]:
    rows = await client.request(
        "GET", "/fapi/v1/allOrders", {"symbol": SYMBOL}, signed=True, weight=5
    )
    assert isinstance(rows, list)
    return rows


def venue_orders(url: str, cid: str) -> list[dict[str, object]]:
    """Every order the venue ever accepted under this client id (open or not)."""
    return [o for o in venue(url, _all_orders) if o["clientOrderId"] == cid]


def admin(url: str, path: str) -> dict[str, object]:
    request = urllib.request.Request(f"{url}/admin/{path}", method="POST", data=b"")  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        doc = orjson.loads(response.read())
    assert isinstance(doc, dict)
    return doc


def faults(url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}/admin/faults", timeout=5) as response:  # noqa: S310
        doc = orjson.loads(response.read())
    assert isinstance(doc, dict)
    return doc


def answer(live: Live, *args: str) -> tuple[int, dict[str, object]]:
    done = cli([*args, "--json"], live.env)
    assert done.stdout, done.stderr
    doc = orjson.loads(done.stdout)
    assert isinstance(doc, dict)
    return done.returncode, doc


def place(live: Live, *args: str) -> tuple[int, dict[str, object]]:
    return answer(live, "order", "place", SYMBOL, *args)


def cid_of(doc: dict[str, object]) -> str:
    """The client id an answer about a sent order starts with."""
    cid = str(doc["text"]).split()[0]
    assert cid.startswith("m-"), doc
    return cid


def next_cid(cid: str) -> str:
    """The id the engine gives its next order: same prefix and tag, sequence + 1."""
    prefix, tag, sequence = cid.split("-")
    return f"{prefix}-{tag}-{base36(int(sequence, 36) + 1)}"


def engine_orders(live: Live) -> dict[str, dict[str, object]]:
    rows = cli_json(["orders", "--json"], live.env)["orders"]
    assert isinstance(rows, list)
    return {str(row["client_id"]): row for row in rows}


def log_records(live: Live, cid: str | None = None) -> list[dict[str, object]]:
    records = [orjson.loads(line) for line in live.log.read_bytes().splitlines() if line]
    return [r for r in records if cid is None or r.get("client_id") == cid]


def messages(live: Live, cid: str) -> list[str]:
    return [str(r["msg"]) for r in log_records(live, cid)]


def price_text(units: int, decimals: int = 2) -> str:
    text = str(units).rjust(decimals + 1, "0")
    return f"{text[:-decimals]}.{text[-decimals:]}"


def bid(live: Live, below_bps: int = 100) -> int:
    """A BTCUSDT bid `below_bps` under the best bid, in cents on the 0.10 tick: it rests
    without the synthetic market reaching it during a test."""

    def probe() -> int | None:
        done = cli(["book", SYMBOL, "--depth", "1", "--json"], live.env)
        if done.returncode:
            return None
        doc = orjson.loads(done.stdout)
        if not (doc["synced"] and doc["bids"]):
            return None
        return int(Decimal(str(doc["bids"][0][0])) * 100)

    best = eventually(probe, 30)
    far = best - best * below_bps // 10_000
    return far - far % 10


def engine_alive(live: Live) -> None:
    assert live.engine.poll() is None, live.engine.stderr.read() if live.engine.stderr else ""
    failures = [
        r
        for r in log_records(live)
        if r["msg"] in ("execution task failed", "command failed", "unreadable order answer")
    ]
    assert failures == []


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("venue-rejects")
    env = isolated_env(home)
    with local_exchange(env, home, seed=11) as url:
        path = Path(env["XDG_CONFIG_HOME"]) / "hftui" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'[venue]\nname = "local"\nurl = "{url}"\n{CONFIG}')
        with process(["engine"], env) as engine:
            state = Live(url, env, engine)
            try:
                # Trading answers once exchangeInfo is in: until then commands are "busy".
                eventually(lambda: cli(["mode", "paper", "--json"], env).returncode == 0, 30, 0.2)
                code, doc = answer(state, "mode", "live", "--confirm", "LIVE")
                assert code == 0, doc
            except AssertionError:
                stop(engine)
                raise AssertionError(engine.stderr.read() if engine.stderr else "") from None
            yield state
            engine_alive(state)


@pytest.fixture
def clean(live: Live) -> Iterator[Live]:
    """Each test starts and ends with no faults armed and no order open at the venue."""
    admin(live.url, "faults/clear")
    yield live
    admin(live.url, "faults/clear")
    admin(live.url, f"symbols/filters?symbol={SYMBOL}&min_notional=100")
    time.sleep(0.1)
    venue(live.url, lambda client: client.cancel_all(SYMBOL))
    eventually(lambda: engine_orders(live) == {}, 10)
    engine_alive(live)


# ---- 1. filters -----------------------------------------------------------------------------


def test_a_venue_filter_refusal_is_rejected_with_the_venues_words(clean: Live) -> None:
    live = clean
    px = bid(live)

    # PERCENT_PRICE: the engine's fat-finger band (1000 bps here) is wider than the venue's
    # 5 % cap over the mark price, and the engine's gate does not apply PERCENT_PRICE. A bid
    # 8 % over the touch is inside the one and outside the other.
    greedy = bid(live, below_bps=0) * 108 // 100
    greedy -= greedy % 10
    code, doc = place(live, "buy", "0.010", "--price", price_text(greedy))
    assert (code, doc["reason"]) == (3, "venue_reject"), doc
    assert "-4016 Price is higher than mark price multiplier cap." in str(doc["text"])
    capped = cid_of(doc)

    # MIN_NOTIONAL raised behind the engine's back: its exchangeInfo says 100 USDT, the
    # venue now refuses anything under 1000.
    changed = admin(live.url, f"symbols/filters?symbol={SYMBOL}&min_notional=1000")
    assert {"filterType": "MIN_NOTIONAL", "notional": "1000"} in changed["filters"]  # type: ignore[operator]
    code, doc = place(live, "buy", "0.010", "--price", price_text(px))  # about 640 USDT
    assert (code, doc["reason"]) == (3, "venue_reject"), doc
    assert "-4164 Order's notional must be no smaller than 1000" in str(doc["text"])
    small = cid_of(doc)

    # Neither exists at the venue, neither is open in the engine, and each was sent once.
    for cid, code_text in ((capped, "-4016"), (small, "-4164")):
        assert venue_orders(live.url, cid) == []
        assert cid not in engine_orders(live)
        records = log_records(live, cid)
        assert [r["msg"] for r in records].count("order submitted") == 1
        assert "order outcome unknown; querying" not in [r["msg"] for r in records]
        rejected = [r for r in records if r["msg"] == "order rejected"]
        assert len(rejected) == 1
        assert code_text in str(rejected[0]["why"])

    # An order the new filter allows goes through: the engine keeps trading.
    code, doc = place(live, "buy", "0.020", "--price", price_text(px))
    assert code == 0, doc
    fine = cid_of(doc)
    assert engine_orders(live)[fine]["status"] == "new"
    assert [o["status"] for o in venue_orders(live.url, fine)] == ["NEW"]


# ---- 2. margin ------------------------------------------------------------------------------


def test_an_order_beyond_the_available_margin_is_rejected_as_such(clean: Live) -> None:
    live = clean
    px = bid(live)
    account = venue(live.url, lambda client: client.account())
    available = Decimal(str(account["availableBalance"]))
    wallet = account["totalWalletBalance"]
    # A quarter more than 20x leverage carries: within the engine's limits, not the venue's.
    qty = (available * 20 * Decimal("1.25") / (Decimal(px) / 100)).quantize(
        Decimal("0.001"), ROUND_UP
    )
    code, doc = place(live, "buy", str(qty), "--price", price_text(px))
    assert (code, doc["reason"]) == (3, "insufficient_margin"), doc
    assert "-2019 Margin is insufficient." in str(doc["text"])
    cid = cid_of(doc)
    assert venue_orders(live.url, cid) == []
    assert cid not in engine_orders(live)
    assert "order rejected" in messages(live, cid)
    assert venue(live.url, lambda client: client.account())["totalWalletBalance"] == wallet
    # `hftui orders` keeps the refused order among the finished ones, with how it ended.
    recent = cli_json(["orders", "--json"], live.env)["recent"]
    assert isinstance(recent, list)
    (row,) = [r for r in recent if r["client_id"] == cid]
    assert (row["status"], row["reason"]) == ("rejected", "insufficient_margin")
    assert "Margin is insufficient" in str(row["text"])

    # A size the account can carry is accepted.
    code, doc = place(live, "buy", "0.010", "--price", price_text(px))
    assert code == 0, doc
    assert engine_orders(live)[cid_of(doc)]["status"] == "new"


# ---- 3. duplicate client id -----------------------------------------------------------------


def test_a_client_id_held_by_another_venue_order_is_rejected_and_never_adopted(
    clean: Live,
) -> None:
    live = clean
    px = bid(live)
    code, doc = place(live, "buy", "0.010", "--price", price_text(px))
    assert code == 0, doc
    taken = next_cid(cid_of(doc))

    # Someone else on the account (another tool, a second engine) takes the id the engine
    # will use next, for an order of other terms.
    params = {
        "symbol": SYMBOL,
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.020",
        "price": price_text(px - 10),
        "newClientOrderId": taken,
        "newOrderRespType": "RESULT",
    }
    other = venue(live.url, lambda client: client.new_order(params))
    time.sleep(0.3)  # placed well before the engine sends: it cannot be the engine's order

    code, doc = place(live, "buy", "0.010", "--price", price_text(px))
    assert (code, doc["reason"]) == (3, "duplicate"), doc
    assert cid_of(doc) == taken
    assert "-4116" in str(doc["text"])
    assert str(other["orderId"]) in str(doc["text"])
    assert taken not in engine_orders(live)
    # The venue holds exactly the other order under that id, untouched.
    assert [(o["orderId"], o["origQty"], o["status"]) for o in venue_orders(live.url, taken)] == [
        (other["orderId"], "0.02", "NEW")
    ]
    assert messages(live, taken).count("order submitted") == 1

    # The other order's own events carry the same client id: they are not the engine's.
    venue(live.url, lambda client: client.cancel_order(SYMBOL, taken))
    eventually(
        lambda: "update for another order with this client id dropped" in messages(live, taken)
    )
    assert "order canceled" not in messages(live, taken)
    assert taken not in engine_orders(live)


class _DeliveredTwice(VenueClient):
    """A new order that reaches the venue twice (a retrying proxy, a replayed packet): the
    first answer is lost, the second is the venue's -4116."""

    async def new_order(self, params: dict[str, str]) -> dict[str, object]:
        await super().new_order(params)
        return await super().new_order(params)


def _trade_of(cid: str, venue_order_id: object) -> dict[str, object]:
    """A user-data trade event of the venue order `venue_order_id`, under client id `cid`."""
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": 1,
        "o": {
            "s": SYMBOL,
            "c": cid,
            "x": "TRADE",
            "X": "FILLED",
            "i": venue_order_id,
            "z": "0.010",
            "ap": "60000.00",
            "l": "0.010",
            "L": "60000.00",
            "t": 1,
            "n": "0.1",
            "m": True,
        },
    }


@pytest.mark.parametrize(
    ("taken_by", "delivered_twice"),
    [
        ("", True),  # nobody else: the duplicate is our own order, delivered twice
        ("0.020", False),  # another order of other terms holds the id
        ("0.010", False),  # one of the same terms, but placed before ours was sent
    ],
)
async def test_a_duplicate_id_is_settled_by_querying_the_venue(
    clean: Live, taken_by: str, delivered_twice: bool
) -> None:
    live = clean
    credentials = Credentials(DEMO_API_KEY, DEMO_API_SECRET)
    client = (_DeliveredTwice if delivered_twice else VenueClient)(live.url, credentials)
    await client.start()
    instruments = parse_instruments(client.exchange_info, [SYMBOL])
    events: list[Event] = []
    execution = Execution(Config(), instruments, events.append)
    execution.client = client
    execution.set_mode(Mode.LIVE)
    try:
        depth = await client.request(
            "GET", "/fapi/v1/depth", {"symbol": SYMBOL, "limit": "5"}, signed=False, weight=2
        )
        assert isinstance(depth, dict)
        price = int(Decimal(str(depth["bids"][0][0])) * Decimal("0.99") * 10)  # ticks of 0.10
        intent = OrderIntent(SYMBOL, Side.BUY, Lots(10), Ticks(price))
        if taken_by:
            taken = next_cid(execution.next_client_id("manual"))
            params = {
                "symbol": SYMBOL,
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": taken_by,
                "price": instruments[SYMBOL].format_price(price),
                "newClientOrderId": taken,
            }
            await client.new_order(params)
            await asyncio.sleep(0.3)
        answered: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        sent = execution.submit(intent, Mode.LIVE, answered.set_result)
        outcome = await asyncio.wait_for(answered, 10)
        at_venue = [o for o in await _all_orders(client) if o["clientOrderId"] == sent.client_id]
        order = execution.tracker.get(sent.client_id)
        assert order is not None
        assert len(at_venue) == 1
        if not taken_by:
            # Ours, at the venue once: tracked as the venue has it, never sent again.
            assert outcome.ok, outcome
            assert "already at the venue" in outcome.text
            assert order.status == OrderStatus.NEW
            assert order.venue_order_id == at_venue[0]["orderId"]
            return
        assert sent.client_id == taken
        assert outcome.reason == Reason.DUPLICATE, outcome
        assert "-4116" in outcome.text
        assert str(at_venue[0]["orderId"]) in outcome.text
        assert order.status == OrderStatus.REJECTED
        assert order.venue_order_id == 0
        assert at_venue[0]["origQty"] == str(Decimal(taken_by).normalize())
        # A trade of that other order, under the shared id, is never booked as ours.
        execution.on_user_event(_trade_of(sent.client_id, at_venue[0]["orderId"]))
        assert order.status == OrderStatus.REJECTED
        assert order.filled == 0
        assert execution.positions(Mode.LIVE)[SYMBOL] == 0
    finally:
        await execution.close()


# ---- 4. rate limits -------------------------------------------------------------------------


def test_a_429_rejects_the_order_and_nothing_is_sent_until_retry_after(clean: Live) -> None:
    live = clean
    px = price_text(bid(live))
    retry_after_s = 3
    admin(
        live.url,
        f"faults/http?status=429&count=1&retry_after={retry_after_s}&path={ORDER_PATH}&method=POST",
    )
    code, doc = place(live, "buy", "0.010", "--price", px)
    limited_at = time.monotonic()
    assert (code, doc["reason"]) == (3, "rate_limited"), doc
    assert "-1003 Too many requests" in str(doc["text"])
    first = cid_of(doc)

    # During the ban the engine refuses before sending: a tripwire on the order endpoint
    # stays armed, so no request reached the venue to earn a 418.
    admin(live.url, f"faults/http?status=503&count=1&path={ORDER_PATH}&method=POST")
    code, doc = place(live, "buy", "0.010", "--price", px)
    assert faults(live.url)["http_count"] == 1, doc
    assert time.monotonic() - limited_at < retry_after_s, "too slow to test the ban"
    assert (code, doc["reason"]) == (3, "rate_limited"), doc
    assert "not sent" in str(doc["text"])
    second = cid_of(doc)
    admin(live.url, "faults/clear")

    # After Retry-After the next order goes through.
    time.sleep(max(0.0, retry_after_s + 0.2 - (time.monotonic() - limited_at)))
    code, doc = place(live, "buy", "0.010", "--price", px)
    assert code == 0, doc
    third = cid_of(doc)
    assert engine_orders(live)[third]["status"] == "new"
    assert [len(venue_orders(live.url, c)) for c in (first, second, third)] == [0, 0, 1]
    for cid in (first, second):
        assert cid not in engine_orders(live)
        assert messages(live, cid).count("order submitted") == 1
    hits = [r for r in log_records(live) if r["msg"] == "venue rate limit hit"]
    assert [(r["status"], r["retry_after_s"]) for r in hits] == [(429, retry_after_s)]


# ---- 5. timeouts ----------------------------------------------------------------------------


def test_a_timed_out_order_is_queried_never_resent_and_ends_as_the_venue_has_it(
    clean: Live,
) -> None:
    """Resting or filled, a late order exists once at the venue and once in the engine."""
    live = clean
    px = price_text(bid(live))
    hold_ms = int(TIMEOUT_S * 1000 + 500)
    hold = f"faults/http?count=1&path={ORDER_PATH}&method=POST&delay_ms={hold_ms}"

    # Held past the engine's timeout, inside the recvWindow: it lands late, resting.
    admin(live.url, hold)
    code, doc = place(live, "buy", "0.010", "--price", px)
    assert code == 0, doc
    resting = cid_of(doc)
    assert "new" in str(doc["text"])
    assert "settled by query" in str(doc["text"])
    assert [o["status"] for o in venue_orders(live.url, resting)] == ["NEW"]
    assert engine_orders(live)[resting]["status"] == "new"

    # A market order held the same way lands and fills: the engine shows the fill.
    position_before = Decimal(
        str(cli_json(["status", "--json"], live.env)["symbols"][SYMBOL]["position"])  # type: ignore[index]
    )
    admin(live.url, hold)
    sent_at = time.monotonic()
    code, doc = answer(live, "order", "place", SYMBOL, "buy", "0.010", "--type", "market")
    assert code == 0, doc
    market = cid_of(doc)
    assert "filled" in str(doc["text"]), doc
    assert [o["status"] for o in venue_orders(live.url, market)] == ["FILLED"]

    def engine_position() -> Decimal | None:
        doc = cli_json(["status", "--json"], live.env)
        value = Decimal(str(doc["symbols"][SYMBOL]["position"]))  # type: ignore[index]
        return value if value == position_before + Decimal("0.010") else None

    eventually(engine_position, 10)
    # Long enough for anything the engine might have sent twice to have landed as well.
    time.sleep(max(0.0, hold_ms / 1000 + 0.5 - (time.monotonic() - sent_at)))
    assert engine_position() is not None
    rows = venue(live.url, lambda client: client.position_risk())
    venue_position = next(Decimal(str(r["positionAmt"])) for r in rows if r["symbol"] == SYMBOL)
    assert venue_position == position_before + Decimal("0.010")

    for cid in (resting, market):
        assert len(venue_orders(live.url, cid)) == 1
        said = messages(live, cid)
        assert said.count("order submitted") == 1
        assert "order outcome unknown; querying" in said


def test_a_timed_out_order_the_venue_never_takes_ends_rejected(clean: Live) -> None:
    live = clean
    px = price_text(bid(live))
    # Held past the recvWindow: the venue refuses it when it gets to it (-1021), the
    # engine's queries find nothing once the window is over, and the order ends rejected.
    admin(
        live.url,
        f"faults/http?count=1&path={ORDER_PATH}&method=POST&delay_ms={RECV_WINDOW_MS + 1000}",
    )
    sent_at = time.monotonic()
    code, doc = place(live, "buy", "0.010", "--price", px)
    assert (code, doc["reason"]) == (3, "timeout"), doc
    assert "never received" in str(doc["text"])
    lost = cid_of(doc)
    time.sleep(max(0.0, (RECV_WINDOW_MS + 1500) / 1000 - (time.monotonic() - sent_at)))
    assert venue_orders(live.url, lost) == []  # the held request was refused, not placed
    assert lost not in engine_orders(live)

    said = messages(live, lost)
    assert said.count("order submitted") == 1
    assert "order outcome unknown; querying" in said


def test_a_cancel_that_overtakes_its_order_waits_for_the_ack_and_then_cancels(
    clean: Live,
) -> None:
    """The cancel of an order whose send is still on its way would find nothing at the
    venue, and the order would then land live. It waits for the acknowledgement instead."""
    live = clean
    px = price_text(bid(live))
    code, doc = place(live, "buy", "0.010", "--price", px)
    assert code == 0, doc
    first = cid_of(doc)
    assert answer(live, "order", "cancel", first)[0] == 0
    held = next_cid(first)
    admin(live.url, f"faults/http?count=1&path={ORDER_PATH}&method=POST&delay_ms=600")
    sending = subprocess.Popen(
        [*HFTUI, "order", "place", SYMBOL, "buy", "0.010", "--price", px, "--json"],
        env=live.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        eventually(lambda: "order submitted" in messages(live, held), 10, 0.01)
        code, doc = answer(live, "order", "cancel", held)
        assert code == 0, doc
        assert "canceled" in str(doc["text"]), doc
        out, _ = sending.communicate(timeout=15)
    finally:
        if sending.poll() is None:
            sending.kill()
            sending.wait()
    assert orjson.loads(out)["ok"] is True
    assert [o["status"] for o in venue_orders(live.url, held)] == ["CANCELED"]
    assert held not in engine_orders(live)
    assert "cancel requested" in messages(live, held)
