"""The simulated W24's command interpreter: Commands in, reply bytes out. No serial I/O here.

Choices where the manuals are silent (spec §11) are listed in docs/simulator-choices.md and, where
a user may need to flip them, live in the device profile.
"""

from __future__ import annotations

import re
import socket
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from cryptography import x509

from w24_harness.at.codes import ResultCode
from w24_harness.at.reader import BadInput, Command
from w24_harness.pki.fit import ca_text_length, check_ca_fit
from w24_harness.profiles.table import DeviceProfile
from w24_harness.sim.engines import DEFAULT_ENGINE, factory
from w24_harness.sim.engines.channel import EngineChannel
from w24_harness.sim.faults import Faults
from w24_harness.sim.nvram import NVRam
from w24_harness.sim.sockets import SimSocket, SimSocketError, SocketTable
from w24_harness.sim.tls_engine import SecureChannel, SSLFailure
from w24_harness.sim.variants import Variants

SLOW_DELIVERY_DEFAULT_BAUD = 115200  # slow_delivery on an unthrottled line
# The SSL failures the wrong_code fault collapses into 220 (SSND limits stay as they are).
SSL_FAILURE_CODES = range(ResultCode.SSL_INIT_ERROR, ResultCode.SSL_RECORD_TOO_BIG + 1)

CRLF = b"\r\n"
_INTEGER = re.compile(r"-?[0-9]+")
BDRF_VALUES = {"3", "4", "5", "6", "7", "8", "9", "h", "a"}


# The CA parameters iChip 8.x has (spec §6); a module with fewer answers its own code for the rest.
ICHIP_CA_SLOTS: frozenset[str] = frozenset({"CA", "CA2", "CA3", "CA4"})


class CommandFailed(Exception):
    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _int_arg(text: str, what: str) -> int:
    text = text.strip()
    # fullmatch, not lstrip("-").isdigit(): "--5" passed that test and then broke int().
    if not _INTEGER.fullmatch(text):
        raise CommandFailed(ResultCode.NUMBER_EXPECTED, f"{what}: number expected, got {text!r}")
    return int(text)


class SimDevice:
    """Interprets AT+i commands against a socket table and nonvolatile parameters."""

    def __init__(
        self,
        profile: DeviceProfile,
        nvram: NVRam | None = None,
        faults: Faults | None = None,
        log: Callable[[str], None] | None = None,
        engine: str = DEFAULT_ENGINE,
        variants: Variants | None = None,
    ) -> None:
        # The TLS stack behind the AT front end (w24_harness.sim.engines); None: tls_engine's.
        self.engine = factory(engine)
        # A correct-firmware variant's profile overrides apply to the simulator alone.
        self.variants = variants = variants or Variants()
        # A firmware does one concrete thing: UNKNOWN fields take the documented defaults.
        self.profile = profile = variants.apply(profile).resolved()
        self.nvram = nvram or NVRam()
        self.faults = faults or Faults()
        self.echo = profile.echo_default
        # The emulated line's baud (0 = unthrottled); only the slow_delivery fault reads it.
        self.line_baud = 0
        self._slow_started: dict[int, tuple[float, int]] = {}  # handle -> (start, delivered)
        self.table = SocketTable(profile.socket_count)
        self.online = False
        self.session_values: dict[str, str] = {}
        self._log = log or (lambda _msg: None)
        # Exceptions of the simulator's own (not CommandFailed): counted, never silent.
        self.internal_errors = 0
        self.last_internal_error = ""
        self.on_internal_error: Callable[[], None] = lambda: None
        # An SSND answers I/OK "after sz bytes have been transferred successfully to the
        # socket's output buffer" (IC832 13-8), not once they are on the network. A line session
        # sets this and calls run_deferred() after each reply, so the TLS record is built and
        # sent while the host's next command is still on the line; a failed send is the next
        # SSND's error (208), as on a module whose output buffer drains after the I/OK. Used
        # directly (tests), the device sends before it answers.
        self.defer_sends = False
        self._deferred: tuple[Command, Callable[[], None]] | None = None
        self._handlers: dict[str, Callable[[Command], bytes]] = {
            "": self._ping,
            "RP": self._rp,
            "STCP": self._stcp,
            "SSL": self._ssl,
            "SSND": self._ssnd,
            "SRCV": self._srcv,
            "SST": self._sst,
            "SCS": self._scs,
            "SCLS": self._scls,
            "DOWN": self._down,
            "+++": self._escape,
            "BDRF": self._bdrf,
            "ECHO": self._echo,
        }
        for slot in profile.ca_slots:
            self._handlers[slot] = self._ca

    # -- framing --------------------------------------------------------------------------

    def error(self, code: int | None) -> bytes:
        if code is None:
            return b"I/ERROR" + CRLF
        return self.profile.error_format.format(code=code).encode() + CRLF

    @staticmethod
    def lines(*texts: str) -> bytes:
        return b"".join(t.encode("latin-1") + CRLF for t in texts)

    def ssnd_limit(self, handle: int) -> int | None:
        sock = self.table.slots.get(handle)
        if sock is None or not sock.ssl or self.faults.ssnd_limit_unchecked:
            return None
        return self.profile.max_ssnd_ssl

    def handle(self, item: Command | BadInput) -> bytes:
        """The complete reply to one command (or to one piece of bad input)."""
        reply = self._reply(item)
        # The reply_leading_crlf variant: each reply opens with an empty line (spec §11.5).
        return CRLF + reply if self.variants.reply_leading_crlf else reply

    def _reply(self, item: Command | BadInput) -> bytes:
        if isinstance(item, BadInput):
            self._log(f"bad input -> {item.code}: {item.reason}")
            return self.error(item.code)
        handler = self._handlers.get(item.name)
        if handler is None and item.name in ICHIP_CA_SLOTS:
            # A CA slot this firmware lacks: the profile says which code (§10, not documented).
            self._log(f"no CA parameter {item.name!r} on this module")
            return self.error(self.profile.absent_ca_slot_code)
        if handler is None:
            self._log(f"illegal command code {item.name!r}")
            return self.error(ResultCode.ILLEGAL_COMMAND)
        try:
            return handler(item)
        except CommandFailed as exc:
            code = exc.code
            if self.faults.wrong_code and code is not None and code in SSL_FAILURE_CODES:
                code = ResultCode.SSL_NEGOTIATION
            self._log(f"{item.name} failed -> {code}: {exc.reason}")
            return self.error(code)
        except Exception as exc:  # a bug of the simulator's: answer as a module would, and tell
            return self.internal_error(item, exc)

    def internal_error(self, item: Command | BadInput, exc: BaseException) -> bytes:
        """Log and count an exception of the simulator's own; the reply a module would give."""
        self.internal_errors += 1
        trace = "".join(traceback.format_exception(exc))
        self.last_internal_error = f"internal error on {item.line!r}: {exc!r}\n{trace}"
        self._log(self.last_internal_error)
        self.on_internal_error()
        return self.error(ResultCode.GENERAL_EXCEPTION)

    @property
    def has_deferred(self) -> bool:
        return self._deferred is not None

    def run_deferred(self) -> None:
        """The work the last command left for after its reply (an SSND's send), if any."""
        if self._deferred is None:
            return
        cmd, work = self._deferred
        self._deferred = None
        try:
            work()
        except Exception as exc:  # the reply is out: counted, as any bug of the simulator's
            self.internal_error(cmd, exc)

    def shutdown(self) -> None:
        self.run_deferred()
        self.table.close_all()

    # -- commands -------------------------------------------------------------------------

    def _ping(self, cmd: Command) -> bytes:
        if cmd.op or cmd.args:
            raise CommandFailed(ResultCode.SYNTAX_ERROR, "text after AT+i")
        return self.lines("I/OK")

    def _rp(self, cmd: Command) -> bytes:
        n = _int_arg(cmd.args, "RP report number")
        if n == 0:
            return self.lines(self.profile.part_number, "I/OK")
        if n == 1:
            return self.lines(self.profile.firmware, "I/OK")
        if n == 2:
            return self.lines("Connected" if self.online else "Command mode", "I/OK")
        if n == 4:
            statuses = [self._status(h) for h in range(self.profile.socket_count)]
            tuple_line = "I/(" + ",".join(str(s) for s in statuses) + ")"
            return (
                self.lines(tuple_line, "I/OK")
                if self.profile.rp4_final_ok
                else (self.lines(tuple_line))
            )
        if n == 8:
            return self.lines(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"), "I/OK")
        raise CommandFailed(ResultCode.ILLEGAL_VALUE, f"report RP{n} is not simulated")

    def _status(self, handle: int) -> int:
        sock = self.table.slots.get(handle)
        if sock is None and handle in self.table.stale:
            return 0  # the stale_status_after_scls fault: the closed socket's old entry
        if sock is None:
            return -ResultCode.SOCKET_NOT_EXIST
        sock.pump(self.profile.rx_buffer_bytes)
        return sock.status()

    def _ca(self, cmd: Command) -> bytes:
        slot = cmd.name
        if cmd.op == "=?":
            return self.lines("String", "I/OK")
        if cmd.op == "?":
            return self._ca_report(self._param(slot))
        if cmd.op not in ("=", "~"):
            raise CommandFailed(ResultCode.ILLEGAL_DELIMITER, f"{slot}: '=' or '?' expected")
        pem = cmd.payload.decode("latin-1")
        if not pem.strip():
            self._store(slot, "", temporary=cmd.op == "~")
            return self.lines("I/OK")
        if self.faults.ca_unchecked:
            if ca_text_length(pem) > self.profile.ca_max_chars:
                raise CommandFailed(
                    self.profile.ca_too_long_code,
                    f"{slot}: over {self.profile.ca_max_chars} characters",
                )
            self._store(slot, pem, temporary=cmd.op == "~")  # the fault: stored unparsed
            return self.lines("I/OK")
        try:
            report = check_ca_fit(pem.encode("latin-1"), self.profile)
        except ValueError as exc:
            raise CommandFailed(
                ResultCode.CA_PARSE_ERROR, f"{slot}: not a certificate: {exc}"
            ) from exc
        if report.pem_chars > report.limit:
            code = None if self.variants.ca_too_long_bare_error else self.profile.ca_too_long_code
            raise CommandFailed(code, "; ".join(report.problems))
        if report.problems:
            raise CommandFailed(ResultCode.CA_PARSE_ERROR, "; ".join(report.problems))
        if self.faults.v1_ca_refused and _is_v1(pem):
            raise CommandFailed(ResultCode.CA_PARSE_ERROR, f"{slot}: v1, no basicConstraints")
        self._store(slot, pem, temporary=cmd.op == "~")
        return self.lines("I/OK")

    def _param(self, name: str) -> str:
        """A parameter's value now: a `~` value for this session, else the nonvolatile one."""
        return self.session_values.get(name, self.nvram.get(name))

    def _store(self, name: str, value: str, *, temporary: bool) -> None:
        if temporary:
            # `~` sets a value for the next session only (spec §2.2).
            self.session_values[name] = value
        else:
            self.session_values.pop(name, None)
            self.nvram.set(name, value)

    def _ca_report(self, pem: str) -> bytes:
        if not pem.strip():
            return CRLF + self.lines("I/OK")
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("latin-1"))
        except ValueError:
            # Stored unparsed (only the ca_unchecked fault stores such a value): echoed as is.
            return self.lines(*pem.strip().splitlines(), "I/OK")
        cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        name = str(cns[0].value) if cns else cert.subject.rfc4514_string()
        validity = (
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} - "
            f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S}"
        )
        return self.lines(name, validity, *pem.strip().splitlines(), "I/OK")

    def _parse_handle(self, cmd: Command) -> int:
        if cmd.op != ":":
            raise CommandFailed(ResultCode.COLON_OR_TILDE_EXPECTED, f"{cmd.name}: ':' expected")
        first = cmd.args.split(",", 1)[0]
        return _int_arg(first, f"{cmd.name} socket handle")

    def _socket(self, cmd: Command) -> tuple[int, SimSocket]:
        handle = self._parse_handle(cmd)
        try:
            return handle, self.table.get(handle)
        except SimSocketError as exc:
            raise CommandFailed(exc.code, exc.reason) from exc

    def _stcp(self, cmd: Command) -> bytes:
        if cmd.op != ":":
            raise CommandFailed(ResultCode.COLON_OR_TILDE_EXPECTED, "STCP: ':' expected")
        parts = cmd.args.split(",")
        if len(parts) < 2:
            raise CommandFailed(
                ResultCode.COMMA_EXPECTED, "STCP: ',' expected between host and port"
            )
        host = parts[0].strip()
        if not host:
            raise CommandFailed(ResultCode.DNS_EXPECTED, "STCP: host name or address expected")
        port = _int_arg(parts[1], "STCP port")
        if not 0 < port <= 65535:
            raise CommandFailed(ResultCode.ILLEGAL_VALUE, f"STCP port {port} out of range")
        handle = self.table.free_handle(reuse_down=self.faults.down_handle_reused)
        if handle is None:
            raise CommandFailed(ResultCode.NO_SOCKETS, "all sockets in use")
        self.table.close(handle)  # only under down_handle_reused is there one to close
        try:
            sock = socket.create_connection((host, port), timeout=self.profile.connect_timeout_s)
        except OSError as exc:
            raise CommandFailed(ResultCode.SOCKET_DOWN, f"connect to {host}:{port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.table.slots[handle] = SimSocket(
            handle, sock, host, port, faults=self.faults, variants=self.variants
        )
        self.table.stale.discard(handle)
        self.online = True
        self._slow_started.pop(handle, None)  # a new connection on a reused handle
        return self.lines(f"I/{handle}")

    def _ssl(self, cmd: Command) -> bytes:
        handle = self._parse_handle(cmd)
        sock = self.table.slots.get(handle)
        if sock is None or sock.ssl or sock.error is not None:
            raise CommandFailed(
                ResultCode.SSL_ILLEGAL_HANDLE, f"socket {handle} is not an open, active TCP socket"
            )
        if self.table.ssl_count() >= self.profile.ssl_socket_limit:
            raise CommandFailed(ResultCode.SSL_NO_MORE_SOCKETS, "an SSL socket is already active")
        cas = [self._param(s).encode() for s in self.profile.ca_slots if self._param(s)]
        verify = not self.faults.accept_any_cert
        if not cas and self.faults.ignore_empty_ca:
            verify = False
        elif not cas:
            raise CommandFailed(ResultCode.SSL_NO_CA, "no trusted CA loaded")
        started = time.monotonic()
        try:
            engine = self.engine
            # The variants act inside the simulator's own TLS client; a real stack is what it is.
            start = (
                partial(SecureChannel.handshake, variants=self.variants)
                if engine is None
                else partial(EngineChannel.handshake, engine)
            )
            sock.channel = start(
                sock.sock,
                self.profile,
                cas,
                server_hostname=sock.host,
                timeout=self.profile.handshake_timeout_s,
                verify=verify,
                faults=self.faults,
                lenient=self.faults.lenient_checks(),
            )
        except SSLFailure as exc:
            if self.variants.tcp_kept_after_failed_ssl:
                # The variant: the handle stays, down, until the host closes it (SCLS).
                sock.fail(ResultCode.SOCKET_DOWN, f"SSL handshake failed: {exc.reason}")
                raise CommandFailed(exc.code, exc.reason) from exc
            # Spec §11.2 is silent; this firmware model drops the TCP socket on a failed handshake.
            self.table.close(handle)
            if self.faults.leak_ssl_on_failure:
                self.table.leaked_ssl += 1  # the SSL context is never freed: wedged until reset
            self._close_if_last()
            raise CommandFailed(exc.code, exc.reason) from exc
        self._log(
            f"SSL on {handle}: {sock.channel.version} {sock.channel.cipher} "
            f"in {1000 * (time.monotonic() - started):.1f} ms"
        )
        return self.lines("I/OK")

    def _ssnd(self, cmd: Command) -> bytes:
        handle, sock = self._socket(cmd)
        try:
            if self.defer_sends and not self.faults.internal_error:
                sock.check_sendable()
                self._deferred = (cmd, lambda: sock.send_later(cmd.payload))
                return self.lines("I/OK")
            sock.send(cmd.payload)
        except SimSocketError as exc:
            raise CommandFailed(exc.code, exc.reason) from exc
        if self.faults.internal_error:
            raise RuntimeError("self-test fault internal_error: the SSND handler crashed")
        return self.lines("I/OK")

    def _srcv(self, cmd: Command) -> bytes:
        handle, sock = self._socket(cmd)
        parts = cmd.args.split(",")
        limit = _int_arg(parts[1], "SRCV max") if len(parts) > 1 else None
        if limit is not None and limit < 0:
            raise CommandFailed(ResultCode.ILLEGAL_VALUE, f"SRCV max {limit} is negative")
        sock.pump(self.profile.rx_buffer_bytes)
        if not sock.rx:
            if sock.error is not None:
                raise CommandFailed(sock.error, sock.error_reason)
            return self.lines("I/0")
        n = len(sock.rx) if limit is None else min(limit, len(sock.rx))
        if self.faults.srcv_max_ignored:
            n = len(sock.rx)  # the fault: <max> is not looked at
        if self.faults.slow_delivery and sock.ssl:
            n = self._slow_allowance(handle, n)
        if n == 0:  # max 0: nothing is returned, in the empty-buffer form (no ':')
            return self.lines("I/0")
        data = bytes(sock.rx[:n])
        del sock.rx[:n]
        if self.faults.corrupt_rx and sock.ssl and data:
            data = bytes([data[0] ^ 0x01]) + data[1:]
        return f"I/{n}:".encode() + data

    def _slow_allowance(self, handle: int, n: int) -> int:
        """slow_delivery: what a third of the line rate allows since the first SRCV."""
        rate = (self.line_baud or SLOW_DELIVERY_DEFAULT_BAUD) / 10 / 3
        now = time.monotonic()
        started, delivered = self._slow_started.setdefault(handle, (now, 0))
        allowed = max(0, min(n, int(rate * (now - started)) - delivered))
        self._slow_started[handle] = (started, delivered + allowed)
        return allowed

    def _sst(self, cmd: Command) -> bytes:
        handle = self._parse_handle(cmd)
        if handle not in self.table.slots and handle not in self.table.stale:
            raise CommandFailed(ResultCode.SOCKET_NOT_EXIST, f"socket {handle} is not open")
        return self.lines(f"I/({self._status(handle)})")

    def _scs(self, cmd: Command) -> bytes:
        handle, sock = self._socket(cmd)
        sock.pump(self.profile.rx_buffer_bytes)
        return self.lines("I/(000)" if sock.error is None else f"I/(-{sock.error})")

    def _scls(self, cmd: Command) -> bytes:
        handle, _sock = self._socket(cmd)
        self.table.close(handle)
        if self.faults.stale_status_after_scls:
            self.table.stale.add(handle)
        if not self.table.slots and not cmd.stay_online:
            self._go_offline()
            return self.lines("I/OK", "I/DONE")
        return self.lines("I/OK", "I/ONLINE")

    def _close_if_last(self) -> None:
        if not self.table.slots:
            self._go_offline()

    def _go_offline(self) -> None:
        """The Internet session ended: `~` values give way to the permanent ones again."""
        self.online = False
        self.session_values.clear()

    def _down(self, cmd: Command) -> bytes:
        had_ssl = any(s.ssl for s in self.table.slots.values())
        closed = self.table.close_all()
        if self.faults.down_keeps_ssl_context and had_ssl:
            self.table.leaked_ssl = 1  # the fault: the reset path never frees the context
        self._go_offline()
        self.echo = self.profile.echo_default
        return self.lines("I/OK", "I/ERROR" if closed else "I/ONLINE")

    def _escape(self, cmd: Command) -> bytes:
        """'+++' after the guard time (spec §2.4): online, a software reset that ends the
        Internet session (every socket closed) and I/ERROR(056); in command mode no escape is
        documented, and the module stays silent."""
        if not self.online and not self.table.slots:
            self._log("'+++' in command mode: nothing to escape from")
            return b""
        self.table.close_all()
        self._go_offline()
        self.echo = self.profile.echo_default
        return self.error(ResultCode.USER_ABORT)

    def _bdrf(self, cmd: Command) -> bytes:
        if cmd.op == "?":
            return self.lines(self.nvram.get("BDRF", "a"), "I/OK")
        if cmd.op == "=?":
            return self.lines("3-9, 'a' or 'h'", "I/OK")
        if cmd.op != "=" or cmd.args.strip() not in BDRF_VALUES:
            raise CommandFailed(
                ResultCode.ILLEGAL_VALUE, f"BDRF value {cmd.args!r} not in 3-9, a, h"
            )
        self.nvram.set("BDRF", cmd.args.strip())
        return self.lines("I/OK")

    def _echo(self, cmd: Command) -> bytes:
        # The manuals do not name the echo switch (spec §11.5); ECHO=0/1 is this simulator's.
        if cmd.op == "?":
            return self.lines("1" if self.echo else "0", "I/OK")
        if cmd.op != "=" or cmd.args.strip() not in ("0", "1"):
            raise CommandFailed(ResultCode.ILLEGAL_VALUE, "ECHO takes 0 or 1")
        self.echo = cmd.args.strip() == "1"
        return self.lines("I/OK")


def _is_v1(pem: str) -> bool:
    cert = x509.load_pem_x509_certificate(pem.encode("latin-1"))
    return cert.version is x509.Version.v1
