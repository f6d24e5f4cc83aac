"""The AT+i result-code table (spec §3 and §12.3) and the typed errors that carry a code.

One place for every code: the driver raises from it, the simulator answers from it, and the
scenario catalogue names its expectations with the members of ResultCode.
"""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    """Every result code of spec §3 and §12.3; `.meaning` is the manual's sentence for it."""

    meaning: str

    def __new__(cls, value: int, meaning: str) -> ResultCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    ILLEGAL_DELIMITER = 41, "Illegal delimiter"
    ILLEGAL_VALUE = 42, "Illegal value"
    CR_EXPECTED = 43, "CR expected"
    NUMBER_EXPECTED = 44, "Number expected"
    CR_OR_COMMA_EXPECTED = 45, "CR or ',' expected"
    DNS_EXPECTED = 46, "DNS expected"
    COLON_OR_TILDE_EXPECTED = 47, "':' or '~' expected"
    STRING_EXPECTED = 48, "String expected"
    COLON_OR_EQUALS_EXPECTED = 49, "':' or '=' expected"
    TEXT_EXPECTED = 50, "Text expected"
    SYNTAX_ERROR = 51, "Syntax error"
    COMMA_EXPECTED = 52, "',' expected"
    ILLEGAL_COMMAND = 53, "Illegal command code"
    SET_PARAMETER_ERROR = 54, "Error when setting parameter"
    GET_PARAMETER_ERROR = 55, "Error when getting parameter value"
    USER_ABORT = 56, "User abort (+++)"
    PPP_ERROR = 57, "Error when trying to establish PPP"
    SMTP_ERROR = 58, "Error when trying to establish SMTP"
    POP3_ERROR = 59, "Error when trying to establish POP3"
    MIME_TOO_BIG = 60, "Single-session MIME body exceeds the maximum allowed"
    INTERNAL_MEMORY_FAILURE = 61, "Internal memory failure"
    USER_ABORTED_SYSTEM = 62, "User aborted the system"
    CTSH_NOT_LOW = 63, "~CTSH must be LOW to change to hardware flow control"
    USER_ABORTED_LAST_COMMAND = 64, "User aborted last command using '---'"
    ID_EXISTS = 65, "ID already exists"
    RESERVED_66 = 66, "Reserved"
    COMMAND_IGNORED = 67, "Command ignored as irrelevant"
    SERIAL_NUMBER_EXISTS = 68, "Serial number already exists"
    HOST_TIMEOUT = 69, "Timeout on host communication"
    NV_WRITE_FAILED = 86, "Writing to the nonvolatile parameter database failed"
    RESTORE_DEFAULTS_ERROR = 100, "Error restoring default parameters"
    SERIAL_OVERFLOW = 111, "Serial data overflow"
    ILLEGAL_WHEN_ONLINE = 112, "Illegal command when modem online"
    CA_PARSE_ERROR = 116, "Error parsing a new trusted CA certificate"
    KEY_PARSE_ERROR = 117, "Error parsing a new private key"
    SOCKET_NOT_EXIST = 200, "Socket does not exist"
    SOCKET_EMPTY = 201, "Socket empty on receive"
    SOCKET_NOT_IN_USE = 202, "Socket not in use"
    SOCKET_DOWN = 203, "Socket down (closed by peer, or no ACK)"
    NO_SOCKETS = 204, "No available sockets"
    SOCKET_PPP_OPEN_FAILED = 206, "PPP open failed for socket"
    SOCKET_CREATE_ERROR = 207, "Error creating socket"
    SOCKET_SEND_ERROR = 208, "Socket send error"
    SOCKET_RECEIVE_ERROR = 209, "Socket receive error"
    SOCKET_PPP_DOWN = 210, "PPP down for socket"
    SOCKET_FLUSH_ERROR = 212, "Socket flush error"
    SOCKET_NO_CARRIER = 215, "No carrier error on socket operation"
    GENERAL_EXCEPTION = 216, "General exception"
    OUT_OF_MEMORY = 217, "Out of memory"
    LOCAL_PORT_IN_USE = 218, "STCP local port already in use"
    SSL_INIT_ERROR = 219, "SSL initialisation / internal CA certificate loading error"
    SSL_NEGOTIATION = 220, "SSL3 negotiation error"
    SSL_ILLEGAL_HANDLE = 221, "Illegal SSL socket handle: must be an open and active TCP socket"
    SSL_NO_CA = 222, "Trusted CA certificate does not exist"
    RESERVED_223 = 223, "Reserved"
    SSL_DECODE_ERROR = 224, "Decoding error on incoming SSL data"
    SSL_NO_MORE_SOCKETS = 225, "No additional SSL sockets available"
    SSL_RECORD_TOO_BIG = 226, "Maximum SSL packet size (2 KB) exceeded"
    SSND_TOO_BIG = 227, "SSND stream larger than 2048 bytes"
    SSND_CHECKSUM = 228, "SSND checksum mismatch"
    SSL_PARAMETERS_MISSING = 229, "SSL parameters are missing"
    PACKET_TOO_BIG = 230, "Maximum packet size (4 GB) exceeded"


# Socket and SSL ranges: which typed error a code raises.
SSL_CODES = range(ResultCode.SSL_INIT_ERROR, ResultCode.SSL_PARAMETERS_MISSING + 1)
SOCKET_CODES = range(ResultCode.SOCKET_NOT_EXIST, ResultCode.PACKET_TOO_BIG + 1)


def describe(code: int | None) -> str:
    """Human meaning of a result code; socket status values may be passed negated."""
    if code is None:
        return "error (no code given)"
    known = ResultCode._value2member_map_.get(abs(code))
    return known.meaning if isinstance(known, ResultCode) else f"unknown code {abs(code)}"


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
    if code == ResultCode.CA_PARSE_ERROR:
        return CAError(code, command, detail)
    ssnd = (ResultCode.SSND_TOO_BIG, ResultCode.SSND_CHECKSUM)
    if code is not None and code in SSL_CODES and code not in ssnd:
        return SSLError(code, command, detail)
    if code is not None and code in SOCKET_CODES:
        return SocketError(code, command, detail)
    return DeviceError(code, command, detail)
