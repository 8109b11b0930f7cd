"""Security properties, end to end.

- TLS: the signed venue client, the public REST client and the market-data stream connection
  refuse a server whose certificate nobody vouches for (a self-signed certificate made here,
  served on loopback), and accept the same server once its certificate is trusted, so the
  refusal is about trust and nothing else.
- Files: after a live session the data dir is 0700 and the journal (with its -wal and -shm)
  and the logs are 0600.
- Secrets: a whole live session (keys in a keyring file, an order placed and cancelled,
  `status --json`, a stop) leaves the secret in no log, no journal table, no file of the
  data dir, no shared-memory segment and no CLI output; a traceback raised while a signed
  request is built shows no secret, even with every frame's locals.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import sqlite3
import ssl
import stat
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rich.console import Console
from rich.traceback import Traceback

import hftui.engine.binance.client as client_module
from hftui.engine.binance.auth import encode_params
from hftui.engine.binance.client import Credentials, VenueClient
from hftui.engine.binance.rest import PublicRest, VenueError
from hftui.engine.market_data import MarketData
from hftui.keys import StoredKeys
from tests.e2e.test_trading import _bid, _engine_config, _ready
from tests.support.processes import (
    HFTUI,
    cli,
    eventually,
    isolated_env,
    local_exchange,
    shm_segments,
    stop,
)

pytestmark = pytest.mark.e2e

KEY = "secKEYaaaabbbbccccddddeeeeffffgggghhhhiiiijjjjkkkkllllmmmmnnnnoo"
SECRET = "secSECRETppppqqqqrrrrssssttttuuuuvvvvwwwwxxxxyyyyzzzz0123456789"
INSTANCE = "sec"

# ---- TLS ------------------------------------------------------------------------------------


def _self_signed(where: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that signs itself (a trust anchor once trusted), and its
    key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = where / "cert.pem", where / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def _time(_: web.Request) -> web.Response:
    return web.json_response({"serverTime": int(datetime.datetime.now(datetime.UTC).timestamp())})


async def _stream(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str('{"result":null,"id":0}')
    await ws.close()
    return ws


@asynccontextmanager
async def _https_venue(cert: Path, key: Path) -> AsyncIterator[str]:
    """A loopback HTTPS + WSS server with the self-signed certificate; yields host:port."""
    app = web.Application()
    app.router.add_get("/fapi/v1/time", _time)
    app.router.add_get("/public/stream", _stream)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"{host}:{port}"
    finally:
        await runner.cleanup()


def _certificate_refused(exc: BaseException) -> bool:
    chain: BaseException | None = exc
    while chain is not None:
        if isinstance(
            chain, aiohttp.ClientConnectorCertificateError | ssl.SSLCertVerificationError
        ):
            return True
        chain = chain.__cause__
    return False


async def test_venue_clients_refuse_an_untrusted_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path)
    async with _https_venue(cert, key) as where:
        signed = VenueClient(f"https://{where}", Credentials(KEY, SECRET))
        public = PublicRest(f"https://{where}")
        try:
            with pytest.raises(VenueError) as refused:
                await signed.sync_time()
            assert _certificate_refused(refused.value), refused.value
            assert "not sent" in str(refused.value)
            with pytest.raises(VenueError) as refused:
                await public.get("/fapi/v1/time")
            assert _certificate_refused(refused.value), refused.value
        finally:
            await signed.close()
            await public.close()

        # The same server once its certificate is trusted (the system store, as
        # `create_default_context` reads it): the refusal above was about trust alone.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        trusting = VenueClient(f"https://{where}", Credentials(KEY, SECRET))
        try:
            await trusting.sync_time()
        finally:
            await trusting.close()


async def test_the_stream_connection_refuses_an_untrusted_certificate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = _self_signed(tmp_path)
    async with _https_venue(cert, key) as where:
        market = MarketData(None, f"wss://{where}", ("BTCUSDT",), "100ms", 5.0)
        url = market._url("depth")
        # The session MarketData.run() makes: aiohttp's defaults, which verify.
        async with aiohttp.ClientSession() as session:
            with caplog.at_level(logging.WARNING, "hftui.engine.market_data"):
                assert await market._connect(session, "depth", url) is None
            assert market.connect_breakers["depth"].failures == 1
            errors = [str(getattr(r, "error", "")) for r in caplog.records]
            assert any("ClientConnectorCertificateError" in e for e in errors), errors
            assert any("CERTIFICATE_VERIFY_FAILED" in e for e in errors), errors
            # Trusting the certificate, the same URL connects and serves a frame.
            trusted = ssl.create_default_context(cafile=str(cert))
            async with session.ws_connect(url, ssl=trusted) as ws:
                assert (await ws.receive_str()).startswith("{")


def test_no_client_turns_verification_off() -> None:
    for module in ("hftui/engine/binance/client.py", "hftui/engine/binance/rest.py",
                   "hftui/engine/market_data.py", "hftui/engine/user_stream.py"):  # fmt: skip
        source = (Path(__file__).parents[2] / module).read_text()
        for switch in ("ssl=False", "verify_ssl=False", "CERT_NONE", "check_hostname = False"):
            assert switch not in source, (module, switch)


# ---- one live session -----------------------------------------------------------------------


@dataclass
class Session:
    """What a live session left behind, and what was seen while it ran."""

    data: Path
    config: Path
    engine_log: Path
    outputs: list[str] = field(default_factory=list)  # every CLI stdout and stderr
    shm: dict[str, bytes] = field(default_factory=dict)  # the engine's segments, mid-session
    modes_running: dict[str, int] = field(default_factory=dict)  # files' modes, mid-session


def _run(args: list[str], env: dict[str, str], seen: list[str]) -> dict[str, object]:
    done = cli([*args, "--json"], env)
    seen += [done.stdout, done.stderr]
    assert done.stdout, done.stderr
    doc = orjson.loads(done.stdout)
    assert isinstance(doc, dict)
    assert done.returncode == 0, doc
    return doc


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    tmp = tmp_path_factory.mktemp("security")
    env = isolated_env(tmp)
    env["HOME"] = str(tmp / "home")
    env["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
    data = Path(env["XDG_DATA_HOME"]) / "hftui"
    result = Session(data, Path(env["XDG_CONFIG_HOME"]), tmp / "engine.stderr")
    seen = result.outputs
    with local_exchange(env, tmp, accounts=[f"{KEY}:{SECRET}"]) as url:
        _engine_config(env, url, f'[engine]\ninstance = "{INSTANCE}"\n[metrics]\nport = 0\n')
        stored = subprocess.run(
            [*HFTUI, "keys", "set", "--venue", "local"], env=env, input=f"{KEY}\n{SECRET}\n",
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert stored.returncode == 0, stored.stderr
        seen += [stored.stdout, stored.stderr]
        with result.engine_log.open("wb") as err:
            engine = subprocess.Popen(
                [*HFTUI, "engine"], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        try:
            _ready(env)
            _run(["mode", "paper"], env, seen)
            _run(["mode", "live", "--confirm", "LIVE"], env, seen)
            _run(["keys", "test", "--venue", "local"], env, seen)
            bid = _bid(env, "BTCUSDT")
            _run(["order", "place", "BTCUSDT", "buy", "0.010", "--price", bid], env, seen)

            def live_order() -> str | None:
                orders = _run(["orders"], env, seen)["orders"]
                assert isinstance(orders, list)
                acked = [
                    o for o in orders if o["mode"] == "live" and str(o["status"]).upper() == "NEW"
                ]
                return str(acked[0]["client_id"]) if acked else None

            _run(["order", "cancel", eventually(live_order, 20)], env, seen)
            status = _run(["status"], env, seen)
            assert status["mode"] == "live"
            modes = set()
            for name in shm_segments(f"hftui_{INSTANCE}_{engine.pid}_"):
                result.shm[name] = Path("/dev/shm", name).read_bytes()
                modes.add(stat.S_IMODE(Path("/dev/shm", name).stat().st_mode))
            result.modes_running["shm"] = modes.pop() if len(modes) == 1 else -1
            journal = data / "journal" / f"{INSTANCE}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                path = Path(f"{journal}{suffix}")
                result.modes_running[path.name] = stat.S_IMODE(path.stat().st_mode)
        finally:
            assert stop(engine) == 0
    seen.append(result.engine_log.read_text(errors="replace"))
    return result


def test_the_session_really_traded_live(session: Session) -> None:
    # Without this the scans below could pass on a session that never touched the secret.
    assert len(session.shm) == 3, session.shm.keys()
    journal = session.data / "journal" / f"{INSTANCE}.sqlite3"
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        statuses = {r[0] for r in conn.execute("SELECT status FROM orders WHERE mode = 'live'")}
    finally:
        conn.close()
    assert "CANCELED" in statuses


def test_private_files_are_owner_only(session: Session) -> None:
    data = session.data
    for directory in (data, data / "logs", data / "journal", data / "run"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    # The journal and its WAL files, seen while the engine ran (a clean close removes them).
    names = [f"{INSTANCE}.sqlite3", f"{INSTANCE}.sqlite3-wal", f"{INSTANCE}.sqlite3-shm"]
    assert {n: session.modes_running[n] for n in names} == dict.fromkeys(names, 0o600)
    logs = list((data / "logs").iterdir())
    assert any(p.name == "engine.log" for p in logs), logs
    for path in [*logs, *(data / "journal").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert session.modes_running["shm"] == 0o600  # every segment, seen while it ran


def _journal_text(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"orders", "fills", "audit"} <= set(tables), tables
        rows = [
            str(row)
            for table in tables
            for row in conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the file
        ]
    finally:
        conn.close()
    assert any("keys" in row for row in rows), "the audit log should record the keys"
    return "\n".join(rows)


def test_the_secret_is_nowhere_a_session_writes(session: Session) -> None:
    needles = (SECRET.encode(), SECRET.encode().hex().encode())
    places: dict[str, bytes] = {f"/dev/shm/{name}": body for name, body in session.shm.items()}
    places["journal tables"] = _journal_text(
        session.data / "journal" / f"{INSTANCE}.sqlite3"
    ).encode()
    places["CLI output and engine stderr"] = "\n".join(session.outputs).encode()
    for root in (session.data, session.config):
        for path in root.rglob("*"):
            if path.is_file():
                places[str(path)] = path.read_bytes()
    assert any("logs" in place for place in places)
    assert any(KEY[:6].encode() in body for body in places.values()), "the key hint is shown"
    for place, body in places.items():
        for needle in needles:
            assert needle not in body, f"the secret is in {place}"


# ---- tracebacks -----------------------------------------------------------------------------


def _build_signed_request(client: VenueClient) -> None:
    stored = StoredKeys(KEY, SECRET)  # what the engine holds while it builds the client
    credentials = client.credentials
    assert credentials is not None
    assert stored.api_key == credentials.api_key
    client._encode("POST", "/fapi/v1/order", {"symbol": "BTCUSDT"}, signed=True, keyed=True)


def test_a_traceback_while_signing_shows_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    real = encode_params

    def failing(params: dict[str, str]) -> str:
        if "timestamp" in params:  # the credentials are in hand: the signature is next
            raise RuntimeError("clock read failed")
        return real(params)

    monkeypatch.setattr(client_module, "encode_params", failing)
    client = VenueClient("https://127.0.0.1:9", Credentials(KEY, SECRET))
    with pytest.raises(RuntimeError) as raised:
        _build_signed_request(client)
    exc = raised.value
    plain = "".join(traceback.format_exception(exc))
    with_locals = "".join(
        traceback.TracebackException.from_exception(exc, capture_locals=True).format()
    )
    console = Console(record=True, width=200, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(Traceback.from_exception(type(exc), exc, exc.__traceback__, show_locals=True))
    rich_text = console.export_text()
    console.file.close()
    assert "credentials = Credentials(api_key='secKEY…', secret=<hidden>)" in with_locals
    assert "secret=<hidden>" in rich_text
    for text in (plain, with_locals, rich_text, repr(client), str(client.credentials)):
        assert SECRET not in text
    with pytest.raises(TypeError):
        orjson.dumps(client.credentials)


def test_a_crashing_process_prints_no_secret(tmp_path: Path) -> None:
    # An uncaught exception in a process holding the credentials, as the engine would die.
    script = (
        "from hftui.engine.binance.client import Credentials\n"
        f"credentials = Credentials({KEY!r}, {SECRET!r})\n"
        "def build(c):\n"
        "    raise RuntimeError(f'cannot sign with {c!r} ({c})')\n"
        "build(credentials)\n"
    )
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", script], capture_output=True, text=True,
        timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" in done.stderr
    assert "secret=<hidden>" in done.stderr
    # The script's source line carries the secret (the test wrote it there); the traceback
    # quotes only the failing lines, never the line that made the credentials.
    assert SECRET not in done.stderr
