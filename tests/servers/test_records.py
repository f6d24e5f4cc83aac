"""The record plans of w24_harness.servers.misbehaviour.records make the records they name: a stock
tlslite-ng
client (not the simulator) reads the well-formed ones, and refuses the broken ones with the
alert RFC 2246 prescribes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import trustme
from tlslite.constants import AlertDescription
from tlslite.errors import TLSAbruptCloseError, TLSLocalAlert
from tlslite_client import TlsliteClient

from w24_harness.servers import ServerConfig, StaticCert, TLSServer, payload
from w24_harness.servers.misbehaviour.records import (
    Data,
    Empty,
    Ending,
    HelloRequest,
    RecordPlan,
    SegmentingSocket,
    Segments,
    Shape,
)
from w24_harness.tlsfacts import ProtocolVersion

AES128 = "TLS_RSA_WITH_AES_128_CBC_SHA"
DES3 = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
SEED = 7


@pytest.fixture(scope="module")
def leaf() -> StaticCert:
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    cert = ca.issue_cert("127.0.0.1", key_type=trustme.KeyType.RSA)
    return StaticCert(cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes(), b"")


@pytest.fixture
def serve(leaf: StaticCert) -> Iterator:
    servers: list[TLSServer] = []

    def start(plan: RecordPlan, suite: str = AES128, version=ProtocolVersion.TLS1) -> TLSServer:
        server = TLSServer(
            ServerConfig(
                cert=leaf,
                backend="tlslite",
                suites=(suite,),
                versions=(version,),
                records=plan,
                seed=SEED,
                idle_timeout_s=5.0,
            )
        )
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_well_formed_shapes_are_read_in_full(serve) -> None:
    plan = RecordPlan(
        "shapes",
        (
            Data(108, shape=Shape(pad_length=255)),  # 108 + 20 MAC: 255 bytes of padding align
            Empty(3),
            Data(50, split_1n1=True),
            HelloRequest(),
            Data(40, record_size=20, empty_before=1),
        ),
    )
    server = serve(plan)
    client = TlsliteClient(server).handshake()
    assert client.read_exactly(plan.data_bytes) == payload(plan.data_bytes, SEED)
    client.drop()
    assert client.app_records_in == [108, 0, 0, 0, 1, 49, 0, 20, 0, 20]
    report = server.wait_closed()
    assert report.records_plan == "shapes" and report.bytes_out == 198


@pytest.mark.parametrize(
    "shape", [Shape(bad_padding_byte=True), Shape(bad_mac=True)], ids=["bad-padding", "bad-mac"]
)
@pytest.mark.parametrize("suite", [AES128, DES3])
def test_broken_tls1_record_is_refused_after_the_good_one(serve, shape: Shape, suite: str) -> None:
    server = serve(RecordPlan("broken", (Data(100), Data(100, shape=shape))), suite)
    client = TlsliteClient(server, suite=suite).handshake()
    assert client.read_exactly(100) == payload(100, SEED)
    with pytest.raises(TLSLocalAlert) as exc:
        client.conn.read()
    client.drop()
    assert exc.value.description == AlertDescription.bad_record_mac


def test_ssl3_zero_filled_padding_is_valid(serve) -> None:
    plan = RecordPlan("zero", (Data(500, shape=Shape(pad_fill=0)),))
    server = serve(plan, version=ProtocolVersion.SSL3)
    client = TlsliteClient(server, ProtocolVersion.SSL3).handshake()
    assert client.read_exactly(500) == payload(500, SEED)
    client.drop()


def test_misaligned_padding_is_refused_by_the_server(serve) -> None:
    server = serve(RecordPlan("misaligned", (Data(100, shape=Shape(pad_length=3)),)))
    client = TlsliteClient(server).handshake()
    report = server.wait_closed()
    client.drop()
    assert report.records_plan is None
    assert "does not align" in (report.error or "")


@pytest.mark.parametrize(
    "ending, error",
    [
        (Ending.CLOSE_NOTIFY, None),
        (Ending.FIN, TLSAbruptCloseError),
        (Ending.RESET, (TLSAbruptCloseError, ConnectionResetError)),
    ],
    ids=["close_notify", "fin", "rst"],
)
def test_endings_follow_the_data(serve, ending: Ending, error) -> None:
    server = serve(RecordPlan("end", (Data(300),), ending=ending))
    client = TlsliteClient(server).handshake()
    assert client.read_exactly(300) == payload(300, SEED)
    if error is None:
        assert client.conn.read() == b""  # close_notify: an orderly end
        assert client.conn.closed
    else:
        with pytest.raises(error):
            client.conn.read()
    client.drop()


def test_with_finished_holds_from_change_cipher_spec_until_flush() -> None:
    a, b = socket.socketpair()
    with a, b:
        out = SegmentingSocket(a, Segments.WITH_FINISHED)
        out.sendall(b"\x16flight")  # a handshake flight goes out at once
        assert b.recv(100) == b"\x16flight"
        out.sendall(b"\x14ccs+finished")  # from ChangeCipherSpec on, held ...
        out.sendall(b"\x17data")
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            b.recv(100)
        out.flush()  # ... and sent in one write with the first data
        b.setblocking(True)
        assert b.recv(100) == b"\x14ccs+finished\x17data"
