"""AT+i commands, device side: the simulator's incremental reader of the host's byte stream.

It applies the module's documented rules: CR-terminated lines, 7-bit command text, BS editing,
SSND headers followed by counted raw payloads, and multi-line CA values (spec §2.1, §4.6, §6).
It is pure: time is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from w24_harness.at.codes import ResultCode
from w24_harness.at.commands import CA_NAMES

CR, LF, BS, TAB, DEL = 0x0D, 0x0A, 0x08, 0x09, 0x7F
_SSND_HEADER = re.compile(rb"AT\+I(!?)SSND(%?):([0-9]+),([0-9]+):", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z]*")
_DIGITS = re.compile(r"[0-9]+")
_OPERATORS = ("=?", "=", ":", "~", "?")
CA_VALUE_LIMIT = 8192
# The escape sequence (spec §2.4): "+++" after at least 0.5 s of silence on the line.
ESCAPE = b"+++"
ESCAPE_GUARD_S = 0.5


@dataclass(frozen=True)
class Command:
    name: str  # upper case: "" (ping), "RP", "CA", "CA2", "STCP", "SSND", ...
    op: str  # "" | ":" | "=" | "~" | "?" | "=?"
    args: str  # text after op; SSND: "<hn>,<sz>"; RP4: "4"
    stay_online: bool = False  # AT+i!SCLS:0
    flush: bool = False  # SSND%:...
    payload: bytes = b""  # SSND: the raw bytes; CA=: the PEM with "\n" line ends (b"" = clear)
    line: bytes = b""  # as received (bit 7 cleared, BS applied); SSND: the header; CA: line 1
    header_reported: bool = False  # SSND: `line` already went to on_header, before the payload


@dataclass(frozen=True)
class BadInput:
    code: int  # the result code to answer with (w24_harness.at.codes)
    reason: str
    line: bytes = b""
    header_reported: bool = False  # as Command.header_reported


Item = Command | BadInput


class _Mode(Enum):
    LINE = "line"
    PAYLOAD = "payload"
    CA = "ca"


@dataclass
class _Ssnd:
    header: bytes
    handle: int
    size: int
    args: str
    stay_online: bool
    flush: bool
    limit: int | None
    received: int = 0
    data: bytearray = field(default_factory=bytearray)

    @property
    def within_limit(self) -> bool:
        return self.limit is None or self.size <= self.limit


@dataclass
class _CaValue:
    name: str
    op: str
    args: str
    stay_online: bool
    first_line: bytes
    lines: list[bytes] = field(default_factory=list)
    chars: int = 0
    long_line: bool = False
    too_long: bool = False
    control: int | None = None

    def add(self, line: bytes) -> None:
        self.chars += len(line) + 1
        if self.chars > CA_VALUE_LIMIT:
            self.too_long = True  # stop storing: the value is refused anyway
        else:
            self.lines.append(line)


def _control_byte(line: bytes) -> int | None:
    for byte in line:
        if (byte < 32 and byte != TAB) or byte == DEL:
            return byte
    return None


class CommandReader:
    """Reads the host's byte stream into Command / BadInput items (spec §2.1, §4.6, §6).

    feed() and expire() never raise. Buffered bytes stay below max(max_line, SSND size, 8192).
    """

    def __init__(
        self,
        *,
        max_line: int = 256,
        host_data_timeout_s: float = 5.0,
        ssnd_limit: Callable[[int], int | None] | None = None,
        on_header: Callable[[bytes], None] | None = None,
    ) -> None:
        # on_header(header): called the moment an SSND header is complete, before its payload
        # (a module echoes what it receives as it receives it, not after the payload).
        self._on_header = on_header
        self._max_line = max_line
        self._timeout = float(host_data_timeout_s)
        self._ssnd_limit = ssnd_limit
        self._mode = _Mode.LINE
        self._line = bytearray()
        self._overflow = False
        self._ssnd: _Ssnd | None = None
        self._ca: _CaValue | None = None
        self._last_byte_at: float | None = None
        # Whether the '+' that began the line came after ESCAPE_GUARD_S of silence.
        self._escape_guarded = False

    @property
    def busy_collecting(self) -> bool:
        """True in the middle of an SSND payload or a multi-line CA value."""
        return self._mode is not _Mode.LINE

    def feed(self, data: bytes, now: float) -> list[Item]:
        items = self.expire(now)
        index, total = 0, len(data)
        silent = self._last_byte_at is None or now - self._last_byte_at >= ESCAPE_GUARD_S
        while index < total:
            if self._mode is _Mode.PAYLOAD:
                index = self._take_payload(data, index, items)
            else:
                if index == 0 and not self._line:
                    self._escape_guarded = silent
                self._line_byte(data[index] & 0x7F, items)
                index += 1
        if total:
            self._last_byte_at = now
        return items

    def expire(self, now: float) -> list[Item]:
        """The HOST_TIMEOUT item when an SSND payload or CA value stalled too long, else []."""
        if not self.busy_collecting or self._last_byte_at is None:
            return []
        if now - self._last_byte_at <= self._timeout:
            return []
        after = f"after {self._timeout} s"
        if self._ssnd is not None:
            ssnd = self._ssnd
            item = BadInput(
                ResultCode.HOST_TIMEOUT,
                f"SSND payload incomplete: got {ssnd.received} of {ssnd.size} bytes {after}",
                ssnd.header,
                self._on_header is not None,
            )
        else:
            assert self._ca is not None
            ca = self._ca
            item = BadInput(
                ResultCode.HOST_TIMEOUT,
                f"CA value incomplete: got {len(ca.lines)} lines ({ca.chars} characters), "
                f"no -----END line {after}",
                ca.first_line,
            )
        self._back_to_lines()
        return [item]

    # ----------------------------------------------------------------- line assembly

    def _back_to_lines(self) -> None:
        self._mode = _Mode.LINE
        self._ssnd = None
        self._ca = None
        self._line.clear()
        self._overflow = False

    def _line_byte(self, byte: int, items: list[Item]) -> None:
        if byte == LF:
            return
        if byte == CR:
            line, overflow = bytes(self._line), self._overflow
            self._line.clear()
            self._overflow = False
            if self._mode is _Mode.CA:
                self._ca_line(line, overflow, items)
            else:
                self._command_line(line, overflow, items)
            return
        if byte == BS:
            if self._line and not self._overflow:
                self._line.pop()
            return
        if len(self._line) >= self._max_line:
            self._overflow = True  # keep the head for the report, drop the tail up to the CR
            return
        self._line.append(byte)
        if self._escape_guarded and self._mode is _Mode.LINE and self._line == ESCAPE:
            # "+++" with no CR: the escape, not a command line (spec §2.4).
            self._line.clear()
            self._escape_guarded = False
            items.append(Command(ESCAPE.decode(), "", "", line=ESCAPE, header_reported=True))
            return
        if not ESCAPE.startswith(bytes(self._line)):
            self._escape_guarded = False
        if byte == ord(":") and not self._overflow:
            header = _SSND_HEADER.fullmatch(self._line)
            if header:
                self._start_payload(header, items)

    # ----------------------------------------------------------------- command lines

    def _command_line(self, line: bytes, overflow: bool, items: list[Item]) -> None:
        if overflow:
            reason = f"command line longer than {self._max_line} characters"
            items.append(BadInput(ResultCode.SERIAL_OVERFLOW, reason, line))
            return
        if not line:
            return
        control = _control_byte(line)
        if control is not None:
            reason = f"control byte 0x{control:02X} in command line: {line.decode('ascii')!r}"
            items.append(BadInput(ResultCode.SYNTAX_ERROR, reason, line))
            return
        text = line.decode("ascii")
        if text[:4].upper() != "AT+I":
            reason = f"line does not start with AT+i: {text!r}"
            items.append(BadInput(ResultCode.SYNTAX_ERROR, reason, line))
            return
        rest = text[4:]
        stay_online = rest.startswith("!")
        if stay_online:
            rest = rest[1:]
        name = _NAME.match(rest).group().upper()  # type: ignore[union-attr]
        rest = rest[len(name) :]
        if name == "CA" and rest[:1] in ("2", "3", "4"):
            name, rest = name + rest[0], rest[1:]
        if not name:
            if rest:
                reason = f"illegal command code: {rest!r} is not a command name"
                items.append(BadInput(ResultCode.ILLEGAL_COMMAND, reason, line))
            else:
                items.append(Command("", "", "", stay_online=stay_online, line=line))
            return
        flush = rest.startswith("%")
        if flush:
            rest = rest[1:]
        op = next((candidate for candidate in _OPERATORS if rest.startswith(candidate)), "")
        args = rest[len(op) :]
        if name == "SSND":
            # A well-formed header switched to payload mode at its second ':'; reaching the CR
            # means the header is malformed.
            items.append(self._ssnd_header_error(op, args, line))
        elif name in CA_NAMES and op in ("=", "~") and args.startswith("-----BEGIN"):
            self._ca = _CaValue(name, op, args, stay_online, line)
            self._ca.add(args.encode("ascii"))
            self._mode = _Mode.CA
        elif name in CA_NAMES and op in ("=", "~"):
            payload = (args + "\n").encode("ascii") if args else b""
            items.append(Command(name, op, args, stay_online, flush, payload, line))
        else:
            items.append(Command(name, op, args, stay_online, flush, line=line))

    @staticmethod
    def _ssnd_header_error(op: str, args: str, line: bytes) -> BadInput:
        if op != ":":
            return BadInput(
                ResultCode.COLON_OR_EQUALS_EXPECTED,
                f"':' or '=' expected after SSND: {line.decode('ascii')!r}",
                line,
            )
        handle, comma, rest = args.partition(",")
        if not _DIGITS.fullmatch(handle):
            reason = f"socket handle {handle!r} is not a number"
            return BadInput(ResultCode.NUMBER_EXPECTED, reason, line)
        if not comma:
            return BadInput(
                ResultCode.COMMA_EXPECTED,
                f"',' expected after the socket handle in SSND: {args!r}",
                line,
            )
        size, colon, _ = rest.partition(":")
        if not _DIGITS.fullmatch(size):
            return BadInput(ResultCode.NUMBER_EXPECTED, f"SSND size {size!r} is not a number", line)
        if not colon:
            return BadInput(
                ResultCode.COLON_OR_EQUALS_EXPECTED,
                f"':' expected after the SSND size: {args!r}",
                line,
            )
        return BadInput(ResultCode.SYNTAX_ERROR, f"malformed SSND header: {args!r}", line)

    # ----------------------------------------------------------------- SSND payloads

    def _start_payload(self, header: re.Match[bytes], items: list[Item]) -> None:
        if self._mode is _Mode.CA:
            self._interrupt_ca(items)
        handle = int(header.group(3))
        limit = self._ssnd_limit(handle) if self._ssnd_limit is not None else None
        self._ssnd = _Ssnd(
            header=bytes(self._line),
            handle=handle,
            size=int(header.group(4)),
            args=f"{header.group(3).decode()},{header.group(4).decode()}",
            stay_online=header.group(1) == b"!",
            flush=header.group(2) == b"%",
            limit=limit,
        )
        self._line.clear()
        self._mode = _Mode.PAYLOAD
        if self._on_header is not None:
            self._on_header(self._ssnd.header)
        if self._ssnd.size == 0:
            self._finish_payload(items)

    def _take_payload(self, data: bytes, index: int, items: list[Item]) -> int:
        ssnd = self._ssnd
        assert ssnd is not None
        piece = data[index : index + ssnd.size - ssnd.received]
        if ssnd.within_limit:
            ssnd.data += piece
        ssnd.received += len(piece)
        if ssnd.received == ssnd.size:
            self._finish_payload(items)
        return index + len(piece)

    def _finish_payload(self, items: list[Item]) -> None:
        ssnd = self._ssnd
        assert ssnd is not None
        if ssnd.within_limit:
            items.append(
                Command(
                    "SSND",
                    ":",
                    ssnd.args,
                    ssnd.stay_online,
                    ssnd.flush,
                    bytes(ssnd.data),
                    ssnd.header,
                    self._on_header is not None,
                )
            )
        else:
            reason = (
                f"SSND of {ssnd.size} bytes on socket {ssnd.handle} exceeds its "
                f"{ssnd.limit}-byte limit"
            )
            items.append(
                BadInput(ResultCode.SSND_TOO_BIG, reason, ssnd.header, self._on_header is not None)
            )
        self._back_to_lines()

    # ----------------------------------------------------------------- CA values

    def _interrupt_ca(self, items: list[Item]) -> None:
        assert self._ca is not None
        reason = "CA value interrupted by a new command"
        items.append(BadInput(ResultCode.CA_PARSE_ERROR, reason, self._ca.first_line))
        self._ca = None
        self._mode = _Mode.LINE

    def _ca_line(self, line: bytes, overflow: bool, items: list[Item]) -> None:
        ca = self._ca
        assert ca is not None
        if not line and not overflow:
            self._finish_ca(items)
            return
        if line[:4].upper() == b"AT+I":
            self._interrupt_ca(items)
            self._command_line(line, overflow, items)
            return
        ca.long_line = ca.long_line or overflow
        if ca.control is None:
            ca.control = _control_byte(line)
        ca.add(line)
        if line.startswith(b"-----END"):
            self._finish_ca(items)

    def _finish_ca(self, items: list[Item]) -> None:
        ca = self._ca
        assert ca is not None
        if ca.long_line:
            reason = f"CA value line longer than {self._max_line} characters"
            items.append(BadInput(ResultCode.SERIAL_OVERFLOW, reason, ca.first_line))
        elif ca.too_long:
            reason = f"CA value longer than {CA_VALUE_LIMIT} characters ({ca.chars})"
            items.append(BadInput(ResultCode.SERIAL_OVERFLOW, reason, ca.first_line))
        elif ca.control is not None:
            reason = f"control byte 0x{ca.control:02X} in CA value"
            items.append(BadInput(ResultCode.SYNTAX_ERROR, reason, ca.first_line))
        else:
            payload = b"".join(line + b"\n" for line in ca.lines)
            first = ca.first_line
            items.append(Command(ca.name, ca.op, ca.args, ca.stay_online, False, payload, first))
        self._back_to_lines()
