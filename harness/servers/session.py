"""The part of a connection both backends share: what happens after the handshake.

A backend performs the handshake its own way, then hands a SecureChannel (one application
record per send_record call) to serve_application_data, which sends the configured payload,
reads (and optionally echoes) until the client closes, the idle timeout fires, or the server
stops, and keeps the ConnectionReport current throughout.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from w24_harness.servers.base import ConnectionReport, ServerConfig
from w24_harness.servers.payload import payload

READ_CHUNK = 16384


@dataclass
class Failure:
    """How a connection ended abnormally, as the report should show it."""

    closed_by: str  # "client" | "server" | "timeout"
    alert: str | None = None
    error: str | None = None


class SecureChannel(Protocol):
    def send_record(self, data: bytes) -> None:
        """Send `data` as exactly one application-data record."""

    def recv(self, max_bytes: int) -> bytes:
        """Application plaintext; b"" once the client has closed."""

    def describe_failure(self, exc: BaseException) -> Failure:
        """Backend-specific reading of an exception (alerts, library errors)."""


class Stopped(Exception):
    """The server is shutting down; unwinds a connection between records."""


@dataclass
class ConnectionContext:
    raw: socket.socket
    report: ConnectionReport
    config: ServerConfig
    stopping: threading.Event
    # Registers the socket object a stop must shut down (the SSLSocket replaces the raw one).
    track: Callable[[socket.socket], None]

    def fail(self, exc: BaseException, channel: SecureChannel | None, stage: str) -> None:
        """Record why the connection ended; a stop in progress always reads as 'server'."""
        report = self.report
        if self.stopping.is_set() or isinstance(exc, Stopped):
            report.closed_by = "server"
            return
        if isinstance(exc, TimeoutError):
            report.closed_by = "timeout"
            report.error = f"{stage}: no traffic for the {stage} timeout"
            return
        if isinstance(exc, ConnectionError):
            report.closed_by = "client"
            report.error = f"{stage}: {type(exc).__name__}"
            return
        failure = (
            channel.describe_failure(exc)
            if channel is not None
            else Failure("server", error=f"{type(exc).__name__}: {exc}")
        )
        report.closed_by = failure.closed_by
        if failure.alert is not None:
            report.alert_received = failure.alert
        if failure.error is not None:
            report.error = f"{stage}: {failure.error}"


def slices(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def plain_records(config: ServerConfig) -> list[bytes]:
    """The send_on_connect payload cut into records of at most record_cap bytes."""
    return slices(payload(config.send_on_connect, config.seed), config.record_cap)


def send_records(channel: SecureChannel, ctx: ConnectionContext, records: Iterable[bytes]) -> None:
    report = ctx.report
    for record in records:
        if ctx.stopping.is_set():
            raise Stopped
        channel.send_record(record)
        report.bytes_out += len(record)
        report.records_out += 1
        report.max_record_out = max(report.max_record_out, len(record))


def serve_application_data(
    channel: SecureChannel, ctx: ConnectionContext, first_records: Iterable[bytes]
) -> None:
    report = ctx.report
    config = ctx.config
    digest = hashlib.sha256()
    report.sha256_in = digest.hexdigest()
    try:
        send_records(channel, ctx, first_records)
        while True:
            data = channel.recv(READ_CHUNK)
            if not data:
                report.closed_by = "server" if ctx.stopping.is_set() else "client"
                return
            digest.update(data)
            report.bytes_in += len(data)
            report.sha256_in = digest.hexdigest()
            if config.echo:
                send_records(channel, ctx, slices(data, config.record_cap))
    except Exception as exc:  # every failure becomes part of the report
        ctx.fail(exc, channel, "application data")
