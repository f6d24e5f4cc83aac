"""Run one case against a device: load the CA, start the server, drive the device.

A case is a catalogue scenario or a throughput case (w24_harness.throughput); both go through
ScenarioRunner.run, and both come back as an Outcome that check_scenario records and judges.
The runner always leaves the device as it found it: sockets closed, CA restored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from w24_harness.at.codes import DeviceError
from w24_harness.device.w24 import W24
from w24_harness.pki.sets import CertSets
from w24_harness.report.linerate import transfer_size, wire_bytes
from w24_harness.scenarios import Expect, Scenario
from w24_harness.servers import ConnectionReport, ServerConfig, TLSServer, payload, sha256_hex
from w24_harness.throughput import (
    RECEIVE,
    RECEIVE_SEED,
    SEND_SEED,
    ThroughputCase,
    Transfer,
    minimal_for,
)
from w24_harness.throughput import server_config as throughput_server_config
from w24_harness.vocab import Action, Stage

# Every action the runner implements (see Scenario.action). A scenario naming another is refused
# before the device is touched: falling through to a plain handshake would report a verdict for a
# case that never ran.
ACTIONS: frozenset[Action] = frozenset(Action)


@dataclass
class Outcome:
    accepted: bool
    code: int | None = None
    stage: Stage | None = None
    detail: str = ""
    handshake_ms: float | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    server: dict[str, object] = field(default_factory=dict)
    transfer: Transfer | None = None  # throughput cases: what the transfer put on the line

    def matches(self, expect: Expect) -> bool:
        if expect.accept:
            return self.accepted
        return not self.accepted and self.code == expect.code and self.stage == expect.stage

    def __str__(self) -> str:
        if self.accepted:
            return "accept"
        code = "no code" if self.code is None else str(self.code)
        return f"reject {code} at {self.stage}"


class Rejected(Exception):
    def __init__(self, stage: Stage, code: int | None, detail: str) -> None:
        super().__init__(detail)
        self.stage, self.code, self.detail = stage, code, detail
        self.handshake_ms: float | None = None  # set when the handshake itself succeeded


@contextmanager
def ca_loaded(device: W24, pem: bytes | str | None, slot: str = "CA") -> Iterator[None]:
    """Load `pem` (None or empty: clear) and put back whatever the slot held before."""
    previous = device.get_ca(slot).pem
    try:
        if pem:
            device.set_ca(pem, slot, check=False)
        else:
            device.clear_ca(slot)
        yield
    finally:
        restore_ca(device, previous, slot)


def restore_ca(device: W24, pem: str, slot: str = "CA") -> None:
    if pem:
        device.set_ca(pem, slot, check=False)
    else:
        device.clear_ca(slot)


@dataclass
class ScenarioRunner:
    device: W24
    sets: CertSets
    host: str = "127.0.0.1"
    bind: str = "127.0.0.1"
    data_timeout: float = 30.0
    # The line's known rate (None: unknown, e.g. an unthrottled simulator): sizes throughput
    # cases (w24_harness.report.linerate.transfer_size).
    baud: int | None = None

    def run(self, scenario: Scenario | ThroughputCase, size: int | None = None) -> Outcome:
        """`size`: a throughput case's payload (default: about 1.5 s at the line rate)."""
        if isinstance(scenario, ThroughputCase):
            return self._throughput(scenario, transfer_size(self.baud) if size is None else size)
        if scenario.action not in ACTIONS:
            raise ValueError(
                f"scenario {scenario.id}: unknown action {scenario.action!r}; "
                f"known: {sorted(ACTIONS)}"
            )
        try:
            if scenario.action == Action.LOAD_CA:
                return self._load_ca(scenario)
            return self._with_server(scenario)
        except Rejected as rej:
            return Outcome(False, rej.code, rej.stage, rej.detail, handshake_ms=rej.handshake_ms)
        finally:
            for handle in list(self.device.sockets):
                self.device.close_quietly(handle)

    # -- CA parameter ----------------------------------------------------------------------

    def _load_ca(self, scenario: Scenario) -> Outcome:
        certs = self.sets.get(scenario.certs)
        previous = self.device.get_ca().pem
        try:
            try:
                self.device.set_ca(certs.ca_pem or b"", check=False)
            except DeviceError as exc:
                after = self.device.get_ca().pem
                if after != previous:
                    return Outcome(
                        False, exc.code, Stage.CA, "refused, but the previous CA was not kept intact"
                    )
                return Outcome(False, exc.code, Stage.CA, "refused; previous CA intact")
            back = self.device.get_ca().pem.strip()
            sent = (certs.ca_pem or b"").decode().replace("\r\n", "\n").strip()
            if back != sent:
                return Outcome(False, None, Stage.CA, "accepted, but AT+iCA? reads back another PEM")
            return Outcome(True, detail="loaded and read back")
        finally:
            restore_ca(self.device, previous)

    # -- handshakes and data ---------------------------------------------------------------

    def _server_config(self, scenario: Scenario, certs) -> ServerConfig:
        return ServerConfig(
            cert=certs.server,
            backend=scenario.backend,
            versions=scenario.versions,
            suites=scenario.suites,
            bind=self.bind,
            send_on_connect=scenario.recv_size,
            seed=7,
            misbehaviour=scenario.misbehaviour,
            handshake_timeout_s=20.0,
            client_ca_pem=self.sets.root.cert_pem if scenario.client_auth else None,
        )

    def _with_server(self, scenario: Scenario) -> Outcome:
        certs = self.sets.get(scenario.certs)
        with ExitStack() as stack:
            try:
                stack.enter_context(ca_loaded(self.device, certs.ca_pem))
            except DeviceError as exc:
                raise Rejected(Stage.CA, exc.code, f"CA refused: {exc}") from exc
            server = stack.enter_context(TLSServer(self._server_config(scenario, certs)))
            outcome = self._drive(scenario, server)
            outcome.server = _server_view(server)
            return outcome

    def _handshake(self, server: TLSServer) -> tuple[int, float]:
        handle = self.device.open_tcp(self.host, server.port)
        started = time.perf_counter()
        try:
            self.device.start_ssl(handle)
        except DeviceError as exc:
            raise Rejected(Stage.SSL, exc.code, str(exc)) from exc
        return handle, 1000 * (time.perf_counter() - started)

    def _drive(self, scenario: Scenario, server: TLSServer) -> Outcome:
        if scenario.action == Action.SSL_BAD_HANDLE:
            handle = self.device.open_tcp(self.host, server.port)
            self.device.close(handle)
            self._handshake_on(handle)
            return Outcome(True, detail="AT+iSSL on a closed handle was accepted")
        handle, ms = self._handshake(server)
        outcome = Outcome(True, handshake_ms=ms)
        try:
            self._after_handshake(scenario, server, handle, outcome)
        except Rejected as rej:
            rej.handshake_ms = ms
            raise
        self.device.close(handle)
        return outcome

    def _after_handshake(
        self, scenario: Scenario, server: TLSServer, handle: int, outcome: Outcome
    ) -> None:
        if scenario.action == Action.SECOND_SSL:
            second = self.device.open_tcp(self.host, server.port)
            self._handshake_on(second)
            outcome.detail = "a second SSL socket was accepted"
        elif scenario.action == Action.SSND_OVER:
            try:
                self.device.send_raw(handle, payload(self.device.profile.max_ssnd_ssl + 1))
            except DeviceError as exc:
                raise Rejected(Stage.SEND, exc.code, str(exc)) from exc
            outcome.detail = "an SSND over the SSL limit was accepted"
        elif scenario.action == Action.EXCHANGE:
            self._exchange(scenario, server, handle, outcome)

    def _handshake_on(self, handle: int) -> None:
        try:
            self.device.start_ssl(handle)
        except DeviceError as exc:
            raise Rejected(Stage.SSL, exc.code, str(exc)) from exc

    def _exchange(self, scenario: Scenario, server: TLSServer, handle: int, out: Outcome) -> None:
        if scenario.recv_size:
            want = payload(scenario.recv_size, seed=7)
            try:
                got = self.device.receive(handle, len(want), timeout=self.data_timeout)
            except DeviceError as exc:
                raise Rejected(Stage.DATA, exc.code, str(exc)) from exc
            out.bytes_received = len(got)
            if got != want:
                raise Rejected(Stage.DATA, None, _diff(want, got))
        if scenario.send_size:
            data = payload(scenario.send_size, seed=11)
            try:
                self.device.send(handle, data)
            except DeviceError as exc:
                raise Rejected(Stage.SEND, exc.code, str(exc)) from exc
            out.bytes_sent = len(data)
            conn = server.wait_bytes_in(len(data), self.data_timeout)
            if conn.bytes_in < len(data):
                raise Rejected(Stage.SEND, None, f"server received {conn.bytes_in} of {len(data)}")
            if conn.sha256_in != sha256_hex(data):
                raise Rejected(Stage.SEND, None, "server received different bytes (SHA-256 differs)")

    # -- throughput ------------------------------------------------------------------------

    def _throughput(self, case: ThroughputCase, size: int) -> Outcome:
        """Like an exchange, timed, with the serial line's bytes counted. Data errors leave the
        Outcome rejected with what moved so far; the socket is closed, the CA restored."""
        certs = self.sets.get("valid")
        if certs.server is None:
            raise ValueError("certificate set 'valid' has no server certificate")
        transfer = Transfer(size)
        try:
            with ExitStack() as stack:
                try:
                    stack.enter_context(ca_loaded(self.device, certs.ca_pem))
                except DeviceError as exc:
                    raise Rejected(Stage.CA, exc.code, f"CA refused: {exc}") from exc
                config = throughput_server_config(case, certs.server, size, self.bind)
                server = stack.enter_context(TLSServer(config))
                handle, ms = self._handshake(server)
                out = Outcome(True, handshake_ms=ms, transfer=transfer)
                transfer.minimal = minimal_for(self.device, case, size, handle)
                if case.direction == RECEIVE:
                    self._timed_receive(handle, out, transfer)
                else:
                    self._timed_send(server, handle, out, transfer)
                self.device.close_quietly(handle)
                out.server = {**_server_view(server), "backend": case.backend}
                return out
        except Rejected as rej:
            return Outcome(False, rej.code, rej.stage, rej.detail, handshake_ms=rej.handshake_ms,
                           transfer=transfer)
        finally:
            for handle in list(self.device.sockets):
                self.device.close_quietly(handle)

    def _timed_receive(self, handle: int, out: Outcome, transfer: Transfer) -> None:
        want = payload(transfer.payload_bytes, RECEIVE_SEED)
        mark = self.device.transcript.mark()
        started = time.perf_counter()
        got = self.device.receive_all(handle, len(want), timeout=self.data_timeout)
        transfer.seconds = time.perf_counter() - started
        transfer.wire = wire_bytes(self.device.transcript.since(mark))
        transfer.commands = got.commands
        out.bytes_received = n = len(got.data)
        if got.error is not None:
            _fail(out, Stage.DATA, got.error.code, f"SRCV failed after {n} bytes: {got.error}")
        elif got.timed_out:
            _fail(out, Stage.DATA, None, f"timed out after {self.data_timeout} s with {n} bytes")
        elif sha256_hex(got.data) != sha256_hex(want):
            _fail(out, Stage.DATA, None,
                  f"received {n} bytes whose SHA-256 differs from the server's")

    def _timed_send(self, server: TLSServer, handle: int, out: Outcome, transfer: Transfer) -> None:
        data = payload(transfer.payload_bytes, SEND_SEED)
        mark = self.device.transcript.mark()
        started = time.perf_counter()
        try:
            transfer.commands = self.device.send(handle, data)
        except DeviceError as exc:
            _fail(out, Stage.SEND, exc.code, f"SSND failed: {exc}")
        # Timed to the device's last I/OK: the serial transfer; the server's view comes after.
        transfer.seconds = time.perf_counter() - started
        transfer.wire = wire_bytes(self.device.transcript.since(mark))
        wait = self.data_timeout if out.accepted else 0.0
        conn = server.wait_bytes_in(len(data), wait)
        out.bytes_sent = conn.bytes_in
        if out.accepted and conn.sha256_in != sha256_hex(data):
            _fail(out, Stage.SEND, None, f"server received {conn.bytes_in} of {len(data)} bytes"
                  + (", SHA-256 differs" if conn.bytes_in == len(data) else ""))


def _fail(out: Outcome, stage: Stage, code: int | None, detail: str) -> None:
    out.accepted, out.stage, out.code, out.detail = False, stage, code, detail


def _diff(want: bytes, got: bytes) -> str:
    if len(got) != len(want):
        return f"received {len(got)} bytes, expected {len(want)}"
    first = next(i for i, (a, b) in enumerate(zip(want, got, strict=True)) if a != b)
    return f"received data differs from the server's at byte {first} (SHA-256 differs)"


def _server_view(server: TLSServer) -> dict[str, object]:
    if not server.connections:
        return {}
    conn: ConnectionReport = server.connections[0]
    return {
        "version": conn.version,
        "cipher": conn.cipher,
        "alert_received": conn.alert_received,
        "bytes_in": conn.bytes_in,
        "bytes_out": conn.bytes_out,
        "error": conn.error,
    }
