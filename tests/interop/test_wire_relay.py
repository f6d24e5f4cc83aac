"""The record relay (w24_harness.interop.relay): it forwards bytes unchanged and reads the record
layer right, checked against a real TLS session (tlslite-ng client, the harness's servers) and
against records built by hand where the sizes must say something exact."""

from __future__ import annotations

import socket

import pytest
from tlslite.api import HandshakeSettings, TLSConnection

from w24_harness.interop.relay import RecordRelay, Side, WireLog, plaintext_range
from w24_harness.pki import CertFactory
from w24_harness.servers import ServerConfig, TLSServer, payload
from w24_harness.tlsfacts import ContentType

pytestmark = pytest.mark.timeout(60)

AES128 = "TLS_RSA_WITH_AES_128_CBC_SHA"
RC4_SHA = "TLS_RSA_WITH_RC4_128_SHA"


@pytest.fixture(scope="module")
def leaf():
    return CertFactory().ca("wire test CA").issue("localhost", "127.0.0.1")


def _client(port: int, cipher: str, mac: str) -> TLSConnection:
    settings = HandshakeSettings()
    settings.minVersion = settings.maxVersion = (3, 1)
    settings.cipherNames, settings.macNames = [cipher], [mac]
    settings.keyExchangeNames = ["rsa"]
    settings.useExtendedMasterSecret = False
    settings.useEncryptThenMAC = False
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = TLSConnection(sock)
    conn.handshakeClientCert(settings=settings)
    return conn


@pytest.mark.parametrize(
    ("backend", "suite", "cipher", "mac"),
    [
        ("openssl", AES128, "aes128", "sha"),
        ("tlslite", RC4_SHA, "rc4", "sha"),
    ],
)
def test_relay_passes_a_session_through_and_reads_its_records(leaf, backend, suite, cipher, mac):
    config = ServerConfig(cert=leaf, backend=backend, suites=(suite,), send_on_connect=1000, seed=5)
    with (
        TLSServer(config) as server,
        RecordRelay(
            lambda: socket.create_connection(("127.0.0.1", server.port), timeout=5)
        ) as relay,
    ):
        conn = _client(relay.port, cipher, mac)
        got = b""
        while len(got) < 1000:
            got += conn.read(max=1000 - len(got))
        conn.close()
        assert relay.wait_closed(timeout=10)
    assert got == payload(1000, seed=5)  # unchanged by the relay
    wire = relay.connections[0]
    summary = wire.summary()
    assert (summary["version"], summary["cipher"]) == ("TLS1.0", suite)
    assert suite in summary["device_offered"]
    assert wire.handshake_messages(Side.SERVER)[:2] == ["server_hello", "certificate"]
    assert wire.handshake_messages(Side.DEVICE)[0] == "client_hello"
    server_data = wire.sent(Side.SERVER, ContentType.APPLICATION_DATA)
    carried = [plaintext_range(suite, r.length) for r in server_data]
    assert sum(lo for lo, _ in carried) <= 1000 <= sum(hi for _, hi in carried)
    assert summary["device_close_alert"] is True  # tlslite's close() sends close_notify


def _record(ctype: int, body: bytes) -> bytes:
    return bytes([ctype, 3, 1]) + len(body).to_bytes(2, "big") + body


def _server_hello(suite_id: int) -> bytes:
    body = b"\x03\x01" + bytes(32) + b"\x00" + suite_id.to_bytes(2, "big") + b"\x00"
    return _record(ContentType.HANDSHAKE, b"\x02" + len(body).to_bytes(3, "big") + body)


def _stream_log(*app_lengths: int) -> WireLog:
    """A server that chose RC4-SHA (MAC 20 bytes, no padding), then sent app records."""
    log = WireLog()
    data = _server_hello(0x0005) + _record(ContentType.CHANGE_CIPHER_SPEC, b"\x01")
    data += b"".join(_record(ContentType.APPLICATION_DATA, bytes(n)) for n in app_lengths)
    for i in range(0, len(data), 7):  # headers split across reads, as TCP may deliver them
        log.feed(Side.SERVER, data[i : i + 7])
    return log


def test_stream_cipher_sizes_tell_empty_fragments_from_one_byte_splits():
    assert _stream_log(20, 120).split_kind(Side.SERVER) == "empty fragments"
    assert _stream_log(21, 119).split_kind(Side.SERVER) == "1/n-1"
    assert _stream_log(120).split_kind(Side.SERVER) == "none"
    assert _stream_log(120).server_suite == RC4_SHA


def test_cbc_sizes_cannot_tell_which():
    assert plaintext_range(AES128, 32) == (0, 11)
    log = WireLog()
    log.feed(
        Side.SERVER,
        _server_hello(0x002F)
        + _record(ContentType.CHANGE_CIPHER_SPEC, b"\x01")
        + _record(ContentType.APPLICATION_DATA, bytes(32))
        + _record(ContentType.APPLICATION_DATA, bytes(1040)),
    )
    assert log.split_kind(Side.SERVER) == "empty fragments or 1/n-1"


def test_a_plaintext_alert_is_named_and_an_encrypted_one_counts_as_close_notify():
    log = WireLog()
    log.feed(Side.DEVICE, _record(ContentType.ALERT, b"\x02\x30"))
    assert log.plain_alerts(Side.DEVICE) == ["fatal unknown_ca"]
    assert not log.close_alert(Side.DEVICE)
    log.feed(
        Side.SERVER,
        _record(ContentType.CHANGE_CIPHER_SPEC, b"\x01") + _record(ContentType.ALERT, bytes(22)),
    )
    assert log.close_alert(Side.SERVER)


def test_bytes_that_are_not_tls_stop_the_parsing_with_a_reason():
    log = WireLog()
    log.feed(Side.SERVER, b"\x80\x01\x02\x03\x04\x05")
    assert log.unparsed and not log.records
    # Text once records have begun is not a preamble: it stops the parsing too.
    log = WireLog()
    log.feed(Side.SERVER, bytes([22, 3, 1, 0, 0]) + b"220 late text\r\n")
    assert log.unparsed and len(log.records) == 1


def test_plaintext_lines_before_the_first_record_are_set_apart():
    # Explicit FTPS (RFC 4217): the banner and AUTH TLS in the clear, then TLS on the connection.
    log = WireLog()
    log.feed(Side.SERVER, b"220 plain FTP banner\r\n234 Proceed\r\n")
    log.feed(Side.DEVICE, b"AUTH TLS\r\n")
    log.feed(Side.SERVER, bytes([22, 3, 1, 0, 0]))
    assert not log.unparsed and len(log.records) == 1
    assert log._dirs[Side.SERVER].plain == ["220 plain FTP banner", "234 Proceed"]
    assert log._dirs[Side.DEVICE].plain == ["AUTH TLS"]
