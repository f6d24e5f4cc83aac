"""Field interop: drive the device against a real daemon (w24_harness.interop.daemons) through
the record relay, and what a reference client says the daemon can offer.

`probe` asks tlslite-ng (which speaks all five W24 suites at SSL 3.0 and TLS 1.0) whether the
daemon, as configured, completes a handshake at one version and suite: a daemon whose TLS library
cannot offer it is then characterized (skipped with the reason), not blamed on the device.
`attempt` is one device session: AT+iSTCP to the relay, AT+iSSL, the daemon's application
exchange, AT+iSCLS. It returns the runner's Outcome, so the result fields match the catalogue's.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from tlslite.api import HandshakeSettings, TLSConnection
from tlslite.errors import TLSError

from w24_harness.at.codes import DeviceError, DeviceTimeout, ResultCode
from w24_harness.device.w24 import W24
from w24_harness.interop.daemon_configs import ECHO_MODULE, FTP_BANNER
from w24_harness.interop.daemons import App, Daemon
from w24_harness.interop.echo import BANNER
from w24_harness.runner.scenario import Outcome
from w24_harness.servers import IANA_TO_TLSLITE, payload
from w24_harness.tlsfacts import ProtocolVersion
from w24_harness.vocab import Stage

ECHO_BYTES = 1500  # under the W24's 2048-byte SSND and record limits: one SSND, one record
READ_LIMIT = 16384


class Failed(Exception):
    def __init__(self, stage: Stage, detail: str, code: int | None = None) -> None:
        super().__init__(detail)
        self.stage, self.detail, self.code = stage, detail, code


def probe(daemon: Daemon, version: str, suite: str, timeout: float = 10.0) -> str | None:
    """None if a reference client completes a handshake at exactly (version, suite); else why
    not. The daemon sees one more connection, which it may log."""
    cipher, mac = IANA_TO_TLSLITE[suite]
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = ProtocolVersion(version).wire
    settings.cipherNames, settings.macNames = [cipher], [mac]
    settings.keyExchangeNames = ["rsa"]
    settings.useExtendedMasterSecret = False
    settings.useEncryptThenMAC = False
    settings.minKeySize, settings.maxKeySize = 512, 8192
    try:
        sock = daemon.connect()
    except OSError as exc:
        return f"cannot connect: {exc}"
    sock.settimeout(timeout)
    if daemon.spec.app == App.FTP_AUTH_TLS:
        try:
            _auth_tls_plain(sock)
        except (OSError, Failed) as exc:
            sock.close()
            return f"AUTH TLS refused: {exc}"
    conn = TLSConnection(sock)
    try:
        conn.handshakeClientCert(settings=settings)
        return None
    except (TLSError, OSError) as exc:
        return f"reference client (tlslite-ng): {type(exc).__name__}: {exc}".strip()
    finally:
        with contextlib.suppress(TLSError, OSError):
            conn.close()
        sock.close()


@dataclass
class Exchange:
    sent: int = 0
    received: int = 0
    detail: str = ""


def read_until_closed(
    device: W24, handle: int, limit: int = READ_LIMIT, timeout: float = 10.0
) -> bytes:
    """SRCV until the peer has closed (203 after its data) or `timeout` passes quietly."""
    got = bytearray()
    while len(got) < limit:
        try:
            chunk = device.receive(handle, limit - len(got), timeout=timeout)
        except DeviceTimeout:
            break
        except DeviceError as exc:
            if exc.code == ResultCode.SOCKET_DOWN:
                break
            raise
        if not chunk:
            break
        got += chunk
        if device.socket_status(handle) < 0:
            break
    return bytes(got)


def _receive(device: W24, handle: int, n: int) -> bytes:
    try:
        return device.receive(handle, n, timeout=15.0)
    except DeviceError as exc:
        raise Failed(Stage.DATA, str(exc), exc.code) from exc
    except DeviceTimeout as exc:
        raise Failed(Stage.DATA, str(exc)) from exc


def _send(device: W24, handle: int, data: bytes) -> None:
    try:
        device.send(handle, data)
    except DeviceError as exc:
        raise Failed(Stage.SEND, str(exc), exc.code) from exc


def _check_echo(sent: bytes, got: bytes, what: str) -> None:
    if hashlib.sha256(got).digest() != hashlib.sha256(sent).digest():
        raise Failed(
            Stage.DATA, f"{what}: got {len(got)} bytes back for {len(sent)} sent, SHA-256 differs"
        )


def _http_body(response: bytes) -> tuple[bytes, bytes]:
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        raise Failed(Stage.DATA, f"no complete HTTP response ({len(response)} bytes)")
    return head, body


def _echo_line() -> bytes:
    # One line of text: gnutls-serv's echo treats what it read as a C string (a NUL byte ends
    # it) and answers once the data read so far ends in "\n".
    return payload(ECHO_BYTES, seed=13).hex().encode()[: ECHO_BYTES - 1] + b"\n"


def _echo(device: W24, handle: int, daemon: Daemon) -> Exchange:
    data = _echo_line()
    _send(device, handle, data)
    got = _receive(device, handle, len(data))
    _check_echo(data, got, "echo")
    return Exchange(len(data), len(got), f"{len(data)} bytes echoed, SHA-256 equal")


def _banner_echo(device: W24, handle: int, daemon: Daemon) -> Exchange:
    banner = _receive(device, handle, len(BANNER))
    if banner != BANNER:
        raise Failed(Stage.DATA, f"banner {banner!r}, expected {BANNER!r}")
    data = _echo_line()
    _send(device, handle, data)
    got = _receive(device, handle, len(data))
    _check_echo(data, got, "echo")
    backend = daemon.backend
    behind = backend.connections[-1] if backend and backend.connections else None
    if behind is None or behind.sha256_in != hashlib.sha256(data).hexdigest():
        raise Failed(Stage.SEND, "the plain service behind stunnel received other bytes")
    return Exchange(
        len(data),
        len(banner) + len(got),
        f"banner, then {len(data)} bytes echoed; SHA-256 equal at both ends",
    )


def _http(device: W24, handle: int, daemon: Daemon) -> Exchange:
    """POST echoed back by the echo module (both ways); without the module, GET of a file."""
    data = _echo_line()
    if ECHO_MODULE.is_file():
        request = (
            b"POST /echo HTTP/1.0\r\nHost: localhost\r\n"
            b"Content-Length: %d\r\n\r\n" % len(data) + data
        )
        what = f"POST of {len(data)} bytes echoed by nginx"
    else:
        (daemon.workdir / "www" / "payload.txt").write_bytes(data)
        request = b"GET /payload.txt HTTP/1.0\r\nHost: localhost\r\n\r\n"
        what = f"GET of a {len(data)}-byte file (no echo module: one way only)"
    _send(device, handle, request)
    got = read_until_closed(device, handle)
    head, body = _http_body(got)
    if not head.startswith(b"HTTP/1.1 200"):
        raise Failed(Stage.DATA, f"nginx answered {head.splitlines()[0]!r}")
    _check_echo(data, body, what)
    return Exchange(len(request), len(got), f"{what}, SHA-256 equal")


def _ftp_banner(device: W24, handle: int, daemon: Daemon) -> Exchange:
    want = f"220 {FTP_BANNER}\r\n".encode()
    got = _receive(device, handle, len(want))
    if got != want:
        raise Failed(Stage.DATA, f"FTP banner {got!r}, expected {want!r}")
    _send(device, handle, b"QUIT\r\n")
    reply = read_until_closed(device, handle)
    if not reply.startswith(b"221"):
        raise Failed(Stage.DATA, f"QUIT answered {reply!r}, expected 221")
    return Exchange(
        len(b"QUIT\r\n"),
        len(got) + len(reply),
        f"FTP banner {got.strip()!r}, QUIT answered {reply.strip()!r}",
    )


def _ftp_quit(device: W24, handle: int, daemon: Daemon) -> Exchange:
    _send(device, handle, b"QUIT\r\n")
    reply = read_until_closed(device, handle)
    if not reply.startswith(b"221"):
        raise Failed(Stage.DATA, f"QUIT inside TLS answered {reply!r}, expected 221")
    return Exchange(len(b"QUIT\r\n"), len(reply), f"AUTH TLS, then QUIT answered {reply.strip()!r}")


# RFC 4217 §4: the server's 220 greeting, then "AUTH TLS" answered 234, all in the clear; the
# TLS handshake follows on the same connection.
AUTH_TLS = b"AUTH TLS\r\n"


def _reply_code(line: bytes, want: bytes, what: str) -> None:
    if not line.startswith(want):
        raise Failed(Stage.DATA, f"{what} answered {line!r}, expected {want.decode()}")


def _device_line(device: W24, handle: int, timeout: float = 15.0) -> bytes:
    """One CRLF-ended line from a plain socket, by SRCV."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    while not got.endswith(b"\r\n") and time.monotonic() < deadline:
        try:
            chunk = device.receive_once(handle)
        except DeviceError as exc:
            raise Failed(Stage.DATA, str(exc), exc.code) from exc
        got += chunk
        if not chunk:
            time.sleep(device.poll_interval)
    return bytes(got)


def starttls(device: W24, handle: int, daemon: Daemon) -> None:
    """What the application says in the clear before AT+iSSL (explicit FTPS); nothing for the
    others, whose TLS starts with the connection."""
    if daemon.spec.app != App.FTP_AUTH_TLS:
        return
    _reply_code(_device_line(device, handle), b"220", "the connection")
    _send(device, handle, AUTH_TLS)
    _reply_code(_device_line(device, handle), b"234", "AUTH TLS")


def _auth_tls_plain(sock: socket.socket) -> None:
    """The same preamble for the reference client, on a plain socket."""
    reader = sock.makefile("rb")
    _reply_code(reader.readline(), b"220", "the connection")
    sock.sendall(AUTH_TLS)
    _reply_code(reader.readline(), b"234", "AUTH TLS")
    reader.close()


def _status_page(device: W24, handle: int, daemon: Daemon) -> Exchange:
    request = b"GET / HTTP/1.0\r\n\r\n"
    _send(device, handle, request)
    got = read_until_closed(device, handle)
    head, body = _http_body(got)
    if not head.startswith(b"HTTP/1.0 200") or b"Cipher is" not in body:
        raise Failed(Stage.DATA, f"status page {got[:80]!r}")
    line = next((ln for ln in body.splitlines() if b"Cipher is" in ln), b"")
    return Exchange(
        len(request),
        len(got),
        f"status page of {len(body)} bytes: {line.decode(errors='replace').strip()}",
    )


_EXCHANGES: dict[App, Callable[[W24, int, Daemon], Exchange]] = {
    App.ECHO: _echo,
    App.BANNER_ECHO: _banner_echo,
    App.HTTP_ECHO: _http,
    App.FTP_BANNER: _ftp_banner,
    App.FTP_AUTH_TLS: _ftp_quit,
    App.STATUS_PAGE: _status_page,
}


def exchange(device: W24, handle: int, daemon: Daemon) -> Exchange:
    """The daemon's application exchange, data checked both ways where it can be."""
    return _EXCHANGES[daemon.spec.app](device, handle, daemon)


def attempt(device: W24, host: str, port: int, daemon: Daemon, *, data: bool = True) -> Outcome:
    """One session from the device to the daemon (through the relay at host:port)."""
    handle = device.open_tcp(host, port)
    try:
        try:
            starttls(device, handle, daemon)
        except Failed as exc:
            return Outcome(False, exc.code, exc.stage, exc.detail)
        started = time.perf_counter()
        try:
            device.start_ssl(handle)
        except DeviceError as exc:
            return Outcome(False, exc.code, Stage.SSL, str(exc))
        ms = 1000 * (time.perf_counter() - started)
        if not data:
            return Outcome(True, detail="handshake accepted", handshake_ms=ms)
        try:
            done = exchange(device, handle, daemon)
        except Failed as exc:
            return Outcome(False, exc.code, exc.stage, exc.detail, handshake_ms=ms)
        return Outcome(
            True,
            detail=done.detail,
            handshake_ms=ms,
            bytes_sent=done.sent,
            bytes_received=done.received,
        )
    finally:
        device.close_quietly(handle)
