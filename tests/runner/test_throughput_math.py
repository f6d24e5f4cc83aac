"""w24_harness.runner.linerate: the line-rate arithmetic of the throughput suite, and one real
transfer through a paced simulator line checked against it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from w24_harness.device.transport import Transcript
from w24_harness.device.w24 import W24
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import TLS1, get_profile
from w24_harness.runner.linerate import (
    HARDWARE_FLOOR,
    SIMULATOR_FLOOR,
    UNTHROTTLED_BYTES,
    WireBytes,
    default_floor,
    effective_baud,
    framing_bound,
    line_rate,
    meets_floor,
    minimal_wire,
    rates,
    transfer_size,
    wire_bytes,
)
from w24_harness.runner.scenario import ScenarioRunner
from w24_harness.runner.throughput import RECEIVE, SEND, ThroughputCase
from w24_harness.sim.faults import Faults
from w24_harness.sim.server import Simulator, SimulatorConfig


def test_line_rate_is_a_tenth_of_the_baud_rate() -> None:
    assert line_rate(115200) == 11520.0
    assert line_rate(921600) == 92160.0
    assert line_rate(None) is None
    assert line_rate(0) is None


def test_wire_bytes_counts_each_direction_and_skips_notes() -> None:
    transcript = Transcript()
    transcript.record("tx", b"AT+iSRCV:0\r")
    transcript.note("a note is not on the wire")
    transcript.record("rx", b"AT+iSRCV:0\r\nI/4:")
    transcript.record("rx", b"abcd")
    assert wire_bytes(transcript.since(0)) == WireBytes(tx=11, rx=20)
    assert wire_bytes([]).total == 0


def test_framing_bound_counts_both_directions_in_turn() -> None:
    # 1000 payload bytes cost 1200 bytes of line time: the bound is 1000/1200 of 11520 B/s.
    assert framing_bound(1000, WireBytes(100, 1100), 115200) == pytest.approx(9600.0)
    assert framing_bound(1000, WireBytes(100, 1100), None) is None
    assert framing_bound(1000, WireBytes(0, 0), 115200) is None


def test_rates_relate_throughput_to_line_and_bound() -> None:
    r = rates(9600, 1.0, WireBytes(100, 11420), 115200)
    assert r.throughput_bps == 9600.0
    assert r.line_rate_bps == 11520.0
    assert r.line_ratio == pytest.approx(9600 / 11520)
    assert r.bound_bps == pytest.approx(9600 / 11520 * 11520)
    assert r.framing_ratio == pytest.approx(1.0)
    unknown = rates(65536, 0.5, WireBytes(10, 65600), None)
    assert unknown.throughput_bps == 131072.0
    assert unknown.line_ratio is None and unknown.framing_ratio is None
    with pytest.raises(ValueError):
        rates(1, 0.0, WireBytes(1, 1), 115200)


@given(
    payload=st.integers(1, 10**7),
    extra=st.integers(0, 10**6),
    share=st.floats(0, 1),
    baud=st.sampled_from([9600, 115200, 230400, 921600]),
    seconds=st.floats(0.001, 100),
)
def test_bound_never_exceeds_the_line_rate(payload, extra, share, baud, seconds) -> None:
    total = payload + extra  # every payload byte crosses the line, plus framing
    tx = int(total * share)
    wire = WireBytes(tx, total - tx)
    bound = framing_bound(payload, wire, baud)
    assert bound is not None and bound <= line_rate(baud) + 1e-9
    r = rates(payload, seconds, wire, baud)
    assert r.framing_ratio >= r.line_ratio - 1e-12  # the bound is the stricter yardstick


def test_floors_by_line() -> None:
    assert default_floor(simulated=True, baud=921600) == SIMULATOR_FLOOR == 0.8
    assert default_floor(simulated=True, baud=None) is None  # unthrottled: no floor
    assert default_floor(simulated=True, baud=None, override=0.9) is None
    assert default_floor(simulated=False, baud=None) == HARDWARE_FLOOR == 0.5  # 115200 default
    assert default_floor(simulated=False, baud=57600, override=0.7) == 0.7
    assert effective_baud(simulated=False, baud=None) == 115200
    assert effective_baud(simulated=True, baud=None) is None


def test_transfer_size_is_about_one_and_a_half_seconds_of_line() -> None:
    assert transfer_size(115200) == 17280
    assert transfer_size(921600) == 138240
    assert transfer_size(None) == UNTHROTTLED_BYTES
    assert transfer_size(10) == 2  # never zero


def test_case_ids_and_backends() -> None:
    down = ThroughputCase(RECEIVE, TLS1, "TLS_RSA_WITH_AES_128_CBC_SHA")
    up = ThroughputCase(SEND, "SSL3.0", "TLS_RSA_WITH_3DES_EDE_CBC_SHA")
    assert down.id == "throughput-down-tls1-aes128-sha" and down.backend == "openssl"
    assert up.id == "throughput-up-ssl3-3des-sha" and up.backend == "tlslite"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("direction", [RECEIVE, SEND])
def test_paced_transfer_comes_close_to_the_bound_and_never_beats_it(direction: str) -> None:
    """One second of line at 57600 baud through the simulator: the emulated UART must neither
    be slower than the floor nor faster than the line the bound describes."""
    profile = get_profile("w24")
    sets = CertSets(profile)
    case = ThroughputCase(direction, TLS1, "TLS_RSA_WITH_AES_128_CBC_SHA")
    size = transfer_size(57600, seconds=1.0)
    with Simulator(SimulatorConfig(profile=profile, baud=57600)) as sim:
        device = W24.open(sim.start_pty(), baud=57600, profile=profile)
        try:
            device.resync()
            outcome = ScenarioRunner(device, sets).run(case, size)
        finally:
            device.close_port()
    assert outcome.accepted, outcome.detail
    transfer = outcome.transfer
    assert transfer is not None
    measured = rates(size, transfer.seconds, transfer.minimal, 57600)
    assert transfer.wire.total > transfer.minimal.total > size  # framing was counted
    assert SIMULATOR_FLOOR <= measured.framing_ratio <= 1.005


def test_minimal_wire_counts_the_protocol_bytes_exactly() -> None:
    # 17280 bytes in replies of at most 16384: AT+iSRCV:0,17280\r -> I/16384:..., then
    # AT+iSRCV:0,896\r -> I/896:...
    assert minimal_wire(RECEIVE, 17280, 16384) == WireBytes(tx=17 + 15, rx=8 + 16384 + 6 + 896)
    # Two SSND of 2048 (AT+iSSND%:0,2048: is 17 bytes), each answered I/OK\r\n.
    assert minimal_wire(SEND, 4096, 2048) == WireBytes(tx=2 * (17 + 2048), rx=2 * 6)
    assert minimal_wire(SEND, 1, 2048, handle=3) == WireBytes(tx=14 + 1, rx=6)
    assert minimal_wire(RECEIVE, 0, 16384) == WireBytes(0, 0)
    with pytest.raises(ValueError):
        minimal_wire(RECEIVE, 10, 0)


@pytest.mark.parametrize(
    ("direction", "wire"),
    # AT+iSRCV:0,3\r, :0,2\r, :0,1\r (13 bytes each), each answered I/1: + 1 byte;
    # AT+iSSND%:0,1: + 1 byte (15) three times, each answered I/OK\r\n.
    [(RECEIVE, WireBytes(tx=3 * 13, rx=3 * 5)), (SEND, WireBytes(tx=3 * 15, rx=3 * 6))],
)
def test_minimal_wire_unit_of_one_byte_and_below(direction, wire: WireBytes) -> None:
    # One byte is the smallest unit; 0 and below are refused (never an endless loop).
    assert minimal_wire(direction, 3, 1) == wire
    for unit in (0, -1):
        with pytest.raises(ValueError, match=f"unit must be positive, got {unit}"):
            minimal_wire(direction, 3, unit)


@pytest.mark.timeout(60)
def test_slow_firmware_is_judged_against_the_protocol_not_its_own_polls() -> None:
    """A simulator that delivers SSL data at a third of the line rate makes the host poll
    idly; the bound from the minimal framing puts it far under the floor, where the bound from
    the bytes this run put on the line would have flattered it."""
    profile = get_profile("w24")
    sets = CertSets(profile)
    case = ThroughputCase(RECEIVE, TLS1, "TLS_RSA_WITH_AES_128_CBC_SHA")
    size = transfer_size(115200, seconds=1.0)
    config = SimulatorConfig(profile=profile, baud=115200, faults=Faults(slow_delivery=True))
    with Simulator(config) as sim:
        device = W24.open(sim.start_pty(), baud=115200, profile=profile)
        try:
            device.resync()
            outcome = ScenarioRunner(device, sets).run(case, size)
        finally:
            device.close_port()
    assert outcome.accepted, outcome.detail
    transfer = outcome.transfer
    assert transfer is not None
    honest = rates(size, transfer.seconds, transfer.minimal, 115200)
    flattering = rates(size, transfer.seconds, transfer.wire, 115200)
    assert honest.framing_ratio < 0.4 < HARDWARE_FLOOR < SIMULATOR_FLOOR
    assert honest.line_ratio < 0.4
    assert flattering.framing_ratio > honest.framing_ratio  # what the old bound reported


# -- boundaries: exactly at each limit, and one step either side ---------------------------


@pytest.mark.parametrize("floor", [SIMULATOR_FLOOR, HARDWARE_FLOOR, 0.0])
def test_a_ratio_exactly_at_the_floor_passes_and_just_under_fails(floor: float) -> None:
    assert meets_floor(floor, floor)
    assert meets_floor(math.nextafter(floor, 2.0), floor)
    assert not meets_floor(math.nextafter(floor, -1.0), floor)


def test_no_floor_passes_anything_and_no_ratio_meets_no_floor() -> None:
    assert meets_floor(None, None) and meets_floor(0.0, None)
    assert not meets_floor(None, SIMULATOR_FLOOR)


def test_default_floors_for_each_line() -> None:
    assert (SIMULATOR_FLOOR, HARDWARE_FLOOR) == (0.8, 0.5)
    assert default_floor(simulated=True, baud=115200) == 0.8
    assert default_floor(simulated=False, baud=None) == 0.5  # hardware at its default baud
    assert default_floor(simulated=False, baud=9600) == 0.5
    assert default_floor(simulated=True, baud=None) is None  # unthrottled: no line rate
    assert default_floor(simulated=True, baud=0) is None
    assert default_floor(simulated=True, baud=9600, override=0.95) == 0.95
    assert default_floor(simulated=False, baud=9600, override=0.0) == 0.0  # not "no override"
    assert default_floor(simulated=True, baud=None, override=0.95) is None


def test_framing_bound_at_one_wire_byte_and_at_none() -> None:
    assert framing_bound(1, WireBytes(1, 0), 10) == 1.0
    assert framing_bound(1, WireBytes(0, 1), 10) == 1.0
    assert framing_bound(5, WireBytes(2, 3), 100) == 10.0  # payload / wire * baud / 10
    assert framing_bound(1, WireBytes(0, 0), 10) is None
    assert line_rate(1) == 0.1 and line_rate(-9600) is None
