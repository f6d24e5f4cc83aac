"""The TLS traffic between the device and a harness server, as Wireshark reads it.

The server side knows every byte it sent and received: each connection's socket is wrapped in a
RecordingSocket that notes (time, flow, bytes) as the backend reads and writes, which costs a
list append per call. When a scenario does not pass, write_pcapng turns a server's connections
into a pcapng file (scapy's PcapNgWriter) of synthesized Ethernet/IPv4/TCP packets with
consistent sequence numbers, so Wireshark and tshark reassemble the stream and dissect the
TLS records; the session keys go beside it in NSS key-log format
(`CLIENT_RANDOM <client random> <master secret>`, both hex), so they open it decrypted.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from w24_harness.servers.base import ConnectionReport

# Bytes per synthesized TCP segment: well under the IPv4 limit; Wireshark reassembles records
# across segments whatever their size.
SEGMENT = 16000
CLIENT_ISN = 1_000_000
SERVER_ISN = 2_000_000
# Locally administered MACs for the two ends (nothing here ever reaches a network).
CLIENT_MAC = "02:00:00:00:00:01"
SERVER_MAC = "02:00:00:00:00:02"


class Flow(StrEnum):
    IN = "in"  # device -> harness server
    OUT = "out"  # harness server -> device
    FIN = "fin"  # the server shut its sending side (or closed)


@dataclass(frozen=True)
class WireEvent:
    at: float  # time.time() of the socket call
    flow: Flow
    data: bytes


class RecordingSocket:
    """A socket whose reads and writes are also appended to `events`; everything else is the
    socket's own (duck-typed, as the backends' other socket wrappers)."""

    def __init__(self, sock: socket.socket, events: list[WireEvent]) -> None:
        self._sock = sock
        self._events = events

    def _note(self, flow: Flow, data: bytes | bytearray | memoryview) -> None:
        if data:
            self._events.append(WireEvent(time.time(), flow, bytes(data)))

    def recv(self, n: int, *flags: int) -> bytes:
        data = self._sock.recv(n, *flags)
        self._note(Flow.IN, data)
        return data

    def recv_into(self, buffer: Any, n: int = 0, *flags: int) -> int:
        got = self._sock.recv_into(buffer, n, *flags)
        self._note(Flow.IN, memoryview(buffer)[:got])
        return got

    def send(self, data: bytes | bytearray | memoryview, *flags: int) -> int:
        sent = self._sock.send(data, *flags)
        self._note(Flow.OUT, memoryview(data)[:sent])
        return sent

    def sendall(self, data: bytes | bytearray | memoryview, *flags: int) -> None:
        self._sock.sendall(data, *flags)
        self._note(Flow.OUT, data)

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)
        if how in (socket.SHUT_WR, socket.SHUT_RDWR):
            self._events.append(WireEvent(time.time(), Flow.FIN, b""))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def keylog_line(client_random: bytes | bytearray, master_secret: bytes | bytearray) -> str:
    """One NSS key-log line; "" when either is missing (no key exchange happened)."""
    if len(client_random) != 32 or len(master_secret) != 48:
        return ""
    return f"CLIENT_RANDOM {bytes(client_random).hex()} {bytes(master_secret).hex()}"


def write_keylog(path: Path, connections: Iterable[ConnectionReport]) -> int:
    """The connections' key-log lines into `path`; returns how many (0: no file written)."""
    lines = list(dict.fromkeys(line for c in connections for line in c.keylog if line))
    if lines:
        path.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    return len(lines)


def write_pcapng(
    path: Path, connections: Iterable[ConnectionReport], server: tuple[str, int]
) -> int:
    """Every connection as one TCP stream from the device (its peer address) to `server`;
    returns the number of packets written (0: nothing to write, no file)."""
    # scapy is imported only here: a run with no failing scenario never loads it.
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapNgWriter

    packets: list[Any] = []
    for conn in connections:
        if not conn.traffic:
            continue
        client = conn.peer
        first = conn.traffic[0].at

        def packet(at: float, src: tuple[str, int], dst: tuple[str, int], **tcp: Any) -> Any:
            to_server = dst == server
            macs = (CLIENT_MAC, SERVER_MAC) if to_server else (SERVER_MAC, CLIENT_MAC)
            frame = (
                Ether(src=macs[0], dst=macs[1])
                / IP(src=src[0], dst=dst[0])
                / TCP(sport=src[1], dport=dst[1], window=65535, **tcp)
            )
            frame.time = at
            return frame

        c_seq, s_seq = CLIENT_ISN, SERVER_ISN
        at = first - 0.0002
        packets.append(packet(at, client, server, flags="S", seq=c_seq))
        packets.append(packet(at + 0.0001, server, client, flags="SA", seq=s_seq, ack=c_seq + 1))
        c_seq, s_seq = c_seq + 1, s_seq + 1
        packets.append(packet(at + 0.00015, client, server, flags="A", seq=c_seq, ack=s_seq))
        server_fin = False
        for event in conn.traffic:
            if event.flow == Flow.FIN:
                if not server_fin:
                    packets.append(
                        packet(event.at, server, client, flags="FA", seq=s_seq, ack=c_seq)
                    )
                    s_seq += 1
                    server_fin = True
                continue
            for start in range(0, len(event.data), SEGMENT):
                chunk = event.data[start : start + SEGMENT]
                if event.flow == Flow.IN:
                    frame = packet(event.at, client, server, flags="PA", seq=c_seq, ack=s_seq)
                    c_seq += len(chunk)
                else:
                    frame = packet(event.at, server, client, flags="PA", seq=s_seq, ack=c_seq)
                    s_seq += len(chunk)
                packets.append(_with_payload(frame, chunk))
        last = conn.traffic[-1].at
        # The end as the server saw it; a FIN each way closes the stream for the dissectors.
        packets.append(packet(last + 0.0001, client, server, flags="FA", seq=c_seq, ack=s_seq))
        c_seq += 1
        if not server_fin:
            packets.append(packet(last + 0.0002, server, client, flags="FA", seq=s_seq, ack=c_seq))
    if not packets:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = PcapNgWriter(str(path))
    try:
        for frame in packets:
            writer.write(frame)
    finally:
        writer.close()
    return len(packets)


def _with_payload(frame: Any, data: bytes) -> Any:
    from scapy.packet import Raw

    stamped = frame / Raw(load=data)
    stamped.time = frame.time
    return stamped
