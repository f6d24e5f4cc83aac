"""The W24 driver: AT+i commands over a Transport, with a timeout on every wait.

Works the same against hardware and the simulator: echo on or off, `I/ERROR(nnn)` or
`I/ERROR (nnn)`, replies split across reads at any byte, CR-only or CR LF line ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from w24_harness.at.codes import (
    BusyError,
    CAFitError,
    DeviceError,
    DeviceTimeout,
    ProtocolError,
    ResultCode,
    error_for,
)
from w24_harness.at.commands import ca_text_length, encode, encode_ca, encode_ssnd
from w24_harness.at.replies import Reply, ReplyKind, ReplyParser
from w24_harness.device.cacache import CACache, NVWrite, WriteKind, digest
from w24_harness.device.pacing import CAPacing, LineRate, SsndLimit, line_gap_s
from w24_harness.device.transport import Transcript, Transport
from w24_harness.profiles.table import DeviceProfile, get_profile


@dataclass(frozen=True)
class Timeouts:
    """Seconds per command class. The handshake default is the production iChip driver's."""

    default: float = 5.0
    connect: float = 15.0
    handshake: float = 15.0
    send: float = 15.0
    close: float = 10.0
    reset: float = 10.0
    ca: float = 10.0


@dataclass(frozen=True)
class Result:
    """A command's outcome: its final reply, the text lines before it, and a second reply."""

    command: str
    final: Reply
    text: tuple[str, ...] = ()
    second: Reply | None = None


@dataclass(frozen=True)
class Received:
    """What a bounded SRCV read brought: the bytes that arrived, even when an error or the
    timeout ended it, and how many SRCV commands it took (polls that found nothing count)."""

    data: bytes
    commands: int
    error: DeviceError | None = None  # the result code that ended the read, if one did
    timed_out: bool = False  # the timeout passed before all bytes arrived

    @property
    def complete(self) -> bool:
        return self.error is None and not self.timed_out


@dataclass(frozen=True)
class Identity:
    part_number: str
    firmware: str


@dataclass(frozen=True)
class CAInfo:
    slot: str
    lines: tuple[str, ...]  # everything AT+iCA? printed before I/OK

    @property
    def pem(self) -> str:
        start = next((i for i, ln in enumerate(self.lines) if ln.startswith("-----BEGIN")), None)
        if start is None:
            return ""
        end = next(
            (i for i, ln in enumerate(self.lines) if ln.startswith("-----END") and i >= start),
            len(self.lines) - 1,
        )
        return "\n".join(self.lines[start : end + 1]) + "\n"

    @property
    def empty(self) -> bool:
        return not any(ln.strip() for ln in self.lines)


@dataclass
class SocketView:
    """What the driver knows about one handle it opened."""

    handle: int
    host: str
    port: int
    ssl: bool = False


_SECOND_STAGE = (ReplyKind.DONE, ReplyKind.ONLINE, ReplyKind.ERROR, ReplyKind.OFFLINE)


@dataclass
class W24:
    transport: Transport
    profile: DeviceProfile = field(default_factory=lambda: get_profile("w24"))
    timeouts: Timeouts = field(default_factory=Timeouts)
    ssnd_chunk: int = SsndLimit.PAYLOAD
    poll_interval: float = 0.005
    # How an AT+iCA= value is written (device/pacing.py): BURST suits a socket or the
    # unthrottled simulator; a real UART needs BAUD_DROP or LINE_GAP.
    ca_pacing: CAPacing = CAPacing.BURST
    sockets: dict[int, SocketView] = field(default_factory=dict)
    # What the CA slots hold and every write to them (device/cacache.py); a session hands
    # its own in, so the counts survive a reconnect.
    ca_cache: CACache = field(default_factory=CACache)

    def __post_init__(self) -> None:
        self._parser = ReplyParser()
        self._queue: list[Reply] = []

    @classmethod
    def open(
        cls,
        url: str,
        *,
        baud: int = 115200,
        profile: str | DeviceProfile = "w24",
        transcript: Transcript | None = None,
        timeouts: Timeouts | None = None,
        rtscts: bool = False,
        ssnd_chunk: int = SsndLimit.PAYLOAD,
        ca_pacing: CAPacing = CAPacing.BURST,
    ) -> W24:
        prof = get_profile(profile) if isinstance(profile, str) else profile
        transport = Transport(url, baud, transcript, rtscts=rtscts)
        return cls(
            transport, prof, timeouts or Timeouts(), ssnd_chunk=ssnd_chunk, ca_pacing=ca_pacing
        )

    @property
    def transcript(self) -> Transcript:
        return self.transport.transcript

    def close_port(self) -> None:
        self.transport.close()

    # -- reply plumbing -------------------------------------------------------------------

    def _next_reply(self, deadline: float, command: str) -> Reply:
        while not self._queue:
            left = deadline - time.monotonic()
            if left <= 0:
                pending = self._parser.pending
                raise DeviceTimeout(
                    f"no complete reply to {command!r} in time"
                    + (f"; partial reply so far: {pending[:80]!r}" if pending else "")
                )
            chunk = self.transport.read_some(min(left, 0.5))
            if chunk:
                self._queue.extend(self._parser.feed(chunk))
        return self._queue.pop(0)

    def _await_final(
        self, command: str, deadline: float, sent: bytes = b""
    ) -> tuple[Reply, tuple[str, ...]]:
        text: list[str] = []
        # Only a line the command's own first line starts with is its echo. A reply line that
        # merely begins with "AT+" (case-blind) is content: a base64 line of an AT+iCA? answer
        # begins so for about 1 CA in 4000, and dropping it made the CA read back as another.
        first = sent.split(b"\r", 1)[0].decode("latin-1").upper()
        while True:
            reply = self._next_reply(deadline, command)
            if reply.kind is ReplyKind.ECHO:
                if not sent or first.startswith(reply.text.rstrip().upper()):
                    continue
                reply = Reply(ReplyKind.TEXT, text=reply.text)
            if reply.kind is ReplyKind.TEXT:
                text.append(reply.text)
                continue
            if reply.kind in (ReplyKind.DONE, ReplyKind.ONLINE, ReplyKind.OFFLINE):
                # A late second-stage reply of an earlier command; it is not ours.
                self.transcript.note(f"ignored stray {reply.kind.name} before reply to {command}")
                continue
            return reply, tuple(text)

    def _raise_for(self, reply: Reply, command: str) -> None:
        if reply.kind is ReplyKind.ERROR:
            raise error_for(reply.code, command)
        if reply.kind is ReplyKind.BUSY:
            raise BusyError(f"device answered I/BUSY to {command!r}: command discarded")

    def _start(self, wire: bytes, write: Callable[[bytes], None] | None = None) -> None:
        self._queue.clear()
        self._parser.reset()
        self.transport.discard_input()
        (write or self.transport.write)(wire)
        self.transport.expect_reply_after(len(wire))

    def execute(
        self,
        body: str,
        *,
        wire: bytes | None = None,
        timeout: float | None = None,
        second_stage: bool = False,
        write: Callable[[bytes], None] | None = None,
    ) -> Result:
        """Send one command and return its result; raise the typed error for I/ERROR or I/BUSY.

        `body` names the command (e.g. "RP4"); `wire` overrides the bytes sent (SSND, CA=).
        With `second_stage`, a second reply (I/DONE, I/ONLINE or I/ERROR) is read after I/OK.
        `write` replaces the transport's write for the command's bytes (paced CA values).
        """
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeouts.default)
        self.ca_cache.saw_command(body, wire)
        sent = wire if wire is not None else encode(body)
        self._start(sent, write)
        final, text = self._await_final(body, deadline, sent)
        self._raise_for(final, body)
        second = None
        if second_stage and final.kind is ReplyKind.OK:
            second = self._next_reply(deadline, body + " (second reply)")
            while second.kind in (ReplyKind.ECHO, ReplyKind.TEXT):
                second = self._next_reply(deadline, body + " (second reply)")
            if second.kind not in _SECOND_STAGE:
                raise ProtocolError(
                    f"expected I/DONE, I/ONLINE or I/ERROR after I/OK to {body!r}, got {second}"
                )
        return Result(body, final, text, second)

    def _expect(self, result: Result, *kinds: ReplyKind) -> Reply:
        if result.final.kind not in kinds:
            wanted = " or ".join(k.name for k in kinds)
            raise ProtocolError(
                f"unexpected reply to {result.command!r}: wanted {wanted}, got {result.final}"
            )
        return result.final

    # -- commands -------------------------------------------------------------------------

    def ping(self, timeout: float | None = None) -> None:
        self._expect(self.execute("", timeout=timeout), ReplyKind.OK)

    def report(self, n: int) -> tuple[str, ...]:
        result = self.execute(f"RP{n}")
        self._expect(result, ReplyKind.OK)
        return result.text

    def identity(self) -> Identity:
        return Identity(" ".join(self.report(0)).strip(), " ".join(self.report(1)).strip())

    def set_echo(self, on: bool) -> None:
        self._expect(self.execute(f"ECHO={1 if on else 0}"), ReplyKind.OK)

    def set_ca(self, pem: str | bytes, slot: str = "CA", *, check: bool = True) -> None:
        """AT+iCA=. With `check`, a PEM over the profile's limit is refused before sending;
        `check=False` sends it anyway, to test the device's own refusal."""
        text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
        length = ca_text_length(text)
        limit = self.profile.ca_max_chars
        if check and length > limit:
            raise CAFitError(
                f"CA PEM is {length} characters; the {self.profile.name} profile's {slot} "
                f"parameter holds at most {limit} (nothing was sent)"
            )
        self._load_ca_value(slot, encode_ca(text, slot), text)

    def _load_ca_value(self, slot: str, wire: bytes, value: str = "") -> None:
        """Write an AT+iCA= value, counted in ca_cache whatever the reply."""
        started = time.monotonic()
        ok = False
        try:
            self._paced_ca_value(slot, wire)
            ok = True
        finally:
            kind = WriteKind.LOAD if value.strip() else WriteKind.CLEAR
            cache = self.ca_cache
            seconds = time.monotonic() - started
            write = NVWrite(
                slot,
                kind,
                cache.current_purpose,
                len(wire),
                seconds,
                self.ca_pacing,
                ok,
                digest=digest(value) if value.strip() else "",
            )
            cache.wrote(write, value)

    def _paced_ca_value(self, slot: str, wire: bytes) -> None:
        """Write an AT+iCA= value paced as `ca_pacing` says, and expect I/OK."""
        pacing = self.ca_pacing
        if pacing is CAPacing.BAUD_DROP and self.transport.baud != LineRate.CA_LOAD:
            line_rate = self.transport.baud
            self.transport.baud = LineRate.CA_LOAD
            try:
                result = self.execute(f"{slot}=", wire=wire, timeout=self.timeouts.ca)
            finally:
                # Back to the working rate even when the load failed: the next command
                # must not go out at 9600.
                self.transport.baud = line_rate
        elif pacing is CAPacing.LINE_GAP:
            result = self.execute(
                f"{slot}=", wire=wire, timeout=self.timeouts.ca, write=self._write_line_gapped
            )
        else:
            result = self.execute(f"{slot}=", wire=wire, timeout=self.timeouts.ca)
        self._expect(result, ReplyKind.OK)

    def _write_line_gapped(self, wire: bytes) -> None:
        # Each CR-ended line, then the time it would take at 9600 baud: the module's parser
        # keeps up with that rate (the production driver's), and its FIFO holds one line.
        for line in wire.split(b"\r")[:-1]:
            self.transport.write(line + b"\r")
            time.sleep(line_gap_s(len(line) + 1))

    def clear_ca(self, slot: str = "CA") -> None:
        self._load_ca_value(slot, encode_ca("", slot))

    def get_ca(self, slot: str = "CA") -> CAInfo:
        result = self.execute(f"{slot}?")
        self._expect(result, ReplyKind.OK)
        info = CAInfo(slot, result.text)
        # A value that is neither empty nor a PEM (stored unparsed) is not known here.
        self.ca_cache.read(slot, "" if info.empty else (info.pem or None))
        return info

    def open_tcp(self, host: str, port: int) -> int:
        result = self.execute(f"STCP:{host},{port}", timeout=self.timeouts.connect)
        handle = self._expect(result, ReplyKind.NUMBER).value
        assert handle is not None
        self.sockets[handle] = SocketView(handle, host, port)
        return handle

    def start_ssl(self, handle: int, timeout: float | None = None) -> None:
        result = self.execute(f"SSL:{handle}", timeout=timeout or self.timeouts.handshake)
        self._expect(result, ReplyKind.OK)
        view = self.sockets.setdefault(handle, SocketView(handle, "?", 0))
        view.ssl = True

    def send(self, handle: int, data: bytes, *, flush: bool = True) -> int:
        """Send all of `data` in SSND chunks of at most `ssnd_chunk` bytes; returns chunks sent."""
        chunks = 0
        for start in range(0, max(len(data), 1), self.ssnd_chunk):
            piece = data[start : start + self.ssnd_chunk]
            self.send_raw(handle, piece, flush=flush)
            chunks += 1
        return chunks

    def send_raw(self, handle: int, data: bytes, *, flush: bool = True) -> None:
        """One SSND exactly as given (no splitting): for testing the device's own limits."""
        body = f"SSND{'%' if flush else ''}:{handle},{len(data)}"
        wire = encode_ssnd(handle, data, flush)
        self._expect(self.execute(body, wire=wire, timeout=self.timeouts.send), ReplyKind.OK)

    def receive_once(self, handle: int, max_bytes: int | None = None) -> bytes:
        """One SRCV: the bytes buffered now (b"" if none)."""
        body = f"SRCV:{handle}" + (f",{max_bytes}" if max_bytes is not None else "")
        result = self.execute(body)
        reply = self._expect(result, ReplyKind.DATA, ReplyKind.NUMBER)
        if reply.kind is ReplyKind.NUMBER:
            if reply.value != 0:
                raise ProtocolError(f"SRCV answered I/{reply.value} without ':' and data")
            return b""
        return reply.data

    def receive(self, handle: int, n: int, timeout: float = 10.0) -> bytes:
        """Poll SRCV until `n` bytes arrived, the socket is down (EOF) or `timeout` passes.

        Returns what arrived; raises DeviceTimeout only if nothing arrived at all and the socket
        is still up. A peer-close code (203, or 215: spec §4.13) after data ends the read
        quietly; any other error code (224, 226...) is raised.
        """
        got = self.receive_all(handle, n, timeout)
        peer_closed = (ResultCode.SOCKET_DOWN, ResultCode.SOCKET_NO_CARRIER)
        if got.error is not None and got.error.code not in peer_closed:
            raise got.error
        if got.timed_out and not got.data:
            raise DeviceTimeout(f"no data on socket {handle} within {timeout} s (wanted {n} bytes)")
        return got.data

    def receive_all(self, handle: int, n: int, timeout: float = 10.0) -> Received:
        """Poll SRCV until `n` bytes arrived, an error code ends the read, or `timeout` passes
        without data; never raises for a result code: the Received says what ended it."""
        got = bytearray()
        commands = 0
        deadline = time.monotonic() + timeout
        while len(got) < n:
            commands += 1
            try:
                chunk = self.receive_once(handle, n - len(got))
            except DeviceError as exc:
                return Received(bytes(got), commands, error=exc)
            got += chunk
            if not chunk:
                if time.monotonic() >= deadline:
                    return Received(bytes(got), commands, timed_out=True)
                time.sleep(self.poll_interval)
        return Received(bytes(got), commands)

    def socket_status(self, handle: int) -> int:
        """SST: >= 0 bytes waiting, < 0 a negated error code."""
        return self._expect(self.execute(f"SST:{handle}"), ReplyKind.TUPLE).values[0]

    def connection_status(self, handle: int) -> int:
        """SCS: 0 healthy, < 0 a negated error code."""
        return self._expect(self.execute(f"SCS:{handle}"), ReplyKind.TUPLE).values[0]

    def all_sockets(self) -> tuple[int, ...]:
        """RP4: one status per handle 0..9 (-200 for an unused slot)."""
        values = self._expect(self.execute("RP4"), ReplyKind.TUPLE).values
        if self.profile.rp4_final_ok:
            ok = self._next_reply(time.monotonic() + self.timeouts.default, "RP4 (final I/OK)")
            if ok.kind is not ReplyKind.OK:
                raise ProtocolError(f"expected I/OK after the RP4 tuple, got {ok}")
        return values

    def close(self, handle: int, *, stay_online: bool = False) -> str:
        """SCLS; returns the second reply's kind name ("DONE" or "ONLINE")."""
        body = f"{'!' if stay_online else ''}SCLS:{handle}"
        result = self.execute(body, timeout=self.timeouts.close, second_stage=True)
        self.sockets.pop(handle, None)
        second = result.second
        assert second is not None
        self._raise_for(second, body)
        return second.kind.name

    def reset(self) -> str:
        """AT+iDOWN: closes every socket; returns the second reply's kind name."""
        result = self.execute("DOWN", timeout=self.timeouts.reset, second_stage=True)
        self.sockets.clear()
        assert result.second is not None
        return result.second.kind.name

    def resync(self, attempts: int = 3, timeout: float = 2.0) -> None:
        """Get back to a clean command line after noise: CR, drain, then ping until I/OK."""
        last: Exception | None = None
        for _ in range(attempts):
            self.transport.write(b"\r")
            time.sleep(0.05)
            self.transport.discard_input()
            try:
                self.ping(timeout=timeout)
                return
            except (DeviceError, DeviceTimeout, ProtocolError, BusyError) as exc:
                last = exc
        raise DeviceTimeout(
            f"device did not answer a ping after {attempts} resync attempts: {last}"
        )

    @contextmanager
    def ssl_session(self, host: str, port: int) -> Iterator[int]:
        """Open TCP, run the handshake, yield the handle, and always close the socket."""
        handle = self.open_tcp(host, port)
        try:
            self.start_ssl(handle)
            yield handle
        finally:
            self.close_quietly(handle)

    def close_quietly(self, handle: int) -> None:
        """Close a handle that may already be gone (failed handshake, peer reset)."""
        try:
            self.close(handle)
        except DeviceError:
            self.sockets.pop(handle, None)
