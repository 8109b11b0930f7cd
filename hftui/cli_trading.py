"""Trading from the shell: kill, rearm, mode, order, orders, strategy and keys.

For a trader on a second SSH session (or a phone): each command goes to the running engine
over its command ring and prints the engine's answer. Exit status 0 means accepted, 3 means
the engine refused (the reason is printed), 1 no engine or no answer, 2 bad usage. `--json`
prints `{"ok", "reason", "code", "text"}`; those fields are an interface (see README).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from typing import TYPE_CHECKING, Final

import orjson

from hftui.config import Config
from hftui.instance import find_running
from hftui.protocol import (
    CancelAll,
    CancelOrder,
    Command,
    CommandAnswered,
    Kill,
    Mode,
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
    TimeInForce,
    WatchSymbol,
    decode_text,
    format_units,
)

if TYPE_CHECKING:
    import numpy as np

    from hftui.ipc import SnapshotReader

__all__ = ["add_trading_parsers", "run_trading_command"]

REFUSED: Final = 3
_ANSWER_TIMEOUT_S: Final = 15.0
TRADING_COMMANDS: Final = (
    "kill",
    "rearm",
    "mode",
    "order",
    "orders",
    "keys",
    "risk",
    "market",
    "strategy",
)


def add_trading_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("kill", help="kill switch: cancel everything, drop to observe, latch")
    k.add_argument("--flatten", action="store_true", help="also close every position")
    k.add_argument("--json", action="store_true", help="machine-readable output")

    r = sub.add_parser("rearm", help="clear the kill-switch latch (the mode stays observe)")
    r.add_argument("--json", action="store_true", help="machine-readable output")

    m = sub.add_parser("mode", help="switch mode: down is instant, up one step at a time")
    m.add_argument("mode", choices=[x.label for x in Mode])
    m.add_argument("--confirm", default=None, help="live needs the word LIVE")
    m.add_argument("--json", action="store_true", help="machine-readable output")

    o = sub.add_parser("order", help="place or cancel orders")
    osub = o.add_subparsers(dest="order_command", metavar="ACTION", required=True)
    p = osub.add_parser("place", help="place an order (through risk, in the current mode)")
    p.add_argument("symbol")
    p.add_argument("side", choices=["buy", "sell"])
    p.add_argument("qty", help="quantity in base units, e.g. 0.010")
    p.add_argument("--price", default="", help="limit price (required for limit)")
    p.add_argument("--type", choices=["limit", "market"], default="limit", dest="order_type")
    p.add_argument("--post-only", action="store_true", help="never take liquidity (GTX)")
    p.add_argument("--reduce-only", action="store_true", help="only ever reduce the position")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    c = osub.add_parser("cancel", help="cancel one order by client order id")
    c.add_argument("client_id")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    rp = osub.add_parser(
        "replace", help="cancel-replace: new price and/or total quantity, same order otherwise"
    )
    rp.add_argument("client_id")
    rp.add_argument("--qty", default="", help="new total quantity (what filled counts)")
    rp.add_argument("--price", default="", help="new limit price")
    rp.add_argument("--json", action="store_true", help="machine-readable output")
    ca = osub.add_parser("cancel-all", help="cancel every open order (of one symbol)")
    ca.add_argument("symbol", nargs="?", default="")
    ca.add_argument("--json", action="store_true", help="machine-readable output")

    mk = sub.add_parser("market", help="market data: follow or drop symbols at run time")
    msub = mk.add_subparsers(dest="market_command", metavar="ACTION", required=True)
    for name, text in (
        ("add", "follow a symbol's book, trades and mark from now on (and trade it)"),
        ("remove", "stop following a symbol (it must have no open orders or position)"),
    ):
        mp = msub.add_parser(name, help=text)
        mp.add_argument("symbol")
        mp.add_argument("--json", action="store_true", help="machine-readable output")

    rk = sub.add_parser("risk", help="risk limits")
    rsub = rk.add_subparsers(dest="risk_command", metavar="ACTION", required=True)
    rr = rsub.add_parser("reload", help="put the config file's [risk] limits in force now")
    rr.add_argument("--json", action="store_true", help="machine-readable output")

    st = sub.add_parser("strategy", help="the engine's strategies: list, pause, resume, set")
    ssub = st.add_subparsers(dest="strategy_command", metavar="ACTION", required=True)
    sl = ssub.add_parser("list", help="each strategy's state, figures and parameters")
    sl.add_argument("--json", action="store_true", help="machine-readable output")
    for name, text in (
        ("pause", "pause a strategy (its open orders are cancelled)"),
        ("resume", "resume a paused strategy"),
        ("reload", "load the strategy's file afresh (state and orders carry over)"),
    ):
        sp = ssub.add_parser(name, help=text)
        sp.add_argument("name")
        sp.add_argument("--json", action="store_true", help="machine-readable output")
    ss = ssub.add_parser("set", help="change parameters while it runs: key=value ...")
    ss.add_argument("name")
    ss.add_argument("params", nargs="+", metavar="KEY=VALUE")
    ss.add_argument("--json", action="store_true", help="machine-readable output")

    os_ = sub.add_parser("orders", help="list open orders")
    os_.add_argument("--json", action="store_true", help="machine-readable output")

    ks = sub.add_parser("keys", help="API keys in the OS keyring")
    ksub = ks.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    for name, text in (
        ("set", "store key and secret (read from a prompt or stdin, never argv)"),
        ("test", "check the stored keys with one signed call to the venue"),
        ("delete", "remove the stored keys"),
        ("status", "show the keyring backend and whether keys are stored"),
    ):
        kp = ksub.add_parser(name, help=text)
        kp.add_argument("--venue", default=None, help="local, binance-testnet or binance")
        kp.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "test":
            # The TUI names the local exchange its engine uses; a real venue's URL is fixed,
            # so signed calls never go anywhere a flag says.
            kp.add_argument("--url", default="", help="venue local only: the exchange to call")


def run_trading_command(config: Config, args: argparse.Namespace) -> int:
    if args.command == "keys":
        return _keys(config, args)
    if args.command == "orders":
        return _orders(config, args.json)
    if args.command == "strategy" and args.strategy_command == "list":
        return _strategies(config, args.json)
    command = _command(args)
    if isinstance(command, str):
        return _fail(command, 2)
    return _send(config, command, args.json)


def _fail(message: str, status: int = 1) -> int:
    print(f"hftui: {message}", file=sys.stderr)
    return status


def _command(args: argparse.Namespace) -> Command | str:
    if args.command == "kill":
        return Kill(flatten=args.flatten)
    if args.command == "rearm":
        return Rearm()
    if args.command == "risk":
        return ReloadRisk()
    if args.command == "market":
        return WatchSymbol(args.symbol.upper(), watch=args.market_command == "add")
    if args.command == "strategy":
        return _strategy_command(args)
    if args.command == "mode":
        mode = Mode[args.mode.upper()]
        confirm = args.confirm
        if mode == Mode.LIVE and confirm is None and sys.stdin.isatty():
            confirm = input("Going LIVE sends real orders. Type LIVE to confirm: ").strip()
        return SetMode(mode, confirm or "")
    if args.order_command == "place":
        order_type = OrderType[args.order_type.upper()]
        return PlaceOrder(
            args.symbol.upper(),
            Side.BUY if args.side == "buy" else Side.SELL,
            args.qty,
            args.price,
            order_type,
            post_only=args.post_only,
            reduce_only=args.reduce_only,
        )
    if args.order_command == "cancel":
        return CancelOrder(args.client_id)
    if args.order_command == "replace":
        if not args.qty and not args.price:
            return "order replace needs --qty and/or --price"
        return ReplaceOrder(args.client_id, args.qty, args.price)
    return CancelAll(args.symbol.upper())


def _strategy_command(args: argparse.Namespace) -> Command | str:
    action, name = args.strategy_command, args.name
    if action == "pause":
        return PauseStrategy(name)
    if action == "resume":
        return ResumeStrategy(name)
    if action == "reload":
        return ReloadStrategy(name)
    bad = [p for p in args.params if "=" not in p or p.startswith("=") or " " in p]
    if bad:
        return f"strategy set takes KEY=VALUE, not {bad[0]!r}"
    return SetStrategyParams(name, " ".join(args.params))


def _print_answer(answer: CommandAnswered, as_json: bool) -> None:
    if as_json:
        doc = {
            "ok": answer.ok,
            "reason": answer.reason.name.lower(),
            "code": int(answer.reason),
            "text": answer.text,
        }
        print(orjson.dumps(doc).decode())
    elif answer.ok:
        print(answer.text)
    else:
        print(f"refused ({answer.reason.name.lower()}): {answer.text}")


def _send(config: Config, command: Command, as_json: bool) -> int:
    from hftui.remote import EngineControl, RingError

    info = find_running(config.engine.instance)
    if info is None:
        return _fail(f"no engine running (instance {config.engine.instance!r})")
    try:
        link = EngineControl(info)
    except RingError as exc:
        return _fail(f"cannot reach the engine: {exc}")
    try:
        request_id = link.send(command)
        answer = link.wait_answer(request_id, _ANSWER_TIMEOUT_S)
    except ValueError as exc:
        return _fail(str(exc), 2)
    except RingError as exc:
        return _fail(str(exc))
    finally:
        link.close()
    if answer is None:
        return _fail(f"the engine did not answer within {_ANSWER_TIMEOUT_S:.0f} s")
    _print_answer(answer, as_json)
    return 0 if answer.ok else REFUSED


def _order_document(
    row: np.void, decimals: dict[str, tuple[int, int]], now: int
) -> dict[str, object]:
    symbol = decode_text(row["symbol"])
    pd, qd = decimals.get(symbol, (0, 0))
    tif = TimeInForce(int(row["tif"]))
    order_type = OrderType(int(row["order_type"]))
    return {
        "client_id": decode_text(row["client_id"]),
        "symbol": symbol,
        "side": Side(int(row["side"])).name.lower(),
        "type": order_type.name.lower(),
        "price": format_units(int(row["price"]), pd) if order_type == OrderType.LIMIT else None,
        "qty": format_units(int(row["qty"]), qd),
        "filled": format_units(int(row["filled"]), qd),
        "status": OrderStatus(int(row["status"])).label,
        "post_only": tif == TimeInForce.GTX,
        "reduce_only": bool(row["reduce_only"]),
        "mode": Mode(int(row["mode"])).label,
        "strategy": decode_text(row["strategy"]),
        "age_s": round((now - int(row["created_ns"])) / 1e9, 1),
        "reason": Reason(int(row["reason"])).name.lower(),
        "text": decode_text(row["text"]),
    }


def _snapshot(config: Config) -> SnapshotReader | None:
    """The running engine's snapshot region, or None when no engine (or region) is there."""
    from hftui.ipc import RegionError, SnapshotReader

    info = find_running(config.engine.instance)
    if info is None:
        return None
    try:
        return SnapshotReader(info.shm)
    except RegionError:
        return None


def orders_document(config: Config) -> dict[str, object] | None:
    reader = _snapshot(config)
    if reader is None:
        return None
    try:
        header = reader.header()
        decimals: dict[str, tuple[int, int]] = {}
        for i in range(int(header["n_symbols"])):
            s = reader.symbol(i)
            decimals[decode_text(s["symbol"])] = (
                int(s["price_decimals"]),
                int(s["qty_decimals"]),
            )
        block = reader.orders()
        now = time.time_ns()

        return {
            "mode": Mode(int(header["mode"])).label,
            "killed": bool(header["killed"]),
            "total": int(block["total"]),
            "orders": [
                _order_document(r, decimals, now) for r in block["rows"][: int(block["count"])]
            ],
            "recent": [
                _order_document(r, decimals, now) for r in block["recent"][: int(block["n_recent"])]
            ],
        }
    finally:
        reader.close()


def _orders(config: Config, as_json: bool) -> int:
    doc = orders_document(config)
    if doc is None:
        return _fail(f"no engine running (instance {config.engine.instance!r})")
    if as_json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return 0
    rows = doc["orders"]
    if not isinstance(rows, list):
        return _fail("malformed orders block")
    print(
        f"mode {str(doc['mode']).upper()}{'  KILLED' if doc['killed'] else ''}  "
        f"open orders {doc['total']}"
    )
    for o in rows:
        price = o["price"] or "market"
        print(
            f"{o['client_id']:<24} {o['mode']:<5} {o['symbol']:<9} {o['side']:<4} "
            f"{o['qty']:>10} @ {price:<12} filled {o['filled']:<10} {o['status']}"
        )
    recent = doc["recent"]
    if isinstance(recent, list) and recent:
        print("finished, newest first:")
        for o in recent:
            price = o["price"] or "market"
            why = f"  {o['reason']}: {o['text']}" if o["reason"] != "ok" else ""
            print(
                f"{o['client_id']:<24} {o['mode']:<5} {o['symbol']:<9} {o['side']:<4} "
                f"{o['qty']:>10} @ {price:<12} filled {o['filled']:<10} {o['status']}{why}"
            )
    return 0


def strategies_document(config: Config) -> dict[str, object] | None:
    """The strategies block of the running engine, or None when no engine runs."""
    import dataclasses

    from hftui.link import strategy_rows

    reader = _snapshot(config)
    if reader is None:
        return None
    try:
        header = reader.header()
        block = reader.strategies()
        return {
            "mode": Mode(int(header["mode"])).label,
            "total": int(block["total"]),
            "strategies": [dataclasses.asdict(row) for row in strategy_rows(block)],
        }
    finally:
        reader.close()


def _strategies(config: Config, as_json: bool) -> int:
    doc = strategies_document(config)
    if doc is None:
        return _fail(f"no engine running (instance {config.engine.instance!r})")
    if as_json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return 0
    rows = doc["strategies"]
    if not isinstance(rows, list):
        return _fail("malformed strategies block")
    print(f"mode {str(doc['mode']).upper()}  strategies {doc['total']}")
    for r in rows:
        print(
            f"{r['name']:<16} {r['state']:<8} intents {r['intents']:<7} open {r['open_orders']:<4}"
            f"fills {r['fills']:<6} realized {r['realized']:+.2f}  "
            f"on_book p50/p99 {r['p50_ns'] / 1e3:.0f}/{r['p99_ns'] / 1e3:.0f} us"
        )
        if r["why"]:
            print(f"  why: {r['why']}")
        print(f"  params: {r['params']}")
    return 0


# ---- keys -----------------------------------------------------------------------------------


def _read_secret_inputs() -> tuple[str, str]:
    if sys.stdin.isatty():
        api_key = input("API key: ").strip()
        secret = getpass.getpass("API secret (not shown): ").strip()
        return api_key, secret
    lines = sys.stdin.read().splitlines()
    if len(lines) < 2:
        raise ValueError("stdin must hold the API key on line 1 and the secret on line 2")
    return lines[0].strip(), lines[1].strip()


def _keys(config: Config, args: argparse.Namespace) -> int:
    from hftui.keys import KeyringUnusableError, delete_keys, key_status, store_keys

    venue = args.venue or config.venue.name
    if venue not in ("local", "binance-testnet", "binance"):
        return _fail(f"--venue {venue!r}: expected local, binance-testnet or binance", 2)
    action = args.keys_command
    try:
        if action == "set":
            try:
                api_key, secret = _read_secret_inputs()
                store_keys(venue, api_key, secret)
            except ValueError as exc:
                return _fail(str(exc), 2)
            return _keys_report(venue, args.json, "stored")
        if action == "delete":
            removed = delete_keys(venue)
            return _keys_report(venue, args.json, "deleted" if removed else "nothing stored")
        if action == "status":
            status = key_status(venue)
            return _keys_report(venue, args.json, "ok" if status.usable else status.problem)
        if args.url and venue != "local":
            return _fail("--url is for venue local only", 2)
        return _keys_test(config, venue, args.json, args.url)
    except KeyringUnusableError as exc:
        if args.json:
            print(orjson.dumps({"ok": False, "venue": venue, "text": str(exc)}).decode())
            return REFUSED
        return _fail(str(exc), REFUSED)


def _keys_report(venue: str, as_json: bool, text: str) -> int:
    from hftui.keys import key_status

    status = key_status(venue)
    doc = {
        "ok": not status.problem,
        "venue": venue,
        "backend": status.backend,
        "stored": status.stored,
        "api_key_hint": status.api_key_hint,
        "usable": status.usable,
        "text": text,
    }
    if as_json:
        print(orjson.dumps(doc).decode())
    else:
        stored = f"key {status.api_key_hint}" if status.stored else "no keys stored"
        demo = " (the local demo account is used)" if venue == "local" and not status.stored else ""
        print(f"{venue}: {text}; {stored}{demo}; keyring backend {status.backend}")
        if status.problem and status.problem != text:
            print(status.problem)
    return 0


def _venue_rest_url(config: Config, venue: str) -> str | None:
    from hftui.engine.binance.constants import VENUE_URLS

    if venue != "local":
        return VENUE_URLS[venue][0]
    info = find_running(config.engine.instance)
    if info is not None and info.venue == "local" and info.venue_url:
        return info.venue_url
    return config.venue.url


def _keys_test(config: Config, venue: str, as_json: bool, given_url: str = "") -> int:
    from hftui.engine.binance.client import Credentials, VenueClient
    from hftui.engine.binance.rest import VenueError
    from hftui.keys import load_keys

    keys = load_keys(venue)
    if keys is None:
        return _fail(f"no keys stored for {venue}; use `hftui keys set --venue {venue}`", REFUSED)
    url = given_url or _venue_rest_url(config, venue)
    if not url:
        return _fail("no local exchange is running; start hftui (or `hftui engine`) first")

    async def check() -> str:
        client = VenueClient(url, Credentials(keys.api_key, keys.secret))
        try:
            await client.start()
            account = await client.account()
            return str(account.get("availableBalance", account.get("totalWalletBalance", "?")))
        finally:
            await client.close()

    try:
        balance = asyncio.run(check())
    except VenueError as exc:
        if as_json:
            print(orjson.dumps({"ok": False, "venue": venue, "text": str(exc)}).decode())
            return REFUSED
        return _fail(f"the venue refused the keys: {exc}", REFUSED)
    text = f"keys work on {venue} ({url}); available balance {balance} USDT"
    if keys.demo:
        text += " (the local demo account)"
    if as_json:
        print(orjson.dumps({"ok": True, "venue": venue, "text": text}).decode())
    else:
        print(text)
    return 0
