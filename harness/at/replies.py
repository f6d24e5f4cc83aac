"""Incremental parser for what the module sends back (spec §2.3, §4.7, §9, §12.1).

The stream mixes text lines and counted binary payloads (`I/<n>:` then exactly n raw bytes), may
use CR LF, CR or LF line ends, and may be split at any byte by the serial port, so the parser keeps
its state between feed() calls and never decides anything on a prefix that could still grow into
something else (`I/12` may become `I/12:` + data or `I/12<CR>` = a number).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from w24_harness.at.codes import ProtocolError

MAX_LINE = 65536
MAX_DATA = 16 * 1024 * 1024
# Longest run of digits read as a number. A real value is at most 10 digits (4 GB); the cap
# also keeps int() clear of Python's 4300-digit conversion limit on hostile input.
_MAX_DIGITS = 20

_DATA_HEADER = re.compile(rb"I/([0-9]+):")
# With echo on, the device echoes the SSND header; no line end follows it before the reply,
# because the payload (not echoed) comes straight after the second ':'. Ending the echo at
# that ':' keeps the I/OK that follows from being swallowed into the echo line.
_SSND_ECHO = re.compile(rb"AT\+I!?SSND%?:[0-9]+,[0-9]+:", re.IGNORECASE)
_LINE_END = re.compile(rb"[\r\n]")
_NUMBER = re.compile(r"I/([0-9]+)")
_ERROR = re.compile(r"I/ERROR(?:\s*\(\s*([0-9]+)\s*\))?")
_TUPLE = re.compile(r"I/\((.*)\)")
_TUPLE_ITEM = re.compile(r"-?[0-9]+")
_WORDS = {
    "I/OK": "OK",
    "I/BUSY": "BUSY",
    "I/DONE": "DONE",
    "I/ONLINE": "ONLINE",
    "I/OFFLINE": "OFFLINE",
}


class ReplyKind(enum.Enum):
    OK = "OK"
    ERROR = "ERROR"
    BUSY = "BUSY"
    DONE = "DONE"
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    NUMBER = "NUMBER"
    TUPLE = "TUPLE"
    DATA = "DATA"
    TEXT = "TEXT"
    ECHO = "ECHO"


_FINAL_KINDS = frozenset(
    {
        ReplyKind.OK,
        ReplyKind.ERROR,
        ReplyKind.BUSY,
        ReplyKind.NUMBER,
        ReplyKind.TUPLE,
        ReplyKind.DATA,
        ReplyKind.DONE,
        ReplyKind.ONLINE,
        ReplyKind.OFFLINE,
    }
)


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    code: int | None = None  # ERROR: the nnn of I/ERROR(nnn) / I/ERROR (nnn); None when bare
    value: int | None = None  # NUMBER: I/<n> (a socket handle, or I/0 = SRCV found nothing)
    values: tuple[int, ...] = ()  # TUPLE: I/(a,b,...) from RP4, SST, SCS
    data: bytes = b""  # DATA: the n raw bytes after I/<n>:
    text: str = ""  # TEXT: the whole line; ECHO: the echoed command line

    @property
    def final(self) -> bool:
        """True for a reply that ends a command (TEXT and ECHO lines only lead up to one)."""
        return self.kind in _FINAL_KINDS


class ReplyOverflowError(ProtocolError):
    """A size guard tripped. `replies` holds what the same feed() parsed before the overflow."""

    def __init__(self, message: str, replies: list[Reply] | None = None) -> None:
        super().__init__(message)
        self.replies: list[Reply] = list(replies or [])


def _digits_value(digits: str) -> int | None:
    significant = digits.lstrip("0")
    if len(significant) > _MAX_DIGITS:
        return None
    return int(significant or "0")


def classify_line(raw: bytes) -> Reply:
    """The Reply for one complete, non-empty line (line end already removed)."""
    text = raw.decode("latin-1")
    if text[:3].upper() == "AT+":
        return Reply(ReplyKind.ECHO, text=text)
    if not text.startswith("I/"):
        return Reply(ReplyKind.TEXT, text=text)
    # Trailing blanks are tolerated on result lines; the TEXT fallback keeps the line intact.
    body = text.rstrip(" \t")
    word = _WORDS.get(body)
    if word is not None:
        return Reply(ReplyKind[word])
    match = _ERROR.fullmatch(body)
    if match:
        if match.group(1) is None:
            return Reply(ReplyKind.ERROR)
        code = _digits_value(match.group(1))
        if code is not None:
            return Reply(ReplyKind.ERROR, code=code)
    match = _NUMBER.fullmatch(body)
    if match:
        value = _digits_value(match.group(1))
        if value is not None:
            return Reply(ReplyKind.NUMBER, value=value)
    match = _TUPLE.fullmatch(body)
    if match:
        items = [item.strip(" \t") for item in match.group(1).split(",")]
        if all(_TUPLE_ITEM.fullmatch(item) and len(item) <= _MAX_DIGITS + 1 for item in items):
            return Reply(ReplyKind.TUPLE, values=tuple(int(item) for item in items))
    return Reply(ReplyKind.TEXT, text=text)


@dataclass
class _DataInProgress:
    header: bytes
    size: int
    data: bytearray = field(default_factory=bytearray)


class ReplyParser:
    """Turns the module's byte stream into Reply values, fed in chunks of any size.

    Rules: lines end with CR LF, CR or LF; blank lines are skipped; text is latin-1. `I/<n>:`
    starts a DATA reply of exactly n raw bytes (which may hold anything, line ends included);
    parsing goes back to lines after them. feed() raises ReplyOverflowError (a ProtocolError)
    only for a line over 64 KiB or a DATA count over 16 MiB, and resets itself when it does.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._scanned = 0  # leading bytes of _buf already known to hold no line end
        self._data: _DataInProgress | None = None

    @property
    def pending(self) -> bytes:
        """Bytes held: a partial line, or a DATA header plus the payload received so far."""
        if self._data is not None:
            return self._data.header + bytes(self._data.data)
        return bytes(self._buf)

    def reset(self) -> None:
        """Drop any partial line or DATA payload (resynchronise after an error)."""
        self._buf.clear()
        self._scanned = 0
        self._data = None

    def feed(self, chunk: bytes) -> list[Reply]:
        self._buf += chunk
        replies: list[Reply] = []
        try:
            while self._step(replies):
                pass
        except ProtocolError as err:
            self.reset()
            raise ReplyOverflowError(str(err), replies) from None
        return replies

    def _step(self, replies: list[Reply]) -> bool:
        """Parse one item from the buffer; False when more bytes are needed."""
        if self._data is not None:
            return self._take_data(replies)
        buf = self._buf
        if not buf:
            return False
        header = _DATA_HEADER.match(buf)
        if header:
            size = _digits_value(header.group(1).decode("ascii"))
            if size is None or size > MAX_DATA:
                raise ProtocolError(
                    f"DATA count {header.group(1)[:30].decode('ascii')} above the 16 MiB limit"
                )
            self._data = _DataInProgress(bytes(buf[: header.end()]), size)
            self._consume(header.end())
            return True
        echo = _SSND_ECHO.match(buf)
        if echo:
            replies.append(Reply(ReplyKind.ECHO, text=buf[: echo.end()].decode("latin-1")))
            self._consume(echo.end())
            return True
        end = _LINE_END.search(buf, self._scanned)
        if end is None:
            self._scanned = len(buf)
            if len(buf) > MAX_LINE:
                raise ProtocolError(f"reply line longer than {MAX_LINE} bytes without a line end")
            return False
        pos = end.start()
        if pos > MAX_LINE:
            raise ProtocolError(f"reply line longer than {MAX_LINE} bytes without a line end")
        line = bytes(buf[:pos])
        # CR LF is one line end; when the LF has not arrived yet it becomes a blank line later,
        # which is skipped, so the result is the same for every split.
        stop = pos + 2 if buf[pos : pos + 2] == b"\r\n" else pos + 1
        self._consume(stop)
        if line:
            replies.append(classify_line(line))
        return True

    def _take_data(self, replies: list[Reply]) -> bool:
        data = self._data
        assert data is not None
        wanted = data.size - len(data.data)
        if wanted:
            if not self._buf:
                return False
            piece = self._buf[:wanted]
            data.data += piece
            self._consume(len(piece))
            if len(data.data) < data.size:
                return False
        replies.append(Reply(ReplyKind.DATA, data=bytes(data.data)))
        self._data = None
        return True

    def _consume(self, count: int) -> None:
        del self._buf[:count]
        self._scanned = 0
