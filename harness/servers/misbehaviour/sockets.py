"""Fault injection below tlslite: a socket that corrupts one record, and handshake saboteurs."""

from __future__ import annotations

import socket
from typing import Any

from w24_harness.tlsfacts import RECORD_HEADER_LEN, ContentType


class TamperingSocket:
    """Wraps the raw socket under a TLSConnection; can flip one byte of one outgoing record.

    Outgoing bytes are parsed as a stream of TLS records (header, then body) so the byte hit is
    always the last ciphertext byte of the next application-data record, however tlslite
    chunks its writes. For a stream cipher that byte is MAC, for CBC it garbles the padding
    block; either way the client's record check must fail.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._header = bytearray()
        self._body_left = 0
        self._record_type = 0
        self._armed = False
        self.tampered_records = 0

    def arm(self) -> None:
        self._armed = True

    def send(self, data: bytes | bytearray | memoryview) -> int:
        # Always send everything: a short send would make tlslite resend bytes this parser
        # has already counted.
        out = self._process(bytes(data))
        self._sock.sendall(out)
        return len(out)

    def sendall(self, data: bytes | bytearray | memoryview) -> None:
        self._sock.sendall(self._process(bytes(data)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def _process(self, data: bytes) -> bytes:
        out = bytearray(data)
        i = 0
        while i < len(out):
            if self._body_left == 0:
                take = min(RECORD_HEADER_LEN - len(self._header), len(out) - i)
                self._header += out[i : i + take]
                i += take
                if len(self._header) == RECORD_HEADER_LEN:
                    self._record_type = self._header[0]
                    self._body_left = int.from_bytes(self._header[3:5], "big")
                    self._header.clear()
                continue
            take = min(self._body_left, len(out) - i)
            self._body_left -= take
            i += take
            app_data = self._record_type == ContentType.APPLICATION_DATA
            if self._body_left == 0 and self._armed and app_data:
                out[i - 1] ^= 0xFF
                self._armed = False
                self.tampered_records += 1
        return bytes(out)


def read_first_record(sock: socket.socket) -> bytes:
    """Read one whole record (the ClientHello) from a fresh connection; b"" if it closes."""
    header = _read_exactly(sock, RECORD_HEADER_LEN)
    if len(header) < RECORD_HEADER_LEN:
        return header
    body = _read_exactly(sock, int.from_bytes(header[3:5], "big"))
    return header + body


def hold_until_closed(sock: socket.socket) -> str:
    """Read and drop whatever arrives until the client closes or a read times out.

    Returns who ended it: "client" or "timeout". A stop shuts the socket down, which ends
    the read like a client close; the caller tells the two apart by its stop flag.
    """
    while True:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return "timeout"
        except ConnectionError:
            return "client"
        if not chunk:
            return "client"


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)
