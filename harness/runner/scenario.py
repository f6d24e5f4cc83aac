"""Run one case against a device: load the CA, start the server, drive the device.

A case is a catalogue scenario or a throughput case (w24_harness.runner.throughput); both go through
ScenarioRunner.run, and both come back as an Outcome that check_scenario records and judges.
The runner always leaves the device as it found it: sockets closed, CA restored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field

from w24_harness.at.codes import DeviceError, DeviceTimeout, LineDeadError
from w24_harness.device.cacache import WritePurpose
from w24_harness.device.w24 import W24
from w24_harness.pki.certset import CertSetName
from w24_harness.pki.sets import CertSets
from w24_harness.runner.linerate import transfer_size, wire_bytes
from w24_harness.runner.throughput import (
    RECEIVE,
    RECEIVE_SEED,
    SEND_SEED,
    ThroughputCase,
    Transfer,
    minimal_for,
)
from w24_harness.runner.throughput import server_config as throughput_server_config
from w24_harness.scenarios import Expect, Scenario
from w24_harness.scenarios.ca import SECOND_SLOT
from w24_harness.servers import (
    ConnectionReport,
    ServerConfig,
    TLSServer,
    backend_for,
    payload,
    sha256_hex,
)
from w24_harness.servers.misbehaviour.records import FIN, RecordPlan, describe_client_record
from w24_harness.tlsfacts import ContentType
from w24_harness.vocab import Action, ServerSaw, Stage, Watch

SANITY_PING_TIMEOUT_S = 5.0
# Every action the runner implements (see Scenario.action). A scenario naming another is refused
# before the device is touched: falling through to a plain handshake would report a verdict for a
# case that never ran.
ACTIONS: frozenset[Action] = frozenset(Action)
# How long the host leaves the socket alone in Action.RECEIVE_PAUSED (the server meanwhile sends
# far more than the module's receive buffer holds: TCP flow control must keep the rest).
NO_POLL_S = 2.0
# How long a close may take to show once all data are read (Action.RECEIVE_TO_CLOSE).
CLOSE_REPORT_S = 2.0
# How long the server may take to send its whole record plan.
PLAN_SENT_S = 10.0
# A plan up to this size fits the kernel's socket buffers whole, so the server can send all of
# it before the host reads (larger ones would wait on TCP flow control).
PLAN_WAIT_BYTES = 32768


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
    # False when the device broke a rule on the way (a refused CA that did not keep the old one,
    # an accepted CA that reads back wrong): such an outcome matches no expectation.
    intact: bool = True
    # What the scenario's server saw of the client (its first connection), for Evidence.
    report: ConnectionReport | None = None
    # Why the sanity check after the scenario failed (the device needs a reset); None: it
    # passed or did not run.
    wedged: str | None = None
    sanity_checked: bool = False
    transfer: Transfer | None = None  # throughput cases: what the transfer put on the line
    # A scenario with `watch`: what the server saw the device send (None: nothing to tell).
    server_saw: ServerSaw | None = None
    # Every byte SRCV returned, in order, before whatever ended the read (an error code, a
    # close, the end of the data); None: the row reads no data. The judge compares it with the
    # plan: good data before a bad record must arrive intact, and nothing after it.
    delivered: bytes | None = None
    # The socket status values (SST) read while the row ran: evidence, never the verdict (a
    # socket whose peer closed may show the error while its buffered data are still readable,
    # spec §4.13).
    statuses: list[int] = field(default_factory=list)
    # The device took longer than the driver's timeout for a command of the row and then
    # answered AT again: a failure of the row, not of the infrastructure.
    hung: str | None = None
    # What the device put on the wire against an RFC, as the servers checked it (field, rule,
    # section: docs/invariants.md); any fails the row.
    violations: list[str] = field(default_factory=list)
    # The device's clock (AT+iRP8) when the row checks validity dates: an expired leaf accepted
    # by a module whose clock says 2008 is another finding than one whose clock is right.
    device_clock: str | None = None

    def matches(self, expect: Expect) -> bool:
        if not self.intact or self.hung:
            return False
        if expect.server is not None and self.server_saw != expect.server:
            return False
        if expect.accept:
            return self.accepted
        if self.accepted or self.stage != expect.stage:
            return False
        return self.code is not None if expect.any_code else self.code == expect.code

    def __str__(self) -> str:
        if self.hung:
            return f"hung at {self.stage}"
        if self.accepted:
            return "accept" if self.server_saw is None else f"accept ({self.server_saw})"
        code = "no code" if self.code is None else str(self.code)
        return f"reject {code} at {self.stage}"


class Rejected(Exception):
    def __init__(
        self, stage: Stage, code: int | None, detail: str, delivered: bytes | None = None
    ) -> None:
        super().__init__(detail)
        self.stage, self.code, self.detail = stage, code, detail
        self.handshake_ms: float | None = None  # set when the handshake itself succeeded
        self.delivered = delivered  # the data SRCV returned before the failure, if it read any


@contextmanager
def ca_loaded(
    device: W24,
    pem: bytes | str | None,
    slot: str = "CA",
    purpose: WritePurpose = WritePurpose.NEEDED,
) -> Iterator[None]:
    """Have `pem` in the slot (None or empty: cleared) for the block.

    In a session that keeps CAs (device.ca_cache.keep) the CA stays loaded afterwards, and is
    written only when the module does not hold it already; the session restores the module's
    own CA at its end. Otherwise the slot gets back what it held before."""
    cache = device.ca_cache
    if cache.keep:
        cache.ensure(device, pem, slot, purpose)
        if slot == "CA":
            # A scenario trusts the CA it asked for and no other: a CA another test left in a
            # second slot (CA2..CA4 on iChip) would be trusted too. Cleared only where the
            # cache knows (or reads) the slot holds one.
            for other in device.profile.ca_slots:
                if other != "CA":
                    cache.ensure(device, None, other, purpose)
        yield
        return
    previous = device.get_ca(slot).pem
    try:
        cache.ensure(device, pem, slot, purpose)
        yield
    finally:
        restore_ca(device, previous, slot)


def restore_ca(device: W24, pem: str, slot: str = "CA") -> None:
    """Put `pem` back (a write only where the slot holds something else)."""
    device.ca_cache.ensure(device, pem, slot, WritePurpose.RESTORE)


@dataclass
class ScenarioRunner:
    device: W24
    sets: CertSets
    host: str = "127.0.0.1"
    bind: str = "127.0.0.1"
    data_timeout: float = 30.0
    # The line's known rate (None: unknown, e.g. an unthrottled simulator): sizes throughput
    # cases (w24_harness.runner.linerate.transfer_size).
    baud: int | None = None
    # The last scenario server: its connections (with every byte each way and the session
    # keys) and its address, for a failing scenario's capture (servers/capture.py).
    last_server: tuple[list[ConnectionReport], tuple[str, int]] | None = None

    def run(self, scenario: Scenario | ThroughputCase, size: int | None = None) -> Outcome:
        """`size`: a throughput case's payload (default: about 1.5 s at the line rate)."""
        self.last_server = None
        if isinstance(scenario, ThroughputCase):
            return self._throughput(scenario, transfer_size(self.baud) if size is None else size)
        if scenario.action not in ACTIONS:
            raise ValueError(
                f"scenario {scenario.id}: unknown action {scenario.action!r}; "
                f"known: {sorted(ACTIONS)}"
            )
        outcome = self._run(scenario)
        if scenario.measures == "check_validity_dates":
            outcome.device_clock = self._device_clock()
        if scenario.misbehaviour is not None or not outcome.accepted:
            outcome.sanity_checked = True
            outcome.wedged = self.sanity_check()
            if outcome.wedged:
                self._reset_quietly()
        return outcome

    def _device_clock(self) -> str | None:
        """AT+iRP8 (spec §12: the module's NTP time), or None where it has no answer."""
        try:
            return " ".join(self.device.report(8)).strip() or None
        except (DeviceError, DeviceTimeout):
            return None  # a firmware without RP8: the row stands without it

    def _reset_quietly(self) -> None:
        """A wedged device gets AT+iDOWN so the next scenario starts clean; if it does not
        answer even that, the w24 fixture's recovery takes over."""
        with suppress(Exception):  # recovery is best effort; the wedge is already reported
            self.device.reset()

    def _run(self, scenario: Scenario) -> Outcome:
        server_box: list[TLSServer] = []
        try:
            if scenario.action == Action.LOAD_CA:
                return self._load_ca(scenario)
            if scenario.action == Action.QUERY_CA_SLOT:
                return self._query_ca_slot()
            return self._with_server(scenario, server_box)
        except Rejected as rej:
            outcome = Outcome(False, rej.code, rej.stage, rej.detail, handshake_ms=rej.handshake_ms)
            outcome.delivered = rej.delivered
            if server_box:
                _attach_server(outcome, server_box[0])
            return outcome
        except DeviceTimeout as exc:
            # The device did not answer a command of the row in time. If it answers AT now,
            # that was the firmware hanging on this row's input (a stalled server, a flood):
            # the row's failure. If it does not, the device is gone: infrastructure.
            try:
                self.device.resync()
                self.device.ping(timeout=SANITY_PING_TIMEOUT_S)
            except Exception:
                raise exc from None
            stage = _stage_of(str(exc))
            outcome = Outcome(False, None, stage, f"no answer in time: {exc}", hung=str(exc))
            if server_box:
                _attach_server(outcome, server_box[0])
            return outcome
        finally:
            for handle in list(self.device.sockets):
                self.device.close_quietly(handle)

    def sanity_check(self) -> str | None:
        """After a rejection or a misbehaving server: the device still answers AT, and still
        completes a valid handshake (tlsfuzzer's sanity probe). None if so, else why not."""
        profile = self.device.profile
        try:
            self.device.ping(timeout=SANITY_PING_TIMEOUT_S)
        except LineDeadError:
            raise  # the port closed under us: infrastructure trouble, not a wedged firmware
        except Exception as exc:  # any failure to answer is the finding
            return f"device does not answer AT after the scenario: {exc}"
        version = profile.protocols[-1]
        suite = profile.cipher_suites[0]
        certs = self.sets.get(CertSetName.VALID)
        assert certs.server is not None  # the valid set always has a server certificate
        config = ServerConfig(
            cert=certs.server,
            backend=backend_for(version, suite),
            versions=(version,),
            suites=(suite,),
            bind=self.bind,
            handshake_timeout_s=profile.handshake_timeout_s + 5,
        )
        try:
            sanity = WritePurpose.SANITY
            with ca_loaded(self.device, certs.ca_pem, purpose=sanity), TLSServer(config) as server:
                handle, _ms = self._handshake(server)
                self.device.close(handle)
        except Rejected as rej:
            return f"a valid {version} {suite} handshake after the scenario failed: {rej.detail}"
        except LineDeadError:
            raise  # as above: the port, not the firmware
        except Exception as exc:  # the driver: the device is not usable
            return f"the valid handshake after the scenario failed: {type(exc).__name__}: {exc}"
        finally:
            for handle in list(self.device.sockets):
                self.device.close_quietly(handle)
        return None

    # -- CA parameter ----------------------------------------------------------------------

    def _query_ca_slot(self) -> Outcome:
        try:
            self.device.get_ca(SECOND_SLOT)
        except DeviceError as exc:
            return Outcome(False, exc.code, Stage.CA, f"AT+i{SECOND_SLOT}? refused")
        return Outcome(True, detail=f"AT+i{SECOND_SLOT}? answered")

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
                        False,
                        exc.code,
                        Stage.CA,
                        "refused, but the previous CA was not kept intact",
                        intact=False,
                    )
                return Outcome(False, exc.code, Stage.CA, "refused; previous CA intact")
            back = self.device.get_ca().pem.strip()
            sent = (certs.ca_pem or b"").decode().replace("\r\n", "\n").strip()
            if back != sent:
                return Outcome(
                    False,
                    None,
                    Stage.CA,
                    "accepted, but AT+iCA? reads back another PEM",
                    intact=False,
                )
            return Outcome(True, detail="loaded and read back")
        finally:
            # Part of the scenario's deliberate writes: the next scenario finds what it left.
            # A module that will not take it back is read again by the cache, which then
            # knows what it holds: the outcome above stands.
            with suppress(DeviceError):
                self.device.ca_cache.ensure(self.device, previous, "CA", WritePurpose.DELIBERATE)

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

    def _with_server(self, scenario: Scenario, server_box: list[TLSServer]) -> Outcome:
        certs = self.sets.get(scenario.certs)
        with ExitStack() as stack:
            try:
                stack.enter_context(ca_loaded(self.device, certs.ca_pem))
            except DeviceError as exc:
                raise Rejected(Stage.CA, exc.code, f"CA refused: {exc}") from exc
            server = stack.enter_context(TLSServer(self._server_config(scenario, certs)))
            server_box.append(server)
            self.last_server = (server.connections, server.address)
            try:
                outcome = self._drive(scenario, server)
            finally:
                for handle in list(self.device.sockets):
                    self.device.close_quietly(handle)
                self._settle(server)
            _attach_server(outcome, server)
            if scenario.watch is not None and outcome.report is not None:
                outcome.server_saw = server_saw(scenario.watch, outcome.report.client_after_plan)
            return outcome

    @staticmethod
    def _settle(server: TLSServer) -> None:
        """Let the server finish reading the client's last records (its alert) before the
        evidence is read; bounded, and a server still waiting is cut by the stop."""
        if server.connections:
            with suppress(TimeoutError):
                server.wait_closed(timeout=SETTLE_TIMEOUT_S)

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
        elif scenario.action == Action.SSND_ONE:
            self._ssnd_one(scenario, server, handle, outcome)
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
            plan = scenario.records
            if plan is not None and _may_end_early(plan) and plan.data_bytes <= PLAN_WAIT_BYTES:
                # The good data and the record that may end the session are both in the
                # device's hands before the host reads: what it delivers before the error is
                # then its own choice, not the race between the host's poll and the server.
                self._plan_sent(server)
            read = self.device.receive_all(handle, len(want), timeout=self.data_timeout)
            got = read.data
            out.bytes_received, out.delivered = len(got), got
            if read.error is not None:
                raise Rejected(Stage.DATA, read.error.code, str(read.error), delivered=got)
            if got != want:
                raise Rejected(Stage.DATA, None, _diff(want, got), delivered=got)
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
                raise Rejected(
                    Stage.SEND, None, "server received different bytes (SHA-256 differs)"
                )

    def _ssnd_one(self, scenario: Scenario, server: TLSServer, handle: int, out: Outcome) -> None:
        """One SSND of exactly send_size bytes, whatever the driver's chunk on this path."""
        data = payload(scenario.send_size, seed=11)
        try:
            self.device.send_raw(handle, data)
        except DeviceError as exc:
            raise Rejected(Stage.SEND, exc.code, str(exc)) from exc
        out.bytes_sent = len(data)
        conn = server.wait_bytes_in(len(data), self.data_timeout)
        if conn.bytes_in != len(data) or (data and conn.sha256_in != sha256_hex(data)):
            raise Rejected(
                Stage.SEND, None, f"server received {conn.bytes_in} of {len(data)} bytes, or others"
            )
        out.detail = f"one SSND of {len(data)} bytes arrived whole"

    # -- throughput ------------------------------------------------------------------------

    def _throughput(self, case: ThroughputCase, size: int) -> Outcome:
        """Like an exchange, timed, with the serial line's bytes counted. Data errors leave the
        Outcome rejected with what moved so far; the socket is closed, the CA restored."""
        certs = self.sets.get(CertSetName.VALID)
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
                self.last_server = (server.connections, server.address)
                handle, ms = self._handshake(server)
                out = Outcome(True, handshake_ms=ms, transfer=transfer)
                transfer.minimal = minimal_for(self.device, case, size, handle)
                if case.direction == RECEIVE:
                    self._timed_receive(handle, out, transfer)
                else:
                    self._timed_send(server, handle, out, transfer)
                self.device.close_quietly(handle)
                self._settle(server)  # the device's last records (its close) reach the checks
                out.server = {**_server_view(server), "backend": case.backend}
                if flag_violations(out, server):
                    out.accepted = False  # the throughput verdict reads only `accepted`
                    out.detail = "wire invariants broken: " + "; ".join(out.violations)
                return out
        except Rejected as rej:
            return Outcome(
                False,
                rej.code,
                rej.stage,
                rej.detail,
                handshake_ms=rej.handshake_ms,
                transfer=transfer,
            )
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
            _fail(
                out, Stage.DATA, None, f"received {n} bytes whose SHA-256 differs from the server's"
            )

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
            _fail(
                out,
                Stage.SEND,
                None,
                f"server received {conn.bytes_in} of {len(data)} bytes"
                + (", SHA-256 differs" if conn.bytes_in == len(data) else ""),
            )

    def _plan_sent(self, server: TLSServer) -> None:
        """Wait until the server has sent its whole record plan (its ending included)."""
        conn = server.wait_for_connection(1, timeout=5.0)
        if not _wait(lambda: conn.records_plan is not None or conn.finished, PLAN_SENT_S):
            raise Rejected(Stage.DATA, None, f"the server did not send its plan in {PLAN_SENT_S} s")

    def _receive_to_close(
        self, scenario: Scenario, server: TLSServer, handle: int, out: Outcome
    ) -> None:
        """All the data, then the close: judged by what SRCV returns, never by a status.

        The host starts reading only once the server has sent everything and closed, so the
        data and the close are both in the device's hands. It reads with SRCV until an error
        code ends the read (or nothing comes for CLOSE_REPORT_S): the data must all come
        first, in order, then an error code. The socket status is read once before, as
        evidence only: spec §4.13 lets a closed socket report the error while its buffered data
        are still readable.
        """
        want = payload(scenario.recv_size, seed=7)
        self._plan_sent(server)
        out.statuses.append(self.device.socket_status(handle))
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
        data = bytes(got)
        out.bytes_received, out.delivered = len(data), data
        if data != want:
            then = "no close" if code is None else f"then {code}"
            raise Rejected(Stage.DATA, None, f"{_diff(want, data)}; {then}", delivered=data)
        if code is None:
            raise Rejected(
                Stage.DATA,
                None,
                f"all {len(want)} bytes arrived, but no close was "
                f"reported within {CLOSE_REPORT_S} s (SRCV keeps answering I/0)",
                delivered=data,
            )
        raise Rejected(
            Stage.DATA, code, f"all {len(want)} bytes arrived, then code {code}", delivered=data
        )

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
                raise Rejected(
                    Stage.DATA,
                    None,
                    f"AT+iSRCV:{handle},{limit} returned "
                    f"{len(chunk)} bytes (after {len(got)} bytes)",
                )
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


def _may_end_early(plan: RecordPlan) -> bool:
    """The plan has a record before its end that may end the session."""
    return min(plan.stopping_points()) < plan.data_bytes


def _stage_of(command_error: str) -> Stage:
    """The stage of the command a timeout names (the driver's message quotes it)."""
    markers = (
        ("SSL", Stage.SSL),
        ("SRCV", Stage.DATA),
        ("SSND", Stage.SEND),
        ("STCP", Stage.CONNECT),
    )
    for marker, stage in markers:
        if f"'{marker}" in command_error or f"AT+i{marker}" in command_error:
            return stage
    return Stage.SSL


def _fail(out: Outcome, stage: Stage, code: int | None, detail: str) -> None:
    out.accepted, out.stage, out.code, out.detail = False, stage, code, detail


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def _diff(want: bytes, got: bytes) -> str:
    if len(got) != len(want):
        return f"received {len(got)} bytes, expected {len(want)}"
    if got == want:
        return "received the expected bytes"
    first = next(i for i, (a, b) in enumerate(zip(want, got, strict=True)) if a != b)
    return f"received data differs from the server's at byte {first} (SHA-256 differs)"


SETTLE_TIMEOUT_S = 2.0


def _attach_server(outcome: Outcome, server: TLSServer) -> None:
    outcome.server = _server_view(server)
    outcome.report = server.connections[0] if server.connections else None
    flag_violations(outcome, server)


def flag_violations(outcome: Outcome, server: TLSServer) -> bool:
    """Record the wire invariants the device broke on any of the row's connections
    (w24_harness.servers.invariants); the judge fails the row on them."""
    found = [str(v) for conn in server.connections for v in conn.violations]
    if found:
        outcome.violations = found
        outcome.server["violations"] = found
    return bool(found)


def _server_view(server: TLSServer) -> dict[str, object]:
    if not server.connections:
        return {}
    conn: ConnectionReport = server.connections[0]
    hello = conn.client_hello
    return {
        "version": conn.version,
        "cipher": conn.cipher,
        "alert_received": conn.alert_received,
        "bytes_in": conn.bytes_in,
        "bytes_out": conn.bytes_out,
        "error": conn.error,
        "misbehaved": conn.misbehaved,
        "client_records": list(conn.client_records),
        "key_exchange_bytes": conn.key_exchange_bytes,
        "server_key_bytes": conn.server_key_bytes,
        "client_hello": None
        if hello is None
        else {
            "version": hello.version,
            "suites": hello.suites,
            "compression": hello.compression,
            "extensions": hello.extensions,
            "session_id_len": hello.session_id_len,
        },
    }


CLOSE_NOTIFY_RECORD = describe_client_record(ContentType.ALERT, bytes([1, 0]))
NO_RENEGOTIATION_RECORD = describe_client_record(ContentType.ALERT, bytes([1, 100]))


def server_saw(watch: Watch, records: list[str]) -> ServerSaw | None:
    """What a watched plan's server saw (its `client_after_plan`), in the catalogue's words."""
    if watch == Watch.CLOSE:
        if not records or records[-1] != FIN:
            return None  # the device never closed TCP: nothing to tell
        notified = CLOSE_NOTIFY_RECORD in records[:-1]
        return ServerSaw.CLOSE_NOTIFY if notified else ServerSaw.NO_CLOSE_NOTIFY
    # HELLO_REQUEST: the device's first record after it.
    first = records[0] if records else FIN
    if first == NO_RENEGOTIATION_RECORD:
        return ServerSaw.NO_RENEGOTIATION
    if first.startswith("handshake ClientHello"):
        return ServerSaw.CLIENT_HELLO
    if first.startswith("alert fatal"):
        return ServerSaw.FATAL_ALERT
    return ServerSaw.NO_ANSWER
