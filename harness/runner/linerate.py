"""Line-rate arithmetic for the throughput suite, the reports and the benchmark. Pure: no I/O.

A UART at `baud` carries baud/10 bytes a second (8N1: start bit, 8 data bits, stop bit). The
host cannot use all of that for payload: it waits for each command's reply before it sends the
next one, so the line carries the host's bytes (tx) and the device's bytes (rx) in turn, and
both include framing (command text, `I/<n>:` headers, `I/OK`). The framing-adjusted bound is
what a perfect device and host could reach with the least framing the protocol needs to move
the payload, `minimal_wire()`:

    bound = payload_bytes / (minimal tx bytes + minimal rx bytes) * baud / 10

The bound never counts the bytes this run happened to put on the line: a slow firmware makes
the host poll more often, and each idle `AT+iSRCV` -> `I/0` would otherwise count as framing,
shrink the bound, and flatter the very firmware the floor exists to catch. The echo is left out
too: a host may switch it off (`AT+iE0`), and on a full-duplex line it overlaps the command.
`wire_bytes()` still measures what did cross the line, for the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from w24_harness.at.commands import encode, encode_ssnd
from w24_harness.vocab import DataDirection, LineDirection

BITS_PER_BYTE = 10  # 8N1 framing
# Pass floors, as a fraction of the framing-adjusted bound (--w24-min-line-efficiency overrides).
SIMULATOR_FLOOR = 0.8  # the simulator paces its own line: it must come close to the bound
HARDWARE_FLOOR = 0.5  # a module has its own processing time per command; hold it to half
HARDWARE_DEFAULT_BAUD = 115200
UNTHROTTLED_BYTES = 262144  # transfer size when the line rate is unknown (a few ms per MB)
TARGET_SECONDS = 1.5  # a throttled transfer is sized to take about this long at line rate


class WireEntry(Protocol):
    """What the arithmetic needs of a transcript entry
    (w24_harness.device.transport.TranscriptEntry)."""

    @property
    def direction(self) -> str: ...
    @property
    def data(self) -> bytes: ...


@dataclass(frozen=True)
class WireBytes:
    tx: int  # host to device
    rx: int  # device to host

    @property
    def total(self) -> int:
        return self.tx + self.rx


def wire_bytes(entries: Iterable[WireEntry]) -> WireBytes:
    """Bytes each way in transcript entries; notes are not on the wire."""
    tx = rx = 0
    for entry in entries:
        if entry.direction == LineDirection.TX:
            tx += len(entry.data)
        elif entry.direction == LineDirection.RX:
            rx += len(entry.data)
    return WireBytes(tx, rx)


OK_REPLY = b"I/OK\r\n"


def minimal_wire(
    direction: DataDirection, payload_bytes: int, unit: int, handle: int = 0
) -> WireBytes:
    """The fewest bytes the AT+i protocol puts on the line to move `payload_bytes`.

    Receive: one `AT+iSRCV:<hn>,<remaining>` per reply, each reply `I/<n>:` + n bytes with n at
    most `unit` (the largest reply the device gives: its receive buffer). Send: one
    `AT+iSSND%:<hn>,<n>:` + n bytes per chunk of at most `unit` (the driver's SSND size), each
    answered `I/OK`.
    """
    if unit <= 0:
        raise ValueError(f"unit must be positive, got {unit}")
    tx = rx = 0
    left = payload_bytes
    while left > 0:
        n = min(left, unit)
        if direction == DataDirection.RECEIVE:
            tx += len(encode(f"SRCV:{handle},{left}"))
            rx += len(f"I/{n}:") + n
        else:
            tx += len(encode_ssnd(handle, bytes(n)))
            rx += len(OK_REPLY)
        left -= n
    return WireBytes(tx, rx)


def line_rate(baud: int | None) -> float | None:
    """Bytes per second the line carries; None when the rate is unknown (unthrottled)."""
    if not baud or baud <= 0:
        return None
    return baud / BITS_PER_BYTE


def framing_bound(payload_bytes: int, wire: WireBytes, baud: int | None) -> float | None:
    """Highest payload bytes/s reachable with this much framing (pass `minimal_wire()`), the
    host waiting for each reply."""
    rate = line_rate(baud)
    if rate is None or wire.total <= 0:
        return None
    return payload_bytes / wire.total * rate


@dataclass(frozen=True)
class Rates:
    throughput_bps: float  # payload bytes per second
    line_rate_bps: float | None  # baud / 10
    bound_bps: float | None  # framing-adjusted bound
    line_ratio: float | None  # throughput / line rate
    framing_ratio: float | None  # throughput / framing-adjusted bound


def rates(payload_bytes: int, seconds: float, wire: WireBytes, baud: int | None) -> Rates:
    """Measured rates; `wire` is the framing the bound allows for: `minimal_wire()`."""
    if seconds <= 0:
        raise ValueError(f"transfer time must be positive, got {seconds}")
    bps = payload_bytes / seconds
    rate = line_rate(baud)
    bound = framing_bound(payload_bytes, wire, baud)
    return Rates(
        throughput_bps=bps,
        line_rate_bps=rate,
        bound_bps=bound,
        line_ratio=bps / rate if rate else None,
        framing_ratio=bps / bound if bound else None,
    )


def effective_baud(simulated: bool, baud: int | None) -> int | None:
    """The line's baud rate as far as it is known: a simulator without --w24-baud is
    unthrottled (None); hardware without it runs at the driver's default."""
    if baud:
        return baud
    return None if simulated else HARDWARE_DEFAULT_BAUD


def default_floor(simulated: bool, baud: int | None, override: float | None = None) -> float | None:
    """Minimum framing_ratio a transfer must reach; None = no floor (line rate unknown)."""
    if effective_baud(simulated, baud) is None:
        return None
    if override is not None:
        return override
    return SIMULATOR_FLOOR if simulated else HARDWARE_FLOOR


def meets_floor(framing_ratio: float | None, floor: float | None) -> bool:
    """A throughput case is fast enough: no floor, or a ratio at or above it (the floor itself
    passes). No ratio (the transfer failed) never meets a floor."""
    if floor is None:
        return True
    return framing_ratio is not None and framing_ratio >= floor


def transfer_size(
    baud: int | None, seconds: float = TARGET_SECONDS, unthrottled: int = UNTHROTTLED_BYTES
) -> int:
    """Payload size for one throughput case: about `seconds` at line rate, or a fixed size."""
    rate = line_rate(baud)
    if rate is None:
        return unthrottled
    return max(1, round(rate * seconds))


def format_rate(bps: float | None) -> str:
    """'91.4 KB/s', '12.34 MB/s' (decimal units), '' for None."""
    if bps is None:
        return ""
    return f"{bps / 1e3:.1f} KB/s" if bps < 1e6 else f"{bps / 1e6:.2f} MB/s"
