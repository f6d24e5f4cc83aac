"""Run one catalogue scenario against a device: load the CA, start the server, drive the device.

The runner reports what happened as an Outcome; the suites compare it with the scenario's
expectation. It always leaves the device as it found it: sockets closed, CA restored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from w24_harness.at.codes import DeviceError, ResultCode
from w24_harness.device.w24 import W24
from w24_harness.pki.sets import CertSets
from w24_harness.scenarios import Expect, Scenario
from w24_harness.servers import ConnectionReport, ServerConfig, TLSServer, payload, sha256_hex
from w24_harness.vocab import Action, Stage

# How long the host leaves the socket alone in Action.RECEIVE_PAUSED (the server meanwhile sends
# far more than the module's receive buffer holds: TCP flow control must keep the rest).
NO_POLL_S = 2.0
# How long a close may take to show once all data are read (Action.RECEIVE_TO_CLOSE).
CLOSE_REPORT_S = 2.0
# How long the server may take to send its whole record plan.
PLAN_SENT_S = 10.0


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


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@dataclass
class ScenarioRunner:
    device: W24
    sets: CertSets
    host: str = "127.0.0.1"
    bind: str = "127.0.0.1"
    data_timeout: float = 30.0

    def run(self, scenario: Scenario) -> Outcome:
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
            records=scenario.records,
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
        elif scenario.action == Action.RECEIVE_TO_CLOSE:
            self._receive_to_close(scenario, server, handle, outcome)
        elif scenario.action == Action.RECEIVE_PAUSED:
            time.sleep(NO_POLL_S)
            self._exchange(scenario, server, handle, outcome)
        elif scenario.action == Action.SRCV_MAX:
            self._srcv_max(scenario, server, handle, outcome)
        elif scenario.action == Action.FULL_DUPLEX:
            self._full_duplex(scenario, server, handle, outcome)

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
            conn = server.wait_for_connection(1, timeout=5.0)
            if not _wait(lambda: conn.bytes_in >= len(data), self.data_timeout):
                raise Rejected(Stage.SEND, None, f"server received {conn.bytes_in} of {len(data)}")
            if conn.sha256_in != sha256_hex(data):
                raise Rejected(Stage.SEND, None, "server received different bytes (SHA-256 differs)")


    def _plan_sent(self, server: TLSServer) -> None:
        """Wait until the server has sent its whole record plan (its ending included)."""
        conn = server.wait_for_connection(1, timeout=5.0)
        if not _wait(lambda: conn.records_plan is not None or conn.finished, PLAN_SENT_S):
            raise Rejected(Stage.DATA, None, f"the server did not send its plan in {PLAN_SENT_S} s")

    def _receive_to_close(
        self, scenario: Scenario, server: TLSServer, handle: int, out: Outcome
    ) -> None:
        """All the data, then the close status, and never the close before the data.

        The host starts reading only once the server has sent everything and closed, so the
        data and the close are both in the device's hands: it must hand over every byte first.
        """
        want = payload(scenario.recv_size, seed=7)
        self._plan_sent(server)
        status = self.device.socket_status(handle)
        if want and status < 0:
            raise Rejected(Stage.DATA, -status, f"the close ({status}) shows before the "
                           f"{len(want)} bytes of data were read")
        got = bytearray()
        code: int | None = None
        deadline = time.monotonic() + CLOSE_REPORT_S
        while True:
            try:
                chunk = self.device.receive_once(handle)
            except DeviceError as exc:
                code = exc.code
                break
            got += chunk
            if chunk:
                deadline = time.monotonic() + CLOSE_REPORT_S
            elif time.monotonic() >= deadline:
                break
            else:
                time.sleep(self.device.poll_interval)
        out.bytes_received = len(got)
        if bytes(got) != want:
            then = "no close" if code is None else f"then {code}"
            raise Rejected(Stage.DATA, None, f"{_diff(want, bytes(got))}; {then}")
        if code is None:
            raise Rejected(Stage.DATA, None, f"all {len(want)} bytes arrived, but no close was "
                           f"reported within {CLOSE_REPORT_S} s (SRCV keeps answering I/0)")
        if code != ResultCode.SOCKET_DOWN:
            raise Rejected(Stage.DATA, code, f"all {len(want)} bytes arrived, then code {code}")
        out.detail = f"all {len(want)} bytes arrived, then the close as {code}"

    def _srcv_max(self, scenario: Scenario, server: TLSServer, handle: int, out: Outcome) -> None:
        """Read with AT+iSRCV:<hn>,<max> only, once the server has sent everything (so the
        device holds more than <max>): no reply may carry more than <max> bytes."""
        want = payload(scenario.recv_size, seed=7)
        limit = scenario.srcv_max
        self._plan_sent(server)
        got = bytearray()
        replies = 0
        deadline = time.monotonic() + self.data_timeout
        while len(got) < len(want) and time.monotonic() < deadline:
            try:
                chunk = self.device.receive_once(handle, limit)
            except DeviceError as exc:
                raise Rejected(Stage.DATA, exc.code, str(exc)) from exc
            if len(chunk) > limit:
                raise Rejected(Stage.DATA, None, f"AT+iSRCV:{handle},{limit} returned "
                               f"{len(chunk)} bytes (after {len(got)} bytes)")
            replies += 1
            got += chunk
            if not chunk:
                time.sleep(self.device.poll_interval)
        out.bytes_received = len(got)
        if bytes(got) != want:
            raise Rejected(Stage.DATA, None, _diff(want, bytes(got)))
        out.detail = f"{len(want)} bytes in {replies} replies of at most {limit}"

    def _full_duplex(
        self, scenario: Scenario, server: TLSServer, handle: int, out: Outcome
    ) -> None:
        """SSND and SRCV interleaved while the server streams: both directions at once."""
        want = payload(scenario.recv_size, seed=7)
        data = payload(scenario.send_size, seed=11)
        step = self.device.profile.max_ssnd_ssl
        got = bytearray()
        sent = 0
        deadline = time.monotonic() + self.data_timeout
        while (sent < len(data) or len(got) < len(want)) and time.monotonic() < deadline:
            if sent < len(data):
                try:
                    self.device.send(handle, data[sent : sent + step])
                except DeviceError as exc:
                    raise Rejected(Stage.SEND, exc.code, str(exc)) from exc
                sent += len(data[sent : sent + step])
            if len(got) < len(want):
                try:
                    got += self.device.receive_once(handle, len(want) - len(got))
                except DeviceError as exc:
                    raise Rejected(Stage.DATA, exc.code, str(exc)) from exc
        out.bytes_received, out.bytes_sent = len(got), sent
        if bytes(got) != want:
            raise Rejected(Stage.DATA, None, _diff(want, bytes(got)))
        conn = server.wait_for_connection(1, timeout=5.0)
        if not _wait(lambda: conn.bytes_in >= len(data), self.data_timeout):
            raise Rejected(Stage.SEND, None, f"server received {conn.bytes_in} of {len(data)}")
        if conn.sha256_in != sha256_hex(data):
            raise Rejected(Stage.SEND, None, "server received different bytes (SHA-256 differs)")


def _diff(want: bytes, got: bytes) -> str:
    if len(got) != len(want):
        return f"received {len(got)} bytes, expected {len(want)}"
    if got == want:
        return "received the expected bytes"
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
