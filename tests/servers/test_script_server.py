"""The scriptable malicious server: its flight edits, the client evidence it records, and the
misbehaviour objects, driven by a real client (the simulator's own W24 TLS client) over TCP."""

from __future__ import annotations

import socket

import pytest
from tlslite.constants import ContentType, HandshakeType
from tlslite.messages import Message

from w24_harness.judge.evidence import server_evidence as evidence_problems
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import PROFILES, get_profile
from w24_harness.scenarios import Evidence
from w24_harness.servers import ClientHelloView, ConnectionReport, ServerConfig, TLSServer
from w24_harness.servers.misbehaviour import library as mis
from w24_harness.servers.misbehaviour.engine import certificate_message_length
from w24_harness.servers.misbehaviour.language import (
    REGISTRY,
    FlightContext,
    Misbehaviour,
    drop,
    duplicate,
    move_before,
    retyped,
    with_trailing,
)
from w24_harness.servers.misbehaviour.library import resolve
from w24_harness.sim.tls_engine import SecureChannel, SSLFailure
from w24_harness.tlsfacts import W24_SUITES

W24 = get_profile("w24")
MAX_RECORD = 2048


@pytest.fixture(scope="module")
def sets() -> CertSets:
    return CertSets(W24)


def _serve(sets: CertSets, misbehaviour: Misbehaviour | None, certs: str = "valid") -> TLSServer:
    return TLSServer(
        ServerConfig(
            cert=sets.get(certs).server,
            backend="tlslite",
            misbehaviour=misbehaviour,
            handshake_timeout_s=5.0,
        )
    )


def _device_handshake(server: TLSServer, sets: CertSets) -> SecureChannel:
    sock = socket.create_connection(server.address, timeout=5)
    ca = sets.get("valid").ca_pem
    assert ca is not None
    return SecureChannel.handshake(sock, W24, [ca], timeout=5.0)


def _raw(htype: int, body: bytes = b"") -> Message:
    return Message(
        ContentType.handshake, bytearray(bytes([htype]) + len(body).to_bytes(3, "big") + body)
    )


def _types(items) -> list[int]:
    return [int(item.write()[0]) for item in items]


SH, CERT, SHD = (
    HandshakeType.server_hello,
    HandshakeType.certificate,
    HandshakeType.server_hello_done,
)


def test_flight_edits_drop_duplicate_and_reorder():
    flight = [_raw(SH), _raw(CERT, b"\x00\x00\x00"), _raw(SHD)]
    ctx = FlightContext(conn=None)  # type: ignore[arg-type]  (these edits read no connection)
    assert _types(drop(CERT)(list(flight), ctx)) == [SH, SHD]
    assert _types(duplicate(SHD)(list(flight), ctx)) == [SH, CERT, SHD, SHD]
    assert _types(move_before(SHD, CERT)(list(flight), ctx)) == [SH, SHD, CERT]


def test_raw_rewrites_fix_the_handshake_length():
    raw = bytes(_raw(SHD).write())
    assert with_trailing(b"\x00")(raw) == bytes([SHD, 0, 0, 1, 0])
    assert retyped(13)(raw)[0] == 13 and retyped(13)(raw)[1:] == raw[1:]


def test_misbehaviour_names_are_unique_and_resolvable():
    assert resolve("bad_finished") is mis.BAD_FINISHED
    with pytest.raises(ValueError, match="two misbehaviours named"):
        REGISTRY.add(Misbehaviour("bad_finished"))
    with pytest.raises(ValueError, match="unknown misbehaviour"):
        resolve("no_such_thing")


def test_valid_handshake_evidence_shows_the_client_hello_and_key_exchange(sets):
    with _serve(sets, None) as server:
        channel = _device_handshake(server, sets)
        channel.close()
        report = server.wait_closed()
    hello = report.client_hello
    assert hello is not None
    assert hello.version == "TLS1.0" and hello.compression == [0] and hello.extensions == []
    assert hello.suites == list(W24.cipher_suites)
    assert report.client_records[:3] == ["ClientHello", "ClientKeyExchange", "ChangeCipherSpec"]
    assert report.key_exchange_bytes == report.server_key_bytes == 256  # RSA-2048 certificate
    assert evidence_problems(Evidence(key_exchange=True, hello_in_profile=True), report, W24) == []


def test_bad_finished_reaches_the_client_and_its_alert_reaches_the_report(sets):
    # Our own Finished hook, not tlslite's Fault.badFinished (whose wrapper swallows the alert).
    with _serve(sets, mis.BAD_FINISHED) as server:
        with pytest.raises(SSLFailure):
            _device_handshake(server, sets)
        report = server.wait_closed()
    assert report.misbehaved == "bad_finished" and report.sent_key_exchange
    assert report.alert_received == "decrypt_error"


def test_export_key_exchange_is_refused_before_the_client_key_exchange(sets):
    with _serve(sets, mis.EXPORT_KEY_EXCHANGE) as server:
        with pytest.raises(SSLFailure):
            _device_handshake(server, sets)
        report = server.wait_closed()
    assert "alert unexpected_message" in report.client_records
    assert not report.sent_key_exchange


def _report(**values: object) -> ConnectionReport:
    return ConnectionReport(peer=("127.0.0.1", 1), **values)  # type: ignore[arg-type]


def test_evidence_names_a_premaster_for_the_wrong_key():
    freak = _report(key_exchange_bytes=64, server_key_bytes=256)
    problems = evidence_problems(Evidence(key_exchange=False), freak, W24)
    assert any("instead of stopping" in p for p in problems)
    assert any("512-bit key, not the certificate's 2048-bit key" in p for p in problems)
    assert evidence_problems(Evidence(key_exchange=True), _report(), W24) == [
        "the client never sent ClientKeyExchange: it stopped before the check this scenario tests"
    ]


def test_evidence_checks_the_client_hello_against_the_profile():
    hello = ClientHelloView("TLS1.0", (3, 1), [*W24_SUITES, "TLS_RSA_WITH_NULL_MD5"], [1, 0], [], 0)
    problems = evidence_problems(Evidence(hello_in_profile=True), _report(client_hello=hello), W24)
    assert len(problems) == 2
    assert "TLS_RSA_WITH_NULL_MD5" in problems[0] and "CRIME" in problems[1]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_intermediate_sent_stays_inside_one_2k_record(profile):
    # intermediate-sent measures chain building only: its Certificate message fits a 2 KB
    # record, while hs-cert-msg-over-2k's does not (and still fits one 16 KB record).
    sets = CertSets(PROFILES[profile])
    assert certificate_message_length(sets.get("intermediate").server) < MAX_RECORD
    assert MAX_RECORD < certificate_message_length(sets.get("cert_over_2k").server) < 16384
    assert certificate_message_length(sets.get("huge_certificate").server) > 40000


def test_a_raw_record_of_any_type_and_version_reaches_the_client(sets):
    from w24_harness.servers.misbehaviour.language import RawRecord, insert, misbehaviour

    odd = misbehaviour(
        "test_raw_record_0x19",
        "a record of type 0x19, version 3.255, first",
        flight=(insert(0, lambda _ctx: RawRecord(0x19, b"\x00", (3, 0xFF))),),
    )
    with _serve(sets, odd) as server:
        with pytest.raises(SSLFailure):
            _device_handshake(server, sets)
        report = server.wait_closed()
    assert report.misbehaved == "test_raw_record_0x19" and not report.sent_key_exchange


@pytest.mark.parametrize("version", ["SSL3.0", "TLS1.0"])
def test_the_scripted_finish_is_a_correct_finish_when_nothing_is_corrupted(sets, version):
    # So hs-bad-finished fails on the one corrupted byte, not on the hook's own arithmetic.
    from w24_harness.servers.misbehaviour.language import DEFAULT_FINISH, misbehaviour

    plain = misbehaviour(
        f"test_plain_finish_{version}", "the scripted CCS + Finished, intact", finish=DEFAULT_FINISH
    )
    config = ServerConfig(
        cert=sets.get("valid").server,
        backend="tlslite",
        misbehaviour=plain,
        versions=(version,),
        handshake_timeout_s=5.0,
    )
    with TLSServer(config) as server:
        channel = _device_handshake(server, sets)
        assert channel.version == version
        channel.close()
        report = server.wait_closed()
    assert report.handshake_ok and report.misbehaved == plain.name
