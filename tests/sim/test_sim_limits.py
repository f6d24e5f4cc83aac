"""The simulated W24's limits and result codes (harness/sim/device.py), exactly at each limit and
on both sides, without a pty: the command bytes go through the real CommandReader into
SimDevice.handle(), whose reply bytes are compared whole. The peers are real: a local TCP
listener and a tlslite-ng TLS server with a CA of w24_harness.pki.

Fast on purpose (bench/mutation.py runs it once per mutant); the same commands through a pty
are in tests/sim/test_sim_commands.py."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from w24_harness.at.codes import ResultCode
from w24_harness.at.commands import encode, encode_ca, encode_ssnd
from w24_harness.at.reader import CommandReader
from w24_harness.pki import CertFactory
from w24_harness.pki.fit import ca_text_length
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import TLS1, DeviceProfile, get_profile
from w24_harness.servers import ServerConfig, TLSServer, payload
from w24_harness.sim.device import SimDevice
from w24_harness.sim.faults import Faults

pytestmark = pytest.mark.timeout(30)

W24 = get_profile("w24").with_changes(handshake_timeout_s=5.0, connect_timeout_s=2.0)
ICHIP = get_profile("ichip")
OK = b"I/OK\r\n"


def err(code: int) -> bytes:
    return f"I/ERROR({code:03d})\r\n".encode()


def send(device: SimDevice, wire: bytes) -> bytes:
    """Every reply the device gives to `wire` (one or more commands), in order."""
    reader = CommandReader(max_line=device.profile.max_command_line, ssnd_limit=device.ssnd_limit)
    return b"".join(device.handle(item) for item in reader.feed(wire, 0.0))


def at(device: SimDevice, body: str) -> bytes:
    return send(device, encode(body))


@pytest.fixture(scope="module")
def certs() -> CertSets:
    return CertSets(W24)


@pytest.fixture(scope="module")
def tls_ports(certs: CertSets) -> Iterator[tuple[int, int]]:
    """Two tlslite-ng servers (each takes one connection at a time)."""
    config = ServerConfig(cert=certs.get("valid").server, backend="tlslite", versions=(TLS1,))
    with TLSServer(config) as first, TLSServer(config) as second:
        yield first.port, second.port


@pytest.fixture(scope="module")
def tls_port(tls_ports: tuple[int, int]) -> int:
    return tls_ports[0]


@pytest.fixture(scope="module")
def tcp_port() -> Iterator[int]:
    """A listener that accepts and holds every connection (the backlog does the accepting)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=32)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def device() -> Iterator[SimDevice]:
    made: list[SimDevice] = []

    def make(profile: DeviceProfile = W24, faults: Faults | None = None) -> SimDevice:
        made.append(SimDevice(profile, faults=faults))
        return made[-1]

    yield make  # type: ignore[misc]
    for sim in made:
        sim.shutdown()


def pump_until(sim: SimDevice, handle: int, done: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Let the socket read what its peer sent until `done()`; False after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        sim.table.slots[handle].pump(sim.profile.rx_buffer_bytes)
        time.sleep(0.005)
    return True


def with_ca(sim: SimDevice, certs: CertSets, name: str = "valid") -> SimDevice:
    pem = certs.get(name).ca_pem
    assert pem is not None
    assert send(sim, encode_ca(pem.decode())) == OK
    return sim


# -- framing of errors, and numbers --------------------------------------------------------


def test_error_reply_follows_the_profile_format(device) -> None:
    assert device().error(ResultCode.SSL_NO_CA) == b"I/ERROR(222)\r\n"
    assert device(ICHIP).error(ResultCode.ILLEGAL_VALUE) == b"I/ERROR (042)\r\n"
    assert device().error(None) == b"I/ERROR\r\n"


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("STCP:127.0.0.1,--5", err(ResultCode.NUMBER_EXPECTED)),
        ("STCP:127.0.0.1,5a", err(ResultCode.NUMBER_EXPECTED)),
        ("STCP:127.0.0.1,", err(ResultCode.NUMBER_EXPECTED)),
        ("STCP:127.0.0.1,-5", err(ResultCode.ILLEGAL_VALUE)),  # a number, out of range
        ("SST:x", err(ResultCode.NUMBER_EXPECTED)),
        ("SST: 3 ", err(ResultCode.SOCKET_NOT_EXIST)),  # blanks around a number are fine
        ("SST=0", err(ResultCode.COLON_OR_TILDE_EXPECTED)),
        ("SST0", err(ResultCode.COLON_OR_TILDE_EXPECTED)),  # no delimiter at all
        ("SST", err(ResultCode.COLON_OR_TILDE_EXPECTED)),
        ("SSL", err(ResultCode.COLON_OR_TILDE_EXPECTED)),
        ("SRCV0", err(ResultCode.COLON_OR_TILDE_EXPECTED)),
        ("SST:-1", err(ResultCode.SOCKET_NOT_EXIST)),
    ],
)
def test_number_arguments(device, body: str, reply: bytes) -> None:
    assert at(device(), body) == reply


# -- STCP: port range, sockets, host -------------------------------------------------------


@pytest.mark.parametrize("port", [0, 65536, 70000])
def test_stcp_port_outside_1_to_65535_is_42(device, port: int) -> None:
    assert at(device(), f"STCP:127.0.0.1,{port}") == err(ResultCode.ILLEGAL_VALUE)


@pytest.mark.parametrize("port", [1, 65535])
def test_stcp_port_at_the_ends_of_the_range_is_tried(device, port: int) -> None:
    # Nothing listens there (a port below 1024 and the last one): in range, so connected to,
    # refused by TCP: 203, not 42.
    probe = socket.socket()
    try:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            pytest.skip(f"something listens on 127.0.0.1:{port}")
    finally:
        probe.close()
    assert at(device(), f"STCP:127.0.0.1,{port}") == err(ResultCode.SOCKET_DOWN)


def test_stcp_takes_an_optional_third_argument(device, tcp_port: int) -> None:
    # AT+iSTCP:<host>,<port>[,<local port>] (spec §4.1); the simulator ignores the local port.
    assert at(device(), f"STCP:127.0.0.1,{tcp_port},0") == b"I/0\r\n"


def test_stcp_gives_handles_from_0_and_204_when_all_are_used(device, tcp_port: int) -> None:
    sim = device(W24.with_changes(socket_count=2))
    assert not sim.online
    assert at(sim, f"STCP:127.0.0.1,{tcp_port}") == b"I/0\r\n"
    assert sim.online
    assert at(sim, f"STCP:127.0.0.1, {tcp_port} ") == b"I/1\r\n"
    assert at(sim, f"STCP:127.0.0.1,{tcp_port}") == err(ResultCode.NO_SOCKETS)
    assert at(sim, "SCLS:0") == b"I/OK\r\nI/ONLINE\r\n"
    assert at(sim, f"STCP:127.0.0.1,{tcp_port}") == b"I/0\r\n"  # the freed handle again


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("STCP=127.0.0.1,80", ResultCode.COLON_OR_TILDE_EXPECTED),
        ("STCP127.0.0.1,80", ResultCode.COLON_OR_TILDE_EXPECTED),
        ("STCP", ResultCode.COLON_OR_TILDE_EXPECTED),
        ("STCP:127.0.0.1", ResultCode.COMMA_EXPECTED),
        ("STCP: ,80", ResultCode.DNS_EXPECTED),
    ],
)
def test_stcp_syntax(device, body: str, code: int) -> None:
    assert at(device(), body) == err(code)


# -- AT+iCA: the size limit, exactly at it and one over; parse errors; clear; query -------


@pytest.fixture(scope="module")
def ca_pem() -> str:
    return CertFactory().ca("limits").cert_pem.decode()


@pytest.mark.parametrize(("slack", "fits"), [(0, True), (1, True), (-1, False)])
def test_ca_size_limit_is_inclusive(device, ca_pem: str, slack: int, fits: bool) -> None:
    size = ca_text_length(ca_pem)
    sim = device(W24.with_changes(ca_max_chars=size + slack, ca_too_long_code=ResultCode.PPP_ERROR))
    reply = send(sim, encode_ca(ca_pem))
    assert reply == (OK if fits else err(ResultCode.PPP_ERROR))
    assert bool(sim.nvram.get("CA")) is fits


def test_ca_that_does_not_parse_is_116_and_other_problems_too(device, ca_pem: str) -> None:
    sim = device()
    bad = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----"
    assert send(sim, encode_ca(bad)) == err(ResultCode.CA_PARSE_ERROR)
    # Fits in size, but the w24 takes no SHA-256 CA: a problem other than the size.
    sha256 = CertFactory().ca("limits-256", hash_name="sha256").cert_pem.decode()
    assert send(sim, encode_ca(sha256)) == err(ResultCode.CA_PARSE_ERROR)
    assert sim.nvram.get("CA") in (None, "")


def test_ca_set_query_clear_and_help(device, ca_pem: str) -> None:
    sim = device()
    assert at(sim, "CA=?") == b"String\r\nI/OK\r\n"
    assert at(sim, "CA?") == b"\r\nI/OK\r\n"  # empty
    assert send(sim, encode_ca(ca_pem)) == OK
    report = at(sim, "CA?")
    assert report.startswith(b"OU=limits,") and report.endswith(
        b"-----END CERTIFICATE-----\r\nI/OK\r\n"
    )
    assert at(sim, "CA:x") == err(ResultCode.ILLEGAL_DELIMITER)
    assert send(sim, b"AT+iCA=\r") == OK  # the empty value clears
    assert at(sim, "CA?") == b"\r\nI/OK\r\n"


def test_empty_value_clears_for_good_with_equals_and_for_the_session_with_tilde(
    device, ca_pem: str
) -> None:
    sim = device()
    assert send(sim, encode_ca(ca_pem)) == OK
    assert send(sim, b"AT+iCA~\r") == OK  # cleared for this session only
    assert at(sim, "CA?") == b"\r\nI/OK\r\n"
    assert "BEGIN CERTIFICATE" in sim.nvram.get("CA", "")  # the permanent value is kept
    sim._go_offline()
    assert at(sim, "CA?").startswith(b"OU=limits,")
    assert send(sim, b"AT+iCA=\r") == OK  # cleared for good
    assert not sim.nvram.get("CA")
    sim._go_offline()
    assert at(sim, "CA?") == b"\r\nI/OK\r\n"


def test_temporary_ca_is_for_this_session_only(device, ca_pem: str) -> None:
    sim = device()
    assert send(sim, encode_ca(ca_pem).replace(b"AT+iCA=", b"AT+iCA~", 1)) == OK
    assert sim.nvram.get("CA") in (None, "")
    assert at(sim, "CA?").startswith(b"OU=limits,")
    sim._go_offline()
    assert at(sim, "CA?") == b"\r\nI/OK\r\n"


# -- AT+iSSL: handle, one SSL socket, the CA, failures ------------------------------------


def test_ssl_needs_an_open_tcp_socket(device, certs: CertSets, tcp_port: int) -> None:
    sim = with_ca(device(), certs)
    assert at(sim, "SSL:0") == err(ResultCode.SSL_ILLEGAL_HANDLE)
    assert at(sim, "SSL=0") == err(ResultCode.COLON_OR_TILDE_EXPECTED)


def test_ssl_without_a_ca_is_222(device, tcp_port: int) -> None:
    sim = device()
    assert at(sim, f"STCP:127.0.0.1,{tcp_port}") == b"I/0\r\n"
    assert at(sim, "SSL:0") == err(ResultCode.SSL_NO_CA)
    assert 0 in sim.table.slots  # still open: no handshake was tried


def test_ssl_on_a_socket_that_is_down_is_221(device, certs: CertSets) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sim = with_ca(device(), certs)
    assert at(sim, f"STCP:127.0.0.1,{port}") == b"I/0\r\n"
    conn, _ = listener.accept()
    conn.close()
    listener.close()
    sock = sim.table.slots[0]
    assert pump_until(sim, 0, lambda: sock.error is not None)  # the FIN: the socket is down
    assert at(sim, "SSL:0") == err(ResultCode.SSL_ILLEGAL_HANDLE)


def test_one_ssl_socket_then_225_and_the_ssnd_limit(
    device, certs: CertSets, tls_port: int, tcp_port: int
) -> None:
    sim = with_ca(device(), certs)
    assert at(sim, f"STCP:127.0.0.1,{tls_port}") == b"I/0\r\n"
    assert at(sim, f"STCP:127.0.0.1,{tcp_port}") == b"I/1\r\n"
    assert sim.ssnd_limit(0) is None and sim.ssnd_limit(1) is None  # plain TCP: no limit
    assert sim.ssnd_limit(5) is None  # no socket
    assert at(sim, "SSL:0") == OK
    assert sim.ssnd_limit(0) == W24.max_ssnd_ssl
    assert sim.ssnd_limit(1) is None
    assert at(sim, "SSL:0") == err(ResultCode.SSL_ILLEGAL_HANDLE)  # already SSL
    assert at(sim, "SSL:1") == err(ResultCode.SSL_NO_MORE_SOCKETS)  # the limit is 1
    limit = W24.max_ssnd_ssl
    assert send(sim, encode_ssnd(0, bytes(limit))) == OK  # exactly at the limit
    assert send(sim, encode_ssnd(0, bytes(limit + 1))) == err(ResultCode.SSND_TOO_BIG)


def test_the_ssnd_limit_fault_takes_an_ssnd_over_the_limit(
    device, certs: CertSets, tls_port: int
) -> None:
    sim = with_ca(device(faults=Faults(ssnd_limit_unchecked=True)), certs)
    assert at(sim, f"STCP:127.0.0.1,{tls_port}") == b"I/0\r\n"
    assert at(sim, "SSL:0") == OK
    assert sim.ssnd_limit(0) is None
    assert send(sim, encode_ssnd(0, bytes(W24.max_ssnd_ssl + 1))) == OK


def test_a_second_ssl_socket_where_the_profile_allows_two(
    device, certs: CertSets, tls_ports: tuple[int, int], tcp_port: int
) -> None:
    sim = with_ca(device(W24.with_changes(ssl_socket_limit=2)), certs)
    for handle, port in enumerate((*tls_ports, tcp_port)):
        assert at(sim, f"STCP:127.0.0.1,{port}") == f"I/{handle}\r\n".encode()
    assert at(sim, "SSL:0") == OK
    assert at(sim, "SSL:1") == OK
    assert at(sim, "SSL:2") == err(ResultCode.SSL_NO_MORE_SOCKETS)


def test_failed_handshake_closes_the_socket_and_goes_offline(
    device, certs: CertSets, tls_port: int
) -> None:
    sim = with_ca(device(), certs, "wrong_ca")
    assert at(sim, f"STCP:127.0.0.1,{tls_port}") == b"I/0\r\n"
    assert sim.online
    assert at(sim, "SSL:0") == err(ResultCode.SSL_NEGOTIATION)
    assert 0 not in sim.table.slots
    assert not sim.online
    assert sim.table.leaked_ssl == 0
    assert at(sim, "SST:0") == err(ResultCode.SOCKET_NOT_EXIST)


def test_failed_handshake_keeps_the_others_online(
    device, certs: CertSets, tls_port: int, tcp_port: int
) -> None:
    sim = with_ca(device(), certs, "wrong_ca")
    assert at(sim, f"STCP:127.0.0.1,{tcp_port}") == b"I/0\r\n"
    assert at(sim, f"STCP:127.0.0.1,{tls_port}") == b"I/1\r\n"
    assert at(sim, "SSL:1") == err(ResultCode.SSL_NEGOTIATION)
    assert sim.online and 0 in sim.table.slots


def test_leak_fault_wedges_the_ssl_context(device, certs: CertSets, tls_port: int) -> None:
    sim = with_ca(device(faults=Faults(leak_ssl_on_failure=True)), certs, "wrong_ca")
    assert at(sim, f"STCP:127.0.0.1,{tls_port}") == b"I/0\r\n"
    assert at(sim, "SSL:0") == err(ResultCode.SSL_NEGOTIATION)
    assert sim.table.leaked_ssl == 1


def test_accept_any_cert_fault_takes_the_wrong_ca(device, certs: CertSets, tls_port: int) -> None:
    sim = with_ca(device(faults=Faults(accept_any_cert=True)), certs, "wrong_ca")
    assert at(sim, f"STCP:127.0.0.1,{tls_port}") == b"I/0\r\n"
    assert at(sim, "SSL:0") == OK


def test_ignore_empty_ca_fault_handshakes_without_a_ca(device, tls_port: int) -> None:
    sim = device(faults=Faults(ignore_empty_ca=True))
    assert at(sim, f"STCP:127.0.0.1,{tls_port}") == b"I/0\r\n"
    assert at(sim, "SSL:0") == OK


@pytest.mark.parametrize("corrupt", [False, True], ids=["intact", "corrupt_rx"])
def test_srcv_of_ssl_data_and_the_corrupt_rx_fault(device, certs: CertSets, corrupt: bool) -> None:
    """SSL data as the server sent it; the corrupt_rx fault flips bit 0 of the first byte of
    each SRCV reply of an SSL socket, and only that."""
    sent = payload(64, seed=1)  # an even byte first, an odd one at [10]
    config = ServerConfig(
        cert=certs.get("valid").server, backend="tlslite", send_on_connect=64, seed=1
    )
    sim = with_ca(device(faults=Faults(corrupt_rx=corrupt)), certs)
    with TLSServer(config) as server:
        assert at(sim, f"STCP:127.0.0.1,{server.port}") == b"I/0\r\n"
        assert at(sim, "SSL:0") == OK
        sock = sim.table.slots[0]
        assert pump_until(sim, 0, lambda: len(sock.rx) >= 64)
        first, rest = at(sim, "SRCV:0,10"), at(sim, "SRCV:0")
    flipped = bytes([sent[0] ^ 0x01]) + sent[1:10] if corrupt else sent[:10]
    assert first == b"I/10:" + flipped
    assert rest == b"I/54:" + (bytes([sent[10] ^ 0x01]) + sent[11:] if corrupt else sent[10:])
    assert sim.internal_errors == 0


# -- SRCV <max>: negative, 0, exact -------------------------------------------------------


def test_srcv_max(device, tcp_port: int) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sim = device()
    assert at(sim, f"STCP:127.0.0.1,{port}") == b"I/0\r\n"
    conn, _ = listener.accept()
    try:
        assert at(sim, "SRCV:0") == b"I/0\r\n"  # nothing yet
        conn.sendall(b"abcdef")
        sock = sim.table.slots[0]
        assert pump_until(sim, 0, lambda: len(sock.rx) == 6)
        assert at(sim, "SRCV:0,-1") == err(ResultCode.ILLEGAL_VALUE)
        assert at(sim, "SRCV:0,0") == b"I/0\r\n"
        assert at(sim, "SRCV:0,1") == b"I/1:a"
        assert at(sim, "SRCV:0,2") == b"I/2:bc"
        assert at(sim, "SRCV:0,x") == err(ResultCode.NUMBER_EXPECTED)
        assert at(sim, "SRCV:0,10") == b"I/3:def"
    finally:
        conn.close()
        listener.close()


# -- BDRF ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["3", "9", "a", "h"])
def test_bdrf_values(device, value: str) -> None:
    sim = device()
    assert at(sim, "BDRF?") == b"a\r\nI/OK\r\n"  # the default
    assert at(sim, f"BDRF= {value}") == OK
    assert at(sim, "BDRF?") == f"{value}\r\nI/OK\r\n".encode()


@pytest.mark.parametrize(
    "body", ["BDRF=2", "BDRF=10", "BDRF=b", "BDRF:5", "BDRF~5", "BDRF5", "BDRF="]
)
def test_bdrf_refuses_other_values_with_42(device, body: str) -> None:
    sim = device()
    assert at(sim, body) == err(ResultCode.ILLEGAL_VALUE)
    assert at(sim, "BDRF?") == b"a\r\nI/OK\r\n"


def test_bdrf_help(device) -> None:
    assert at(device(), "BDRF=?") == b"3-9, 'a' or 'h'\r\nI/OK\r\n"
