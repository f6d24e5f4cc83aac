"""How fast the driver may write to a real UART: the CA value and SSND payloads.

A socket or the unthrottled simulator takes any burst. A W24 on a serial line does not:
* `AT+iCA=` carries a multi-line value (up to 1300 characters) that is not flow-controlled,
  and the production iChip driver drops the link to 9600 baud to load it (spec §12.1);
* the module assumes host flow control (RTS/CTS) for an SSND payload over 256 bytes (spec §2.5),
  so without it the driver must keep every SSND at or under 256 bytes.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class CAPacing(StrEnum):
    """How the driver writes an AT+iCA= value."""

    BURST = "burst"  # the whole value in one write (socket, unthrottled simulator)
    BAUD_DROP = "baud-drop"  # the production driver's: the line at 9600 baud for AT+iCA=
    LINE_GAP = "line-gap"  # each line, then a pause: on average no faster than 9600 baud

    @classmethod
    def names(cls) -> list[str]:
        return [p.value for p in cls]


class LineRate(IntEnum):
    CA_LOAD = 9600  # baud the production driver loads a CA at (spec §12.1)


class SsndLimit(IntEnum):
    UNFLOWED = 256  # largest SSND payload without host flow control (spec §2.5)
    PAYLOAD = 2048  # largest SSND payload at all (spec §4.6; error 227 beyond)


# 8N1: ten bit times per byte on the wire.
BITS_PER_BYTE = 10


def line_gap_s(n_bytes: int, baud: int = LineRate.CA_LOAD) -> float:
    """How long n bytes take at `baud`: the pause after a line in LINE_GAP pacing."""
    return n_bytes * BITS_PER_BYTE / baud


def can_change_baud(url: str) -> bool:
    """A tty (path) or an RFC 2217 port carries a baud change to the UART; a raw socket,
    loop:// or spy:// wrapper of a socket does not."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return scheme in ("", "rfc2217")


def default_ca_pacing(paced_line: bool, url: str) -> CAPacing:
    """BURST where the line takes any burst; else the baud drop, or line gaps where the baud
    cannot be changed from here (a module behind a raw TCP serial server)."""
    if not paced_line:
        return CAPacing.BURST
    return CAPacing.BAUD_DROP if can_change_baud(url) else CAPacing.LINE_GAP


def default_ssnd_chunk(paced_line: bool, rtscts: bool) -> int:
    """2048 where flow control is not needed (simulator, or RTS/CTS on), else 256."""
    return SsndLimit.PAYLOAD if (not paced_line or rtscts) else SsndLimit.UNFLOWED
