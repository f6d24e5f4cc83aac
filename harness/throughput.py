"""Throughput cases: bulk data through an SSL session, timed, with the line's framing counted.

Shared by suites/test_throughput.py and bench/line_rate.py. One case = one direction, one
protocol version, one cipher suite: the device opens TCP, runs AT+iSSL, then either polls SRCV
until the server's payload is in ("receive", server to device) or sends it in SSND chunks
("send", device to server). The transfer is timed from the first data command to the last
reply, the bytes that crossed the serial line in that time are counted from the transcript,
and the payload is compared by SHA-256 at the far end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from w24_harness.at.codes import DeviceError
from w24_harness.device.w24 import W24
from w24_harness.profiles import DeviceProfile
from w24_harness.report.linerate import WireBytes, minimal_wire, wire_bytes
from w24_harness.servers import (
    CertMaterial,
    ServerConfig,
    TLSServer,
    backend_for,
    payload,
    sha256_hex,
)
from w24_harness.tlsfacts import ProtocolVersion, short_name
from w24_harness.vocab import Backend, DataDirection

RECEIVE, SEND = DataDirection.RECEIVE, DataDirection.SEND
RECEIVE_SEED, SEND_SEED = 21, 22


@dataclass(frozen=True)
class ThroughputCase:
    direction: DataDirection
    version: ProtocolVersion
    suite: str  # IANA name

    @property
    def id(self) -> str:
        way = "down" if self.direction == RECEIVE else "up"
        short = f"{ProtocolVersion(self.version).short}-{short_name(self.suite)}"
        return f"throughput-{way}-{short}"

    @property
    def backend(self) -> Backend:
        return backend_for(self.version, self.suite)

    def describe(self, size: int) -> str:
        way = "server to device" if self.direction == RECEIVE else "device to server"
        return f"{size} bytes {way}, {self.version}, {self.suite}, {self.backend} server"


def cases_for(profile: DeviceProfile, directions: tuple[DataDirection, ...] = (RECEIVE, SEND)):
    """Every direction x protocol x suite the profile supports, in a stable order."""
    return [
        ThroughputCase(direction, version, suite)
        for direction in directions
        for version in profile.protocols
        for suite in profile.cipher_suites
    ]


@dataclass
class Transfer:
    """One measured transfer. `seconds` covers the data commands only, not the handshake."""

    case: ThroughputCase
    payload_bytes: int
    handshake_ms: float = 0.0
    seconds: float = 0.0
    wire: WireBytes = WireBytes(0, 0)  # what crossed the line during the transfer
    minimal: WireBytes = WireBytes(0, 0)  # the least the protocol needs: the bound's basis
    commands: int = 0  # SRCV polls or SSND chunks
    moved: int = 0  # bytes that arrived (device for receive, server for send)
    intact: bool = False
    error: str = ""  # why the transfer did not complete, "" when it did
    code: int | None = None  # the device's result code on failure

    @property
    def ok(self) -> bool:
        return self.intact and not self.error


def server_config(case: ThroughputCase, cert: CertMaterial, size: int, bind: str) -> ServerConfig:
    return ServerConfig(
        cert=cert,
        backend=case.backend,
        versions=(case.version,),
        suites=(case.suite,),
        bind=bind,
        send_on_connect=size if case.direction == RECEIVE else 0,
        seed=RECEIVE_SEED,
        handshake_timeout_s=20.0,
    )


def run_transfer(
    device: W24,
    server: TLSServer,
    case: ThroughputCase,
    size: int,
    *,
    host: str = "127.0.0.1",
    timeout: float = 60.0,
) -> Transfer:
    """Handshake with `server` (already serving `server_config(case, ...)`), move `size` bytes.

    Never raises for a device error: the Transfer says what failed. The socket is closed.
    """
    out = Transfer(case, size)
    handle = device.open_tcp(host, server.port)
    try:
        started = time.perf_counter()
        try:
            device.start_ssl(handle)
        except DeviceError as exc:
            out.error, out.code = f"handshake failed: {exc}", exc.code
            return out
        out.handshake_ms = 1000 * (time.perf_counter() - started)
        # Per reply: the device's receive buffer; per SSND: the driver's chunk, within the
        # profile's SSL limit. Neither depends on how fast this device delivers.
        unit = (device.profile.rx_buffer_bytes if case.direction == RECEIVE
                else min(device.ssnd_chunk, device.profile.max_ssnd_ssl))
        out.minimal = minimal_wire(case.direction, size, unit, handle)
        if case.direction == RECEIVE:
            _receive(device, handle, out, timeout)
        else:
            _send(device, server, handle, out, timeout)
        return out
    finally:
        device.close_quietly(handle)


def _receive(device: W24, handle: int, out: Transfer, timeout: float) -> None:
    want = payload(out.payload_bytes, RECEIVE_SEED)
    got = bytearray()
    mark = device.transcript.mark()
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    try:
        while len(got) < len(want):
            chunk = device.receive_once(handle, len(want) - len(got))
            out.commands += 1
            if chunk:
                got += chunk
            elif time.monotonic() > deadline:
                out.error = f"timed out after {timeout} s with {len(got)} bytes"
                break
            else:
                time.sleep(device.poll_interval)
    except DeviceError as exc:
        out.error, out.code = f"SRCV failed after {len(got)} bytes: {exc}", exc.code
    out.seconds = time.perf_counter() - started
    out.wire = wire_bytes(device.transcript.since(mark))
    out.moved = len(got)
    out.intact = sha256_hex(bytes(got)) == sha256_hex(want)
    if not out.intact and not out.error:
        out.error = f"received {len(got)} bytes whose SHA-256 differs from the server's"


def _send(device: W24, server: TLSServer, handle: int, out: Transfer, timeout: float) -> None:
    data = payload(out.payload_bytes, SEND_SEED)
    mark = device.transcript.mark()
    started = time.perf_counter()
    try:
        out.commands = device.send(handle, data)
    except DeviceError as exc:
        out.error, out.code = f"SSND failed: {exc}", exc.code
    # Timed to the device's last I/OK: the serial transfer; the server's view is checked after.
    out.seconds = time.perf_counter() - started
    out.wire = wire_bytes(device.transcript.since(mark))
    conn = server.wait_for_connection(1, timeout=5.0)
    deadline = time.monotonic() + min(timeout, 30.0)
    while conn.bytes_in < len(data) and time.monotonic() < deadline and not out.error:
        time.sleep(0.005)
    out.moved = conn.bytes_in
    out.intact = conn.sha256_in == sha256_hex(data)
    if not out.intact and not out.error:
        out.error = (
            f"server received {conn.bytes_in} of {len(data)} bytes"
            + (", SHA-256 differs" if conn.bytes_in == len(data) else "")
        )
