"""Throughput cases: bulk data through an SSL session, timed, with the line's framing counted.

One case = one direction, one protocol version, one cipher suite. ScenarioRunner.run(case)
runs it like any catalogue scenario (w24_harness.runner.scenario): the device opens TCP, runs
AT+iSSL, then either polls SRCV until the server's payload is in ("receive", server to device) or
sends it in SSND chunks ("send", device to server). The transfer is timed from the first data
command to the last reply, the bytes that crossed the serial line in that time are counted from the
transcript, and the payload is compared by SHA-256 at the far end. `judge` turns the Outcome into
the verdict that check_scenario records (suites/test_throughput.py, bench/line_rate.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from w24_harness.device.w24 import W24
from w24_harness.profiles.table import DeviceProfile
from w24_harness.runner.linerate import Rates, WireBytes, meets_floor, minimal_wire, rates
from w24_harness.servers import CertMaterial, ServerConfig, backend_for
from w24_harness.tlsfacts import ProtocolVersion, short_name
from w24_harness.vocab import Backend, DataDirection

if TYPE_CHECKING:  # the runner imports this module
    from w24_harness.runner.scenario import Outcome

RECEIVE, SEND = DataDirection.RECEIVE, DataDirection.SEND
RECEIVE_SEED, SEND_SEED = 21, 22


@dataclass(frozen=True)
class ThroughputCase:
    direction: DataDirection
    version: ProtocolVersion
    suite: str  # IANA name

    @property
    def id(self) -> str:
        way = "down" if self.direction == RECEIVE else "up"
        short = f"{ProtocolVersion(self.version).short}-{short_name(self.suite)}"
        return f"throughput-{way}-{short}"

    @property
    def backend(self) -> Backend:
        return backend_for(self.version, self.suite)

    def describe(self, size: int) -> str:
        way = "server to device" if self.direction == RECEIVE else "device to server"
        return f"{size} bytes {way}, {self.version}, {self.suite}, {self.backend} server"


def cases_for(profile: DeviceProfile, directions: tuple[DataDirection, ...] = (RECEIVE, SEND)):
    """Every direction x protocol x suite the profile supports, in a stable order."""
    return [
        ThroughputCase(direction, version, suite)
        for direction in directions
        for version in profile.protocols
        for suite in profile.cipher_suites
    ]


@dataclass
class Transfer:
    """What one transfer put on the serial line. `seconds` covers the data commands only (from
    the first SRCV or SSND to the device's last reply), not the handshake."""

    payload_bytes: int
    seconds: float = 0.0
    wire: WireBytes = WireBytes(0, 0)  # what crossed the line during the transfer
    minimal: WireBytes = WireBytes(0, 0)  # the least the protocol needs: the bound's basis
    commands: int = 0  # SRCV polls or SSND chunks


def server_config(case: ThroughputCase, cert: CertMaterial, size: int, bind: str) -> ServerConfig:
    return ServerConfig(
        cert=cert,
        backend=case.backend,
        versions=(case.version,),
        suites=(case.suite,),
        bind=bind,
        send_on_connect=size if case.direction == RECEIVE else 0,
        seed=RECEIVE_SEED,
        handshake_timeout_s=20.0,
    )


def minimal_for(device: W24, case: ThroughputCase, size: int, handle: int) -> WireBytes:
    """The framing bound's basis: per reply the device's receive buffer; per SSND the driver's
    chunk, within the profile's SSL limit. Neither depends on how fast this device delivers."""
    unit = (
        device.profile.rx_buffer_bytes
        if case.direction == RECEIVE
        else min(device.ssnd_chunk, device.profile.max_ssnd_ssl)
    )
    return minimal_wire(case.direction, size, unit, handle)


@dataclass(frozen=True)
class ThroughputJudgement:
    """A throughput case judged: the text and numbers the reports record."""

    expected: str
    actual: str
    passed: bool
    detail: str
    measured: Rates | None


def judge(
    case: ThroughputCase, outcome: Outcome, baud: int | None, floor: float | None
) -> ThroughputJudgement:
    """Intact (the runner's verdict), and on a line of known rate at least `floor` of the
    framing-adjusted bound."""
    transfer = outcome.transfer
    measured = (
        rates(transfer.payload_bytes, transfer.seconds, transfer.minimal, baud)
        if outcome.accepted and transfer is not None
        else None
    )
    ratio = measured.framing_ratio if measured is not None else None
    fast_enough = meets_floor(ratio, floor)
    if not outcome.accepted:
        moved = outcome.bytes_received or outcome.bytes_sent
        actual = "failed" if moved == 0 else "incomplete or corrupted"
    else:
        actual = "intact" if fast_enough else "intact, below the floor"
    parts = [] if outcome.accepted else [outcome.detail]
    if measured is not None and transfer is not None:
        text = (
            f"{transfer.payload_bytes} bytes in {transfer.seconds:.3f} s = "
            f"{measured.throughput_bps / 1000:.1f} KB/s"
        )
        if measured.line_ratio is not None and measured.framing_ratio is not None:
            text += (
                f"; {measured.line_ratio:.3f} of the line rate, "
                f"{measured.framing_ratio:.3f} of the framing-adjusted bound"
            )
        wire = transfer.wire
        parts.append(
            text + f"; {transfer.commands} commands, {wire.tx} bytes to / {wire.rx} from device"
        )
    if outcome.accepted and not fast_enough:
        parts.append(f"under the floor {floor} (--w24-min-line-efficiency)")
    return ThroughputJudgement(
        expected="intact" + (f", >= {floor:.2f} of the framing-adjusted bound" if floor else ""),
        actual=actual,
        passed=outcome.accepted and fast_enough,
        detail="; ".join(p for p in parts if p),
        measured=measured,
    )
