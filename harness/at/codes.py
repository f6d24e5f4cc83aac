"""The AT+i result-code table (spec §3 and §12.3) and the typed errors that carry a code.

One place for every code: the driver raises from it, the simulator answers from it, and the
scenario catalogue names its expectations with the constants below.
"""

from __future__ import annotations

# Named constants for the codes the harness itself produces or expects.
ILLEGAL_DELIMITER = 41
ILLEGAL_VALUE = 42
NUMBER_EXPECTED = 44
SYNTAX_ERROR = 51
ILLEGAL_COMMAND = 53
USER_ABORT = 56
HOST_TIMEOUT = 69
SERIAL_OVERFLOW = 111
CA_PARSE_ERROR = 116
GENERAL_EXCEPTION = 216  # what a module answers when something inside it goes wrong
SOCKET_NOT_EXIST = 200
SOCKET_NOT_IN_USE = 202
SOCKET_DOWN = 203
NO_SOCKETS = 204
SOCKET_CREATE_ERROR = 207
SOCKET_SEND_ERROR = 208
SSL_NEGOTIATION = 220
SSL_ILLEGAL_HANDLE = 221
SSL_NO_CA = 222
SSL_DECODE_ERROR = 224
SSL_NO_MORE_SOCKETS = 225
SSL_RECORD_TOO_BIG = 226
SSND_TOO_BIG = 227
SSND_CHECKSUM = 228

RESULT_CODES: dict[int, str] = {
    41: "Illegal delimiter",
    42: "Illegal value",
    43: "CR expected",
    44: "Number expected",
    45: "CR or ',' expected",
    46: "DNS expected",
    47: "':' or '~' expected",
    48: "String expected",
    49: "':' or '=' expected",
    50: "Text expected",
    51: "Syntax error",
    52: "',' expected",
    53: "Illegal command code",
    54: "Error when setting parameter",
    55: "Error when getting parameter value",
    56: "User abort (+++)",
    57: "Error when trying to establish PPP",
    58: "Error when trying to establish SMTP",
    59: "Error when trying to establish POP3",
    60: "Single-session MIME body exceeds the maximum allowed",
    61: "Internal memory failure",
    62: "User aborted the system",
    63: "~CTSH must be LOW to change to hardware flow control",
    64: "User aborted last command using '---'",
    65: "ID already exists",
    66: "Reserved",
    67: "Command ignored as irrelevant",
    68: "Serial number already exists",
    69: "Timeout on host communication",
    86: "Writing to the nonvolatile parameter database failed",
    100: "Error restoring default parameters",
    111: "Serial data overflow",
    112: "Illegal command when modem online",
    116: "Error parsing a new trusted CA certificate",
    117: "Error parsing a new private key",
    200: "Socket does not exist",
    201: "Socket empty on receive",
    202: "Socket not in use",
    203: "Socket down (closed by peer, or no ACK)",
    204: "No available sockets",
    206: "PPP open failed for socket",
    207: "Error creating socket",
    208: "Socket send error",
    209: "Socket receive error",
    210: "PPP down for socket",
    212: "Socket flush error",
    215: "No carrier error on socket operation",
    216: "General exception",
    217: "Out of memory",
    218: "STCP local port already in use",
    219: "SSL initialisation / internal CA certificate loading error",
    220: "SSL3 negotiation error",
    221: "Illegal SSL socket handle: must be an open and active TCP socket",
    222: "Trusted CA certificate does not exist",
    223: "Reserved",
    224: "Decoding error on incoming SSL data",
    225: "No additional SSL sockets available",
    226: "Maximum SSL packet size (2 KB) exceeded",
    227: "SSND stream larger than 2048 bytes",
    228: "SSND checksum mismatch",
    229: "SSL parameters are missing",
    230: "Maximum packet size (4 GB) exceeded",
}


def describe(code: int | None) -> str:
    """Human meaning of a result code; socket status values may be passed negated."""
    if code is None:
        return "error (no code given)"
    return RESULT_CODES.get(abs(code), f"unknown code {abs(code)}")


class W24Error(Exception):
    """Base of everything the harness raises about the device or its line."""


class DeviceError(W24Error):
    """The device answered I/ERROR. `code` is None for a bare I/ERROR."""

    def __init__(self, code: int | None, command: str = "", detail: str = "") -> None:
        self.code = code
        self.command = command
        self.meaning = describe(code)
        shown = "I/ERROR" if code is None else f"I/ERROR({code:03d})"
        where = f" to {command!r}" if command else ""
        extra = f" ({detail})" if detail else ""
        super().__init__(f"device answered {shown}{where}: {self.meaning}{extra}")


class SSLError(DeviceError):
    """A code from the SSL range (219..229)."""


class SocketError(DeviceError):
    """A code from the socket range (200..218)."""


class CAError(DeviceError):
    """The device refused a CA value (116)."""


class BusyError(W24Error):
    """The device answered I/BUSY: the command was discarded."""


class ProtocolError(W24Error):
    """The reply did not follow the AT+i framing (a malformed or unexpected line)."""


class DeviceTimeout(W24Error):
    """No complete reply within the command's timeout."""


class LineDeadError(W24Error):
    """The port is closed or gone (device unplugged, simulator exited)."""


class CAFitError(W24Error):
    """A CA does not fit the device profile; raised before anything is sent."""


def error_for(code: int | None, command: str = "", detail: str = "") -> DeviceError:
    """The typed DeviceError subclass that matches a code."""
    if code == CA_PARSE_ERROR:
        return CAError(code, command, detail)
    if code is not None and 219 <= code <= 229 and code not in (227, 228):
        return SSLError(code, command, detail)
    if code is not None and 200 <= code <= 230:
        return SocketError(code, command, detail)
    return DeviceError(code, command, detail)
