"""Wire invariants (w24_harness.servers.invariants): the pure checks on hand-made bytes, the
servers' checks on a real client (the simulator's) with and without the faults that break each
rule, and the device suites failing exactly the rows the two evidence-derived faults break."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import padding
from tlslite.constants import AlertDescription

from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import get_profile
from w24_harness.servers import ServerConfig, TLSServer
from w24_harness.servers.invariants import (
    ALWAYS_FATAL,
    RULES,
    SEEN,
    Seen,
    check_alert,
    check_hello,
    check_key_exchange,
    check_premaster,
    check_record,
    strict_decrypt,
)
from w24_harness.sim.faults import Faults
from w24_harness.sim.tls_engine import SecureChannel, SSLFailure
from w24_harness.tlsaccel.rsa import parse_private_key

ROOT = Path(__file__).resolve().parents[2]
W24 = get_profile("w24")


def _rules(violations) -> set[str]:
    return {v.rule for v in violations}


def _hello(
    version: bytes = b"\x03\x01",
    session_id: bytes = b"",
    suites: bytes = b"\x00\x2f\x00\x35",
    compression: bytes = b"\x00",
    tail: bytes = b"",
) -> bytes:
    return (
        version
        + bytes(32)
        + bytes([len(session_id)])
        + session_id
        + len(suites).to_bytes(2, "big")
        + suites
        + bytes([len(compression)])
        + compression
        + tail
    )


# -- the pure checks ------------------------------------------------------------------------------


def test_every_rule_cites_its_section():
    assert all("RFC" in rule.section and "§" in rule.section for rule in RULES.values())


def test_a_well_formed_hello_passes_and_each_field_rule_bites():
    assert check_hello(_hello()) == []
    assert check_hello(_hello(tail=b"\x00\x04\x00\x00\x00\x00")) == []  # one empty SNI-type ext
    assert _rules(check_hello(_hello(suites=b""))) == {"ch-suites"}
    assert _rules(check_hello(_hello(suites=b"\x00\x2f\x00"))) == {"ch-suites"}  # odd length
    assert _rules(check_hello(_hello(suites=b"\x00\x2f\x00\x2f"))) == {"ch-suites"}  # repeated
    assert _rules(check_hello(_hello(compression=b"\x01"))) == {"ch-compression"}
    assert _rules(check_hello(_hello(session_id=bytes(33)))) == {"ch-session-id"}
    assert _rules(check_hello(_hello(version=b"\x02\x00"))) == {"ch-version"}
    assert _rules(check_hello(_hello(tail=b"\x00\x09\x00"))) == {"ch-decode"}  # bad ext block
    twice = b"\x00\x08" + b"\x00\x23\x00\x00" * 2
    assert _rules(check_hello(_hello(tail=twice))) == {"ch-extensions"}
    assert _rules(check_hello(_hello()[:40])) == {"ch-decode"}  # truncated


def test_record_headers():
    assert check_record(23, (3, 0), 100, (3, 0), protected=True) == []
    assert _rules(check_record(23, (3, 1), 100, (3, 0), protected=True)) == {"rec-version"}
    # A plaintext alert refusing the ServerHello may carry the offered version ...
    assert check_record(21, (3, 1), 2, (3, 2)) == []
    # ... a ClientKeyExchange may not.
    assert _rules(check_record(22, (3, 1), 130, (3, 0))) == {"rec-version"}
    assert _rules(check_record(24, (3, 1), 10, None)) == {"rec-type"}
    assert _rules(check_record(23, (2, 0), 10, None)) == {"rec-major"}
    assert check_record(23, (3, 1), 2**14 + 2048, (3, 1), True) == []
    assert _rules(check_record(23, (3, 1), 2**14 + 2049, (3, 1), True)) == {"rec-length"}
    assert _rules(check_record(22, (3, 1), 0, None)) == {"rec-empty-hs"}


def test_key_exchange_and_premaster():
    assert check_key_exchange(b"\x00\x04abcd", (3, 1), 4) == []
    assert _rules(check_key_exchange(b"abcd", (3, 1), 4)) == {"cke-encoding"}  # no prefix in TLS
    assert check_key_exchange(b"abcd", (3, 0), 4) == []  # none in SSL 3.0
    assert _rules(check_key_exchange(b"\x00\x03abc", (3, 1), 4)) == {"cke-key-size"}
    assert check_premaster(b"\x03\x01" + bytes(46), (3, 1)) == []
    assert _rules(check_premaster(b"\x03\x00" + bytes(46), (3, 1))) == {"pms-version"}
    assert _rules(check_premaster(b"\x03\x01" + bytes(45), (3, 1))) == {"pms-decrypt"}
    assert _rules(check_premaster(None, (3, 1))) == {"pms-decrypt"}


def test_alerts():
    fatal = AlertDescription.unknown_ca
    assert fatal in ALWAYS_FATAL
    assert check_alert(bytes([2, fatal]), (3, 1)) == []
    assert _rules(check_alert(bytes([1, fatal]), (3, 1))) == {"alert-fatal-level"}
    assert check_alert(bytes([1, AlertDescription.bad_certificate]), (3, 1)) == []  # may warn
    assert _rules(check_alert(bytes([2, 100]), (3, 1))) == {"alert-fatal-level"}
    # decrypt_error is TLS only: an SSL 3.0 session must not send it (RFC 6101 §5.4).
    assert _rules(check_alert(bytes([2, 51]), (3, 0))) == {"alert-desc"}
    assert _rules(check_alert(bytes([3, 0]), (3, 1))) == {"alert-desc"}
    assert _rules(check_alert(b"\x02", (3, 1))) == {"alert-desc"}


def test_seen_registry_flags_the_second_occurrence_only():
    seen = Seen()
    assert not seen.repeated("r", b"a") and not seen.repeated("r", b"b")
    assert seen.repeated("r", b"a")
    assert not seen.repeated("other", b"a")


@pytest.fixture(scope="module")
def sets() -> CertSets:
    return CertSets(W24)


def test_strict_decrypt_refuses_a_bad_block(sets):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    cert = sets.get("valid").server
    key = parse_private_key(cert.key_pem.decode("ascii"))
    public = load_pem_private_key(cert.key_pem, None).public_key()
    secret = b"\x03\x01" + bytes(range(46))
    ciphertext = public.encrypt(secret, padding.PKCS1v15())  # type: ignore[union-attr]
    assert strict_decrypt(key, ciphertext) == secret
    assert strict_decrypt(key, bytes(len(ciphertext))) is None  # 0: no 00 02 block
    assert strict_decrypt(key, ciphertext[1:]) is None  # wrong length


# -- a real client against the servers ------------------------------------------------------------


def _session(sets: CertSets, faults: Faults, versions: tuple[str, ...], backend: str):
    """One simulator handshake (and a few bytes of data, then close) against a server; the
    server's report."""
    config = ServerConfig(
        cert=sets.get("valid").server, backend=backend, versions=versions, handshake_timeout_s=5
    )
    with TLSServer(config) as server:
        sock = socket.create_connection(server.address, timeout=5)
        ca = sets.get("valid").ca_pem
        try:
            channel = SecureChannel.handshake(sock, W24, [ca], timeout=5.0, faults=faults)
            channel.send(b"hello")
            channel.close()
        except SSLFailure:
            pass
        return server.wait_closed(timeout=5)


@pytest.mark.parametrize(
    ("fault", "versions", "backend", "rule"),
    [
        ("premaster_negotiated_version", ("SSL3.0",), "tlslite", "pms-version"),
        ("record_version_offered", ("SSL3.0",), "tlslite", "rec-version"),
    ],
)
def test_each_fault_breaks_its_rule_and_the_faithful_client_none(
    sets, fault, versions, backend, rule
):
    clean = _session(sets, Faults(), versions, backend)
    assert clean.handshake_ok and clean.violations == []
    broken = _session(sets, Faults.from_names([fault]), versions, backend)
    assert broken.handshake_ok  # the server takes it: only the invariant tells
    assert _rules(broken.violations) == {rule}
    # The same fault in a session at the offered version is invisible, and not flagged.
    assert _session(sets, Faults.from_names([fault]), ("TLS1.0",), "tlslite").violations == []


@pytest.mark.parametrize("backend", ["tlslite", "openssl"])
def test_a_reseeded_rng_repeats_the_random_across_handshakes(sets, backend):
    faults = Faults(rng_reseeded=True)
    SEEN.clear()  # forget this process's earlier handshakes (a parametrization ran one)
    first = _session(sets, faults, ("TLS1.0",), backend)
    second = _session(sets, faults, ("TLS1.0",), backend)
    assert "ch-fresh" not in _rules(first.violations)  # the first of its kind in this process
    want = {"ch-fresh", "pms-fresh"} if backend == "tlslite" else {"ch-fresh"}
    assert _rules(second.violations) == want
    assert _session(sets, Faults(), ("TLS1.0",), backend).violations == []


# -- the device suites ----------------------------------------------------------------------------


def _run_suites(pytester: pytest.Pytester, tmp_path: Path, *extra: str) -> list[dict]:
    report_dir = tmp_path / "reports"
    pytester.runpytest_subprocess(
        str(ROOT / "suites"),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "--w24-report-dir",
        str(report_dir),
        *extra,
        timeout=280,
    )
    return json.loads((report_dir / "results.json").read_text())["results"]


def _failed(results: list[dict]) -> set[str]:
    return {r["id"] for r in results if not r["passed"]}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_alerts_as_warning_fails_every_row_with_an_always_fatal_alert(pytester, tmp_path):
    results = _run_suites(
        pytester, tmp_path, "-m", "not slow and not field_interop", "--w24-sim-fault",
        "alerts_as_warning",
    )  # fmt: skip
    fatal = {AlertDescription.toStr(code) for code in ALWAYS_FATAL}
    # The rows whose tlslite server (it lists client_records) read an always-fatal alert from
    # the device: the fault changes only the level byte, so the evidence still names them.
    expected = {
        r["id"]
        for r in results
        if (r.get("server") or {}).get("client_records")
        and r["server"].get("alert_received") in fatal
    }
    assert expected and _failed(results) == expected
    assert all("alert-fatal-level" in r["detail"] for r in results if r["id"] in expected)


@pytest.mark.timeout(120)
def test_rng_reseeded_fails_every_row_after_the_first_handshake(pytester, tmp_path):
    # SSL 3.0 and TLS 1.0 rows on the tlslite backend (their servers list client_records).
    pick = "valid-ssl3 or rec-ssl3 or hs-one-byte-records"
    results = _run_suites(pytester, tmp_path, "-k", pick, "--w24-sim-fault", "rng_reseeded")
    hello = [r["id"] for r in results if "ClientHello" in (r.get("server") or {}).get(
        "client_records", [])]  # fmt: skip
    assert len(hello) >= 5
    # One process, one registry: the first handshake is fresh, every later one repeats it
    # (results.json is not in run order, so which row ran first is not asserted).
    failed = _failed(results)
    assert failed <= set(hello) and len(set(hello) - failed) == 1
    assert all("ch-fresh" in r["detail"] for r in results if r["id"] in failed)


def test_the_docs_carry_the_current_rules_table():
    from w24_harness.servers.invariants import rules_table

    assert rules_table() in (ROOT / "docs" / "invariants.md").read_text()


def test_a_plaintext_record_over_2_14_breaks_the_length_rule():
    assert _rules(check_record(22, (3, 1), 2**14 + 1, None)) == {"rec-length"}


def test_an_ssl2_format_client_hello_is_set_aside_not_flagged():
    from w24_harness.servers.invariants import ClientWire

    wire = ClientWire()
    wire.feed(0x80, (0x2E, 0x01), b"\x03\x01" + bytes(20))  # RFC 2246 App. E.1 framing
    wire.feed(0x99, (9, 9), b"misframed")
    assert wire.v2_hello and wire.violations() == []
