"""Each correct-firmware variant (w24_harness.sim.variants) really makes the simulator behave
that way: seen through the driver or the raw line, against the harness's own TLS servers, with
the default behaviour beside it where the difference is the point."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from w24_harness.at.codes import DeviceError, ResultCode
from w24_harness.device.w24 import W24
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import W24 as W24_PROFILE
from w24_harness.servers import ConnectionReport, ServerConfig, TLSServer
from w24_harness.servers.misbehaviour.library import WARNING_ALERTS
from w24_harness.servers.misbehaviour.records import (
    Alert,
    AlertDescription,
    AlertLevel,
    Data,
    Empty,
    Ending,
    RecordPlan,
    Shape,
)
from w24_harness.sim.device import SimDevice
from w24_harness.sim.faults import Faults
from w24_harness.sim.pairwise import all_pairs, pairwise_variants, uncovered_pairs, variant_space
from w24_harness.sim.server import Simulator, SimulatorProcess, decode_variants, encode_spec
from w24_harness.sim.variants import SWITCHES, Variants
from w24_harness.vocab import Backend, Renegotiation

pytestmark = pytest.mark.timeout(60)

CERTS = CertSets(W24_PROFILE)
HOST = "127.0.0.1"


@pytest.fixture
def device(sim_start, sim_open) -> Callable[..., W24]:
    """A driver (on the harness's w24 profile) on a simulator started with `items` variants."""

    def start(*items: str) -> W24:
        sim: Simulator = sim_start(variants=Variants.parse(list(items)))
        return sim_open(sim.url)

    return start


@contextmanager
def session(
    w24: W24, plan: RecordPlan | None = None, certs: str = "valid", misbehaviour=None
) -> Iterator[tuple[int, TLSServer]]:
    """The CA loaded, a tlslite server carrying `plan`, a TCP socket to it (not yet SSL)."""
    cert_set = CERTS.get(certs)
    assert cert_set.ca_pem is not None and cert_set.server is not None
    w24.set_ca(cert_set.ca_pem)
    config = ServerConfig(
        cert=cert_set.server,
        backend=Backend.TLSLITE,
        records=plan,
        misbehaviour=misbehaviour,
        handshake_timeout_s=10.0,
    )
    with TLSServer(config) as server:
        handle = w24.open_tcp(HOST, server.port)
        try:
            yield handle, server
        finally:
            w24.close_quietly(handle)


def report(server: TLSServer, timeout: float = 5.0) -> ConnectionReport:
    deadline = time.monotonic() + timeout
    while not server.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.connections, "the device never connected"
    return server.connections[0]


def sent_all(server: TLSServer, timeout: float = 5.0) -> None:
    """Wait until the server has carried out its whole plan (and ended as it says)."""
    conn = report(server)
    deadline = time.monotonic() + timeout
    while conn.records_plan is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert conn.records_plan is not None, "the server did not send its plan"
    time.sleep(0.2)  # the last records and the close reach the device's TCP


def read_to_error(w24: W24, handle: int, n: int) -> tuple[bytes, int | None]:
    """SRCV until `n` bytes and one more answer: the bytes, and the error code that came."""
    got = w24.receive_all(handle, n, timeout=5)
    data = got.data
    if got.error is None:
        after = w24.receive_all(handle, 1, timeout=1)
        data += after.data
        got = after
    return data, got.error.code if got.error is not None else None


def plan(*steps, ending: Ending = Ending.KEEP_OPEN) -> RecordPlan:
    return RecordPlan("variant-test", tuple(steps), ending=ending)


# -- §4.13: the socket status while data are buffered --------------------------------------


@pytest.mark.parametrize("early", [False, True])
def test_status_error_early_shows_the_close_while_srcv_still_delivers(device, early) -> None:
    w24 = device(*(["status_error_early"] if early else []))
    with session(w24, plan(Data(1000), ending=Ending.CLOSE_NOTIFY)) as (handle, server):
        w24.start_ssl(handle)
        sent_all(server)
        status = w24.socket_status(handle)
        assert w24.all_sockets()[handle] == status
        # Default: the bytes waiting; the variant: the close at once.
        assert status == (-ResultCode.SOCKET_DOWN if early else 1000)
        data, code = read_to_error(w24, handle, 1000)
        assert len(data) == 1000 and code == ResultCode.SOCKET_DOWN


# -- the codes a peer close or an alert gives -----------------------------------------------


@pytest.mark.parametrize("code", [ResultCode.SOCKET_DOWN, ResultCode.SOCKET_NO_CARRIER])
def test_close_notify_code(device, code) -> None:
    w24 = device(f"close_notify_code={int(code)}")
    with session(w24, plan(Data(500), ending=Ending.CLOSE_NOTIFY)) as (handle, server):
        w24.start_ssl(handle)
        sent_all(server)
        assert read_to_error(w24, handle, 500)[1] == code


@pytest.mark.parametrize("code", [ResultCode.SOCKET_DOWN, ResultCode.SOCKET_NO_CARRIER])
def test_the_driver_reads_to_either_peer_close_code_quietly(device, code) -> None:
    """Spec §4.13: a peer close is -203 or -215; W24.receive ends at either with the data."""
    w24 = device(f"close_notify_code={int(code)}")
    with session(w24, plan(Data(500), ending=Ending.CLOSE_NOTIFY)) as (handle, server):
        w24.start_ssl(handle)
        sent_all(server)
        assert len(w24.receive(handle, 800, timeout=5)) == 500


@pytest.mark.parametrize("code", [ResultCode.SSL_DECODE_ERROR, ResultCode.SOCKET_DOWN])
def test_fatal_alert_code_comes_after_the_data(device, code) -> None:
    w24 = device(f"fatal_alert_code={int(code)}")
    steps = plan(Data(300), Alert(AlertLevel.FATAL, AlertDescription.INTERNAL_ERROR))
    with session(w24, steps) as (handle, server):
        w24.start_ssl(handle)
        sent_all(server)
        data, got = read_to_error(w24, handle, 300)
        assert len(data) == 300 and got == code


@pytest.mark.parametrize(
    ("variant", "delivered", "code"),
    [
        ("warning_alert=ignore", 600, None),  # passed over: all the data, the socket up
        ("warning_alert=fail", 300, ResultCode.SSL_DECODE_ERROR),
        ("warning_alert=end", 300, ResultCode.SOCKET_DOWN),  # the end, after the data before
    ],
)
def test_warning_alert_after_the_handshake(device, variant, delivered, code) -> None:
    w24 = device(variant)
    warning = Alert(AlertLevel.WARNING, AlertDescription.USER_CANCELED)
    with session(w24, plan(Data(300), warning, Data(300))) as (handle, server):
        w24.start_ssl(handle)
        sent_all(server)
        data, got = read_to_error(w24, handle, 600)
        assert (len(data), got) == (delivered, code)


# -- the ClientHello -------------------------------------------------------------------------


@pytest.mark.parametrize("items", [(), ("hello_scsv",), ("hello_reneg_ext",)])
def test_client_hello_signalling(device, items) -> None:
    w24 = device(*items)
    with session(w24) as (handle, server):
        w24.start_ssl(handle)  # every variant completes its handshake
        hello = report(server).client_hello
        assert hello is not None
        scsv = "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
        assert (scsv in hello.suites) == ("hello_scsv" in items)
        assert (0xFF01 in hello.extensions) == ("hello_reneg_ext" in items)
        assert hello.compression == [0]


# -- when the certificate is checked ---------------------------------------------------------


@pytest.mark.parametrize("late", [False, True])
def test_cert_check_at_finished_completes_the_handshake_then_refuses(device, late) -> None:
    w24 = device(*(["cert_check_at=finished"] if late else []))
    with session(w24, certs="wrong_ca") as (handle, server):
        with pytest.raises(DeviceError) as caught:
            w24.start_ssl(handle)
        assert caught.value.code == ResultCode.SSL_NEGOTIATION
        conn = report(server)
        deadline = time.monotonic() + 3
        while not conn.finished and time.monotonic() < deadline:
            time.sleep(0.01)
        # The early check stops before ClientKeyExchange; the late one sent it and Finished.
        assert conn.sent_key_exchange == late
        assert conn.handshake_ok == late
        assert conn.alert_received == "unknown_ca"


@pytest.mark.parametrize("ignored", [False, True])
def test_handshake_warning_ignored(device, ignored) -> None:
    w24 = device(*(["handshake_warning_ignored"] if ignored else []))
    with session(w24, misbehaviour=WARNING_ALERTS[1]) as (handle, _server):
        if ignored:
            w24.start_ssl(handle)
        else:
            with pytest.raises(DeviceError) as caught:
                w24.start_ssl(handle)
            assert caught.value.code == ResultCode.SSL_NEGOTIATION


@pytest.mark.parametrize("tcp_kept", [False, True])
def test_tcp_kept_after_failed_ssl(device, tcp_kept) -> None:
    w24 = device(*(["tcp_kept_after_failed_ssl"] if tcp_kept else []))
    with session(w24, certs="wrong_ca") as (handle, _server):
        with pytest.raises(DeviceError):
            w24.start_ssl(handle)
        status = w24.all_sockets()[handle]
        assert status == (-ResultCode.SOCKET_DOWN if tcp_kept else -ResultCode.SOCKET_NOT_EXIST)
        if tcp_kept:
            assert w24.close(handle) in ("DONE", "ONLINE")  # the host frees it
            assert w24.all_sockets()[handle] == -ResultCode.SOCKET_NOT_EXIST


# -- the record layer ------------------------------------------------------------------------


@pytest.mark.parametrize("ignored", [False, True])
@pytest.mark.parametrize("content_type", [24, 25, 255])
def test_unknown_record_ignored(device, ignored, content_type) -> None:
    w24 = device(*(["unknown_record_ignored"] if ignored else []))
    steps = plan(Data(200), Data(16, shape=Shape(content_type=content_type)), Data(200))
    with session(w24, steps) as (handle, server):
        w24.start_ssl(handle)
        sent_all(server)
        data, code = read_to_error(w24, handle, 400)
        # Decrypted and dropped, the data after it delivered; a type with the high bit set is
        # no SSL 3.0 / TLS 1.0 header: still refused.
        skipped = ignored and content_type < 0x80
        assert (len(data), code) == ((400, None) if skipped else (200, 224))


@pytest.mark.parametrize("checked", [False, True])
def test_record_version_checked(device, checked) -> None:
    w24 = device(*(["record_version_checked"] if checked else []))
    steps = plan(Data(200), Data(200, shape=Shape(version=(3, 0))))  # SSL 3.0 header on TLS 1.0
    with session(w24, steps) as (handle, server):
        w24.start_ssl(handle)
        sent_all(server)
        data, code = read_to_error(w24, handle, 400)
        assert (len(data), code) == ((200, 224) if checked else (400, None))


@pytest.mark.parametrize(
    ("limit", "count", "refused"), [(0, 40, False), (32, 32, False), (32, 33, True)]
)
def test_empty_record_limit(device, limit, count, refused) -> None:
    w24 = device(f"empty_record_limit={limit}")
    with session(w24, plan(Data(100), Empty(count), Data(100))) as (handle, server):
        w24.start_ssl(handle)
        sent_all(server)
        data, code = read_to_error(w24, handle, 200)
        assert (len(data), code) == ((100, 224) if refused else (200, None))


# -- the AT line: reports and error replies (raw bytes) -------------------------------------


def test_line_variants_raw(sim_start, sim_raw) -> None:
    plain = sim_raw(sim_start().url)
    assert plain.exchange(b"AT+iRP4\r").endswith(b")\r\n")
    assert plain.exchange(b"AT+iCA2?\r") == b"AT+iCA2?\r\nI/ERROR(053)\r\n"
    changed = Variants.parse(
        ["rp4_final_ok", "absent_ca_slot_code=51", "error_format=space", "echo_default=false"]
    )
    raw = sim_raw(sim_start(variants=changed).url)
    assert raw.exchange(b"AT+iRP4\r", finals=2).endswith(b")\r\nI/OK\r\n")
    assert raw.exchange(b"AT+iCA2?\r") == b"I/ERROR (051)\r\n"  # no echo, a space


@pytest.mark.parametrize("bare", [False, True])
def test_ca_too_long_bare_error(sim_start, sim_raw, bare) -> None:
    raw = sim_raw(sim_start(variants=Variants(ca_too_long_bare_error=bare)).url)
    pem = CERTS.get("ca_too_long").ca_pem
    assert pem is not None
    reply = raw.exchange(b"AT+iCA=" + pem.replace(b"\n", b"\r") + b"\r")
    assert reply.endswith(b"I/ERROR\r\n" if bare else b"I/ERROR(116)\r\n")


def test_reply_leading_crlf(sim_start, sim_raw) -> None:
    raw = sim_raw(sim_start(variants=Variants(reply_leading_crlf=True)).url)
    assert raw.exchange(b"AT+iRP0\r") == b"AT+iRP0\r\n\r\nW24-CO2144-01\r\nI/OK\r\n"
    assert raw.exchange(b"AT+iXYZ\r") == b"AT+iXYZ\r\n\r\nI/ERROR(053)\r\n"


# -- profile overrides: the simulator's profile only -----------------------------------------


def test_profile_overrides_reach_the_simulator_not_the_harness() -> None:
    variants = Variants.parse(
        [
            "unclean_close_code=215",
            "renegotiation=ignore",
            "check_validity_dates",
            "chain_building",
            "ca_requires_ca_flag=false",
            "check_issuer_key_usage",
            "ca_small_exponent=false",
            "record_limit_counts_wire",
            "record_limit_in_handshake",
            "warning_alert=fail",
        ]
    )
    sim = SimDevice(W24_PROFILE, variants=variants)
    try:
        p = sim.profile
        assert p.unclean_close_code == 215 and p.renegotiation == Renegotiation.IGNORE
        assert p.ignore_warning_alerts is False
        assert p.check_validity_dates and p.chain_building and not p.ca_requires_ca_flag
        assert p.check_issuer_key_usage
        assert not p.ca_small_exponent and p.record_limit_counts_wire
        assert p.record_limit_in_handshake
    finally:
        sim.shutdown()
    assert W24_PROFILE.unclean_close_code is None  # the harness's profile: still unknown


def test_unclean_close_code_215_through_the_device(device) -> None:
    w24 = device("unclean_close_code=215")
    with session(w24, plan(Data(500), ending=Ending.FIN)) as (handle, server):
        w24.start_ssl(handle)
        sent_all(server)
        data, code = read_to_error(w24, handle, 500)
        assert len(data) == 500 and code == ResultCode.SOCKET_NO_CARRIER


# -- naming, parsing and carrying variants ---------------------------------------------------


def test_parse_active_round_trip_and_errors() -> None:
    v = Variants.parse(["status-error-early", "close_notify_code=215", "cert_check_at=finished"])
    assert Variants.parse(v.active()) == v
    assert Variants().label() == "default"
    for bad, words in [
        ("nonsense", "unknown variant"),
        ("close_notify_code=abc", "a number expected"),
        ("hello_scsv=maybe", "true or false"),
        ("cert_check_at=never", "one of certificate, finished"),
        ("renegotiation", "needs a value"),
    ]:
        with pytest.raises(ValueError, match=words):
            Variants.parse([bad])


def test_the_spec_env_carries_variants_to_the_child() -> None:
    v = Variants.parse(["hello_scsv", "unclean_close_code=224"])
    text = encode_spec(W24_PROFILE, Faults(), v)
    assert decode_variants(text) == v
    assert json.loads(text)["profile"]["unclean_close_code"] == "unknown"  # not applied here
    assert decode_variants(json.dumps({"profile": {}, "faults": []})) == Variants()


@pytest.mark.parametrize("how", ["spec", "flag"])
def test_the_child_simulator_takes_variants(sim_raw, how) -> None:
    """As the pytest plugin starts it ($W24_SIM_SPEC) and as a user does (`--variant`)."""
    args = ["--pty"] + (["--variant", "error_format=space"] if how == "flag" else [])
    variants = Variants.parse(["error_format=space"]) if how == "spec" else None
    with SimulatorProcess(args, profile=W24_PROFILE, variants=variants) as child:
        assert sim_raw(child.url).exchange(b"AT+iXYZ\r") == b"AT+iXYZ\r\nI/ERROR (053)\r\n"


def test_every_switch_names_its_spec_section_and_values() -> None:
    assert set(SWITCHES) == set(Variants.names())
    for name, switch in SWITCHES.items():
        assert switch.spec and switch.doc, name
        assert len(switch.values) >= 2, name
        # values[0] is what the simulator does by default.
        default = getattr(Variants(), name)
        if default is not None:
            assert switch.values[0] == default, name


def test_pairwise_sample_covers_every_pair() -> None:
    space = variant_space()
    rows = all_pairs(space)
    assert uncovered_pairs(space, rows) == set()
    assert uncovered_pairs(space, rows[:-1])  # the last row was needed: the check can fail
    sample = pairwise_variants()
    assert sample[0] == Variants() and len(set(sample)) == len(sample)
    biggest = sorted(len(v) for v in space.values())[-2:]
    assert len(rows) >= biggest[0] * biggest[1]  # the lower bound of any all-pairs sample
