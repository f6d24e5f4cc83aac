"""What a TLS stack must offer to run as the simulator's client: a memory-BIO engine.

The AT front end (w24_harness.sim.engines.channel) owns the socket and the module's own rules
(2 KB records -> 226, the result codes, the 16 KB receive buffer, lazy receive); an engine only
turns wire bytes into plaintext and back. Wire bytes go in with `feed` and come out with
`outgoing`; nothing in an engine touches a socket, so every stack is driven the same way and the
front end can hand it exactly one record at a time.

An engine's failures are `EngineError`s of a `Failure` kind; the front end maps the kind to the
module's code (docs/engines.md has the table per stack).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from w24_harness.tlsfacts import ProtocolVersion


class Failure(StrEnum):
    HANDSHAKE = "handshake"  # any handshake failure, certificate rejections included -> 220
    BAD_RECORD = "bad_record"  # bad MAC, bad padding, undecodable record -> 224
    ALERT = "alert"  # a fatal alert from the server after the handshake -> 224
    RECORD_TOO_BIG = "record_too_big"  # the stack's own record_overflow -> 226
    CLOSED = "closed"  # close_notify (or what the stack documents as the end) -> 203


class EngineError(Exception):
    def __init__(self, kind: Failure, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class CallbackBuffers:
    """The wire bytes of a stack that reads and writes through C I/O callbacks (wolfSSL, mbed
    TLS): `feed` and `outgoing` on the front end's side, `take` and `put` in the callbacks."""

    def __init__(self) -> None:
        self._in = bytearray()
        self._out = bytearray()

    def feed(self, data: bytes) -> None:
        self._in += data

    def outgoing(self) -> bytes:
        data, self._out = bytes(self._out), bytearray()
        return data

    def take(self, buf: int, size: int, would_block: int) -> int:
        """A receive callback's answer: up to `size` fed bytes copied to `buf`, or the stack's
        own would-block code when none are there."""
        if not self._in:
            return would_block
        n = min(size, len(self._in))
        ctypes.memmove(buf, bytes(self._in[:n]), n)
        del self._in[:n]
        return n

    def put(self, buf: int, size: int) -> int:
        """A send callback's answer: the stack's `size` bytes at `buf`, all taken."""
        self._out += ctypes.string_at(buf, size)
        return size


@dataclass(frozen=True)
class EngineConfig:
    """How the firmware author configured the stack (the same for every engine)."""

    versions: tuple[ProtocolVersion, ...]  # SSL3 and/or TLS1; the highest is offered
    suites: tuple[str, ...]  # IANA names, in preference order
    trusted_cas: tuple[bytes, ...]  # PEM; the AT+iCA= certificates, the only trust anchors
    verify: bool = True  # False only for the accept_any_cert self-test fault


class Engine(Protocol):
    """One client connection of a TLS stack over memory buffers."""

    def feed(self, data: bytes) -> None:
        """Wire bytes from the server."""

    def outgoing(self) -> bytes:
        """Wire bytes the stack wants sent (b"" if none); taking them empties the buffer."""

    def handshake(self) -> bool:
        """Advance the handshake with what was fed: True once it is complete."""

    def read(self) -> bytes | None:
        """Plaintext of what was fed; None when the stack needs more bytes. Raises
        EngineError(CLOSED) at the end of the connection as the stack reports it."""

    def write(self, data: bytes) -> None:
        """Encrypt `data` as application data (the wire bytes then wait in `outgoing`)."""

    def shutdown(self) -> None:
        """Queue a close_notify."""

    def free(self) -> None:
        """Release the stack's objects."""

    @property
    def version(self) -> ProtocolVersion: ...

    @property
    def cipher(self) -> str:
        """The negotiated suite's IANA name."""

    @property
    def peer_cert_der(self) -> bytes: ...


class Channel(Protocol):
    """What SimDevice and SimSocket use of an SSL socket, whichever engine is behind it:
    w24_harness.sim.tls_engine.SecureChannel (the default) and channel.EngineChannel."""

    version: str
    cipher: str
    server_cert_der: bytes

    @property
    def closed(self) -> bool: ...

    def send(self, data: bytes) -> None: ...

    def pump(self, max_bytes: int) -> bytes: ...

    def close(self) -> None: ...


class EngineFactory(Protocol):
    """A built stack: what it can do, and how to start one connection."""

    name: str  # e.g. "wolfssl-5.7.2"
    versions: tuple[ProtocolVersion, ...]  # what this build can negotiate at all
    suites: tuple[str, ...]  # the W24 suites this build has (IANA names)

    def connect(self, config: EngineConfig) -> Engine: ...
