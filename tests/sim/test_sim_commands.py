"""Every command of the simulated W24 (harness/sim/device.py), with its error paths and codes,
through a real pty: raw pyserial where the exact bytes matter, the driver elsewhere."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from w24_harness.at.codes import DeviceError
from w24_harness.at.commands import encode_ca
from w24_harness.device.w24 import W24
from w24_harness.pki import CertFactory
from w24_harness.sim.faults import Faults
from w24_harness.sim.server import Simulator, SimulatorConfig

pytestmark = pytest.mark.timeout(30)

BAD_PEM = "-----BEGIN CERTIFICATE-----\rbm90IGEgY2VydGlmaWNhdGU=\r-----END CERTIFICATE-----\r"


@pytest.fixture
def raw(sim_start: Callable[..., Simulator], sim_raw) -> object:
    """Raw pyserial on a fresh w24 simulator (echo on, the default)."""
    return sim_raw(sim_start().url)


@pytest.fixture(scope="module")
def long_ca_pem() -> bytes:
    """A real CA of 1411 characters: over the w24's 1300, within the ichip's 1500."""
    return CertFactory().ca("x" * 100).cert_pem


def ask(raw, command: bytes, finals: int = 1) -> bytes:
    return raw.exchange(command + b"\r", finals)


def code_of(device: W24, body: str, **kwargs: object) -> int | None:
    with pytest.raises(DeviceError) as caught:
        device.execute(body, **kwargs)  # type: ignore[arg-type]
    return caught.value.code


# -- AT+i and reports ----------------------------------------------------------------------


def test_ping_and_identity_exact_bytes(raw) -> None:
    assert ask(raw, b"AT+i") == b"AT+i\r\nI/OK\r\n"
    assert ask(raw, b"AT+iRP0") == b"AT+iRP0\r\nW24-CO2144-01\r\nI/OK\r\n"
    assert ask(raw, b"AT+iRP1") == b"AT+iRP1\r\nI2144W24T01 (MAY 31 2008)\r\nI/OK\r\n"
    # Case does not matter (spec §2.1); the echo is the line as typed.
    assert ask(raw, b"at+irp0") == b"at+irp0\r\nW24-CO2144-01\r\nI/OK\r\n"


def test_rp2_follows_the_connection(sim_w24: W24, sim_echo_port: int) -> None:
    assert sim_w24.report(2) == ("Command mode",)
    handle = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    assert sim_w24.report(2) == ("Connected",)
    sim_w24.close(handle)
    assert sim_w24.report(2) == ("Command mode",)


def test_rp4_and_rp8(raw) -> None:
    assert ask(raw, b"AT+iRP4") == b"AT+iRP4\r\nI/(" + b",".join([b"-200"] * 10) + b")\r\n"
    reply = ask(raw, b"AT+iRP8").split(b"\r\n")
    assert reply[0] == b"AT+iRP8" and reply[2] == b"I/OK"
    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", reply[1])
    stamp = datetime.fromisoformat(reply[1].decode())
    assert abs((stamp - datetime.now(UTC)).total_seconds()) < 60


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (b"AT+iRP3", 42),
        (b"AT+iRP42", 42),
        (b"AT+iRP-1", 42),
        (b"AT+iRP", 44),
        (b"AT+iRPx", 53),
        (b"AT+iRP--5", 44),
        (b"AT+iFOO", 53),
        (b"AT+i?", 53),
    ],
)
def test_report_and_command_errors(raw, command: bytes, code: int) -> None:
    assert ask(raw, command) == command + b"\r\n" + f"I/ERROR({code:03d})\r\n".encode()


def test_error_format_follows_the_profile(sim_start, sim_raw) -> None:
    ichip = sim_raw(sim_start("ichip").url)
    assert ask(ichip, b"AT+iFOO") == b"AT+iFOO\r\nI/ERROR (053)\r\n"
    assert ask(ichip, b"AT+iRP0") == b"AT+iRP0\r\nCO2144AD-01\r\nI/OK\r\n"


# -- the CA parameter ----------------------------------------------------------------------


def test_ca_help_query_set_and_clear_raw(raw, sim_ca_pem: bytes) -> None:
    assert ask(raw, b"AT+iCA=?") == b"AT+iCA=?\r\nString\r\nI/OK\r\n"
    assert ask(raw, b"AT+iCA?") == b"AT+iCA?\r\n\r\nI/OK\r\n"
    assert raw.exchange(encode_ca(sim_ca_pem.decode())).endswith(b"\r\nI/OK\r\n")
    lines = ask(raw, b"AT+iCA?").split(b"\r\n")
    cert = x509.load_pem_x509_certificate(sim_ca_pem)
    # The CA name: its CN, or the whole subject when it has none (factory CAs have an OU).
    assert lines[1].decode() == cert.subject.rfc4514_string()
    assert re.fullmatch(rb"2000-01-01 \d\d:\d\d:\d\d - 2049-12-31 23:59:59", lines[2])
    assert b"\n".join(lines[3:-2]) + b"\n" == sim_ca_pem
    assert lines[-2:] == [b"I/OK", b""]
    assert raw.exchange(encode_ca("")) == b"AT+iCA=\r\nI/OK\r\n"
    assert ask(raw, b"AT+iCA?") == b"AT+iCA?\r\n\r\nI/OK\r\n"


@pytest.mark.parametrize(
    "wire",
    [BAD_PEM.encode(), b"AT+iCA=not a certificate\r"],
    ids=["bad-base64-block", "one-line"],
)
def test_ca_that_does_not_parse_is_116(sim_w24: W24, sim_ca_pem: bytes, wire: bytes) -> None:
    sim_w24.set_ca(sim_ca_pem)
    if wire.startswith(b"-----"):
        wire = b"AT+iCA=" + wire
    assert code_of(sim_w24, "CA=", wire=wire) == 116
    assert sim_w24.get_ca().pem == sim_ca_pem.decode()


def test_the_ca_unchecked_fault_stores_any_value_within_the_length_limit(
    sim_start: Callable[..., Simulator],
    sim_open: Callable[..., W24],
    sim_ca_pem: bytes,
    long_ca_pem: bytes,
) -> None:
    w24 = sim_open(sim_start(faults=Faults(ca_unchecked=True)).url)
    w24.execute("CA=", wire=b"AT+iCA=" + BAD_PEM.encode())  # I/OK: no DeviceError
    assert w24.get_ca().pem.split() == BAD_PEM.split()  # echoed as stored
    w24.set_ca(sim_ca_pem)
    code = code_of(w24, "CA=", wire=encode_ca(long_ca_pem.decode()))
    assert code == w24.profile.resolved().ca_too_long_code  # the length is still checked
    assert w24.get_ca().pem == sim_ca_pem.decode()


def test_the_v1_ca_fault_refuses_a_v1_ca_only(
    sim_start: Callable[..., Simulator], sim_open: Callable[..., W24], sim_ca_pem: bytes
) -> None:
    from w24_harness.pki.sets import CertSets

    v1 = CertSets(sim_open(sim_start().url).profile).get("v1_ca").ca_pem
    assert v1 is not None
    w24 = sim_open(sim_start(faults=Faults(v1_ca_refused=True)).url)
    assert code_of(w24, "CA=", wire=encode_ca(v1.decode())) == 116
    w24.set_ca(sim_ca_pem)  # a v3 CA still loads
    assert w24.get_ca().pem == sim_ca_pem.decode()


def test_ca_that_is_not_a_ca_is_116(sim_w24: W24, sim_ca_pem: bytes) -> None:
    leaf = CertFactory().ca("x").issue("localhost").cert_pem
    assert code_of(sim_w24, "CA=", wire=encode_ca(leaf.decode())) == 116


def test_ca_over_the_limit_is_refused_and_the_old_one_kept(
    sim_w24: W24, sim_ca_pem: bytes, long_ca_pem: bytes
) -> None:
    sim_w24.set_ca(sim_ca_pem)
    code = code_of(sim_w24, "CA=", wire=encode_ca(long_ca_pem.decode()))
    assert code == sim_w24.profile.resolved().ca_too_long_code == 116
    assert sim_w24.get_ca().pem == sim_ca_pem.decode()


def test_extra_ca_slots_on_ichip_only(
    sim_start, sim_open, sim_ca_pem: bytes, sim_other_ca_pem: bytes, long_ca_pem: bytes
) -> None:
    ichip = sim_open(sim_start("ichip").url, profile="ichip")
    ichip.set_ca(sim_ca_pem, "CA2")
    ichip.set_ca(long_ca_pem, "CA3")  # fits the ichip's 1500 characters
    ichip.set_ca(sim_other_ca_pem, "CA4")
    assert ichip.get_ca("CA").empty
    assert ichip.get_ca("CA2").pem == sim_ca_pem.decode()
    assert ichip.get_ca("CA3").pem == long_ca_pem.decode()
    assert ichip.get_ca("CA4").pem == sim_other_ca_pem.decode()
    assert ichip.execute("CA3=?").text == ("String",)
    ichip.clear_ca("CA2")
    assert ichip.get_ca("CA2").empty

    w24 = sim_open(sim_start("w24").url)
    for slot in ("CA2", "CA3", "CA4"):
        assert code_of(w24, f"{slot}?") == 53
        assert code_of(w24, f"{slot}=", wire=encode_ca(sim_ca_pem.decode(), slot)) == 53
    w24.ping()  # the refused multi-line value left the line clean


# -- sockets -------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return listener.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ("127.0.0.1,{closed}", 203),
        ("127.0.0.1,70000", 42),
        ("127.0.0.1,0", 42),
        ("127.0.0.1,http", 44),
        ("127.0.0.1", 52),
    ],
    ids=["closed-port", "port-too-big", "port-zero", "port-not-a-number", "missing-comma"],
)
def test_stcp_errors(sim_w24: W24, args: str, code: int) -> None:
    body = "STCP:" + args.format(closed=_closed_port())
    assert code_of(sim_w24, body) == code
    assert sim_w24.all_sockets() == (-200,) * 10


def test_stcp_without_colon_is_47(sim_w24: W24) -> None:
    assert code_of(sim_w24, "STCP127.0.0.1,80") == 47


def test_all_ten_sockets_used_gives_204(sim_w24: W24, sim_echo_port: int) -> None:
    handles = [sim_w24.open_tcp("127.0.0.1", sim_echo_port) for _ in range(10)]
    assert handles == list(range(10))
    assert code_of(sim_w24, f"STCP:127.0.0.1,{sim_echo_port}") == 204
    assert sim_w24.close(3) == "ONLINE"
    assert sim_w24.open_tcp("127.0.0.1", sim_echo_port) == 3  # the lowest free handle


@pytest.mark.parametrize(
    "wire",
    [
        b"AT+iSSND%:5,3:abc",
        b"AT+iSRCV:5\r",
        b"AT+iSRCV:5,10\r",
        b"AT+iSST:5\r",
        b"AT+iSCS:5\r",
        b"AT+iSCLS:5\r",
        b"AT+i!SCLS:5\r",
    ],
)
def test_commands_on_a_free_handle_give_200(raw, wire: bytes) -> None:
    reply = raw.exchange(wire)
    assert reply.endswith(b"I/ERROR(200)\r\n")
    assert b"I/OK" not in reply  # SCLS on a free handle has no second reply


@pytest.mark.parametrize(
    ("wire", "code"),
    [(b"AT+iSST:x\r", 44), (b"AT+iSCS\r", 47), (b"AT+iSSL:5\r", 221), (b"AT+iSSND:5\r", 52)],
)
def test_socket_command_syntax_errors(raw, wire: bytes, code: int) -> None:
    assert raw.exchange(wire).endswith(f"I/ERROR({code:03d})\r\n".encode())


def test_ssl_without_a_ca_is_222(sim_w24: W24, sim_echo_port: int) -> None:
    handle = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    assert code_of(sim_w24, f"SSL:{handle}") == 222
    assert sim_w24.connection_status(handle) == 0  # the TCP socket is still there


def test_srcv_with_max(sim_w24: W24, sim_echo_port: int) -> None:
    handle = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    sim_w24.send(handle, b"0123456789")
    deadline = time.monotonic() + 3
    while sim_w24.socket_status(handle) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim_w24.receive_once(handle, 4) == b"0123"
    assert sim_w24.socket_status(handle) == 6
    assert sim_w24.receive_once(handle, 0) == b""
    assert code_of(sim_w24, f"SRCV:{handle},-1") == 42
    assert code_of(sim_w24, f"SRCV:{handle},lots") == 44
    assert sim_w24.receive_once(handle, 100) == b"456789"
    assert sim_w24.receive_once(handle) == b""


def test_srcv_raw_framing(sim_start, sim_raw, sim_echo_port: int) -> None:
    raw = sim_raw(sim_start(echo=False).url)
    assert ask(raw, f"AT+iSTCP:127.0.0.1,{sim_echo_port}".encode()) == b"I/0\r\n"
    assert raw.exchange(b"AT+iSSND%:0,4:\r\n\r\n") == b"I/OK\r\n"
    raw.wait_buffered(0, 4)
    # Exactly the count, then the raw bytes and nothing after them (parse by count, §4.7).
    assert ask(raw, b"AT+iSRCV:0,3") == b"I/3:\r\n\r"
    assert ask(raw, b"AT+iSRCV:0") == b"I/1:\n"
    assert ask(raw, b"AT+iSRCV:0") == b"I/0\r\n"


def test_ssnd_header_is_echoed_before_its_payload_ends(raw, sim_echo_port: int) -> None:
    # Echo on: the header comes back while the payload is still arriving, as a UART module
    # echoes what it receives; the reply follows the last payload byte.
    assert ask(raw, f"AT+iSTCP:127.0.0.1,{sim_echo_port}".encode()).endswith(b"I/0\r\n")
    raw.write(b"AT+iSSND%:0,6:abc")
    deadline = time.monotonic() + 5
    seen = b""
    while b"AT+iSSND%:0,6:\r\n" not in seen and time.monotonic() < deadline:
        seen += raw.read_some()
    assert seen == b"AT+iSSND%:0,6:\r\n"  # the echo, and no reply yet
    assert raw.exchange(b"def") == b"I/OK\r\n"


def test_ssnd_on_plain_tcp_has_no_2048_limit(sim_w24: W24, sim_echo_port: int) -> None:
    data = bytes(range(256)) * 20  # 5120 bytes in one SSND
    handle = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    sim_w24.send_raw(handle, data)
    assert sim_w24.receive(handle, len(data), timeout=3) == data


def test_scls_second_replies_raw(raw, sim_echo_port: int) -> None:
    stcp = f"AT+iSTCP:127.0.0.1,{sim_echo_port}".encode()
    assert ask(raw, stcp).endswith(b"I/0\r\n")
    assert ask(raw, stcp).endswith(b"I/1\r\n")
    assert ask(raw, b"AT+iSCLS:0", 2) == b"AT+iSCLS:0\r\nI/OK\r\nI/ONLINE\r\n"
    assert ask(raw, b"AT+i!SCLS:1", 2) == b"AT+i!SCLS:1\r\nI/OK\r\nI/ONLINE\r\n"
    assert ask(raw, stcp).endswith(b"I/0\r\n")
    assert ask(raw, b"AT+iscls:0", 2) == b"AT+iscls:0\r\nI/OK\r\nI/DONE\r\n"


def test_down_second_reply(raw, sim_echo_port: int) -> None:
    assert ask(raw, b"AT+iDOWN", 2) == b"AT+iDOWN\r\nI/OK\r\nI/ONLINE\r\n"
    ask(raw, f"AT+iSTCP:127.0.0.1,{sim_echo_port}".encode())
    assert ask(raw, b"AT+iDOWN", 2) == b"AT+iDOWN\r\nI/OK\r\nI/ERROR\r\n"
    assert ask(raw, b"AT+iSST:0") == b"AT+iSST:0\r\nI/ERROR(200)\r\n"


# -- BDRF and ECHO -------------------------------------------------------------------------


def test_bdrf(raw) -> None:
    assert ask(raw, b"AT+iBDRF?") == b"AT+iBDRF?\r\na\r\nI/OK\r\n"
    assert ask(raw, b"AT+iBDRF=?") == b"AT+iBDRF=?\r\n3-9, 'a' or 'h'\r\nI/OK\r\n"
    assert ask(raw, b"AT+iBDRF=9") == b"AT+iBDRF=9\r\nI/OK\r\n"
    assert ask(raw, b"AT+iBDRF?") == b"AT+iBDRF?\r\n9\r\nI/OK\r\n"
    for bad in (b"2", b"x", b"10", b""):
        assert ask(raw, b"AT+iBDRF=" + bad).endswith(b"I/ERROR(042)\r\n")
    assert ask(raw, b"AT+iBDRF=h").endswith(b"I/OK\r\n")
    assert ask(raw, b"AT+iBDRF?") == b"AT+iBDRF?\r\nh\r\nI/OK\r\n"


def test_echo_off_and_down_restores_it(raw) -> None:
    assert ask(raw, b"AT+iECHO?") == b"AT+iECHO?\r\n1\r\nI/OK\r\n"
    assert ask(raw, b"AT+iECHO=0") == b"AT+iECHO=0\r\nI/OK\r\n"  # echoed before it ran
    assert ask(raw, b"AT+iRP0") == b"W24-CO2144-01\r\nI/OK\r\n"
    assert ask(raw, b"AT+iECHO?") == b"0\r\nI/OK\r\n"
    assert ask(raw, b"AT+iECHO=2") == b"I/ERROR(042)\r\n"
    assert raw.exchange(b"garbage\r") == b"I/ERROR(051)\r\n"
    assert ask(raw, b"AT+iDOWN", 2) == b"I/OK\r\nI/ONLINE\r\n"
    assert ask(raw, b"AT+iRP0") == b"AT+iRP0\r\nW24-CO2144-01\r\nI/OK\r\n"


def test_no_echo_option_starts_and_stays_without_echo(sim_start, sim_raw) -> None:
    raw = sim_raw(sim_start(echo=False).url)
    assert ask(raw, b"AT+iRP0") == b"W24-CO2144-01\r\nI/OK\r\n"
    assert ask(raw, b"AT+iDOWN", 2) == b"I/OK\r\nI/ONLINE\r\n"
    assert ask(raw, b"AT+i") == b"I/OK\r\n"
    assert ask(raw, b"AT+iECHO=1") == b"I/OK\r\n"
    assert ask(raw, b"AT+i") == b"AT+i\r\nI/OK\r\n"


def test_driver_works_with_echo_off(sim_w24: W24, sim_echo_port: int) -> None:
    sim_w24.set_echo(False)
    handle = sim_w24.open_tcp("127.0.0.1", sim_echo_port)
    sim_w24.send(handle, b"AT+iSSND%:0,4:I/OK\r\n")
    assert sim_w24.receive(handle, 20, timeout=3) == b"AT+iSSND%:0,4:I/OK\r\n"
    assert sim_w24.close(handle) == "DONE"


# -- nonvolatile parameters ----------------------------------------------------------------


def _set_nv(device: W24, pem: bytes) -> None:
    device.set_ca(pem)
    device.execute("BDRF=7")


def _nv(device: W24) -> tuple[str, tuple[str, ...]]:
    return device.get_ca().pem, device.execute("BDRF?").text


def test_ca_and_bdrf_survive_down(sim_w24: W24, sim_ca_pem: bytes) -> None:
    _set_nv(sim_w24, sim_ca_pem)
    sim_w24.reset()
    assert _nv(sim_w24) == (sim_ca_pem.decode(), ("7",))


def test_nv_survives_a_restart_only_with_a_state_file(
    sim_start, sim_open, sim_ca_pem: bytes, tmp_path: Path
) -> None:
    state = tmp_path / "w24-state.json"
    first = sim_start(state=state)
    _set_nv(sim_open(first.url), sim_ca_pem)
    first.stop()
    again = sim_open(sim_start(state=state).url)
    assert _nv(again) == (sim_ca_pem.decode(), ("7",))

    stateless = sim_start()
    _set_nv(sim_open(stateless.url), sim_ca_pem)
    stateless.stop()
    fresh = sim_open(sim_start().url)
    assert _nv(fresh) == ("", ("a",))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not a simulator state"),
        ('["CA"]', "JSON object of strings"),
        ('{"CA": 5}', "JSON object of strings"),
    ],
)
def test_corrupt_state_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    with pytest.raises(ValueError, match=message) as caught:
        Simulator(SimulatorConfig(state=state))
    assert str(state) in str(caught.value)


def test_rp4_with_a_final_ok_when_the_profile_says_so(sim_start, sim_open):
    from w24_harness.profiles.table import get_profile

    profile = get_profile("w24").with_changes(rp4_final_ok=True)
    sim = sim_start(profile)
    device = sim_open(sim.url, profile)
    assert device.all_sockets() == (-200,) * 10
    device.ping()  # the trailing I/OK was consumed, not left for the next command


def test_temporary_ca_lasts_one_session(
    sim_w24, sim_ca_pem, sim_other_ca_pem, sim_peer, sim_serves
):
    sim_w24.set_ca(sim_ca_pem)
    temporary = sim_other_ca_pem.decode().strip()
    sim_w24.execute("CA~", wire=b"AT+iCA~" + temporary.replace("\n", "\r").encode() + b"\r")
    assert sim_w24.get_ca().pem.strip() == temporary
    peer = sim_peer(sim_serves.echo)
    handle = sim_w24.open_tcp("127.0.0.1", peer.port)
    assert sim_w24.close(handle) == "DONE"  # the session ends: the permanent CA is back
    assert sim_w24.get_ca().pem.strip() == sim_ca_pem.decode().strip()


def test_stcp_without_a_host_is_refused(sim_w24):
    from w24_harness.at.codes import DeviceError

    with pytest.raises(DeviceError) as err:
        sim_w24.execute("STCP:,80")
    assert err.value.code == 46
