"""Malicious-server scenarios at the handshake level: BoGo / tlsfuzzer rows for a static-RSA
TLS 1.0 / SSL 3.0 client (../shared/notes/tls-client-test-corpus.md §2).

Every row is served by a declarative misbehaviour (w24_harness.servers.misbehaviour.library). Where
an RFC decides (RFC 2246 / RFC 6101: a message the state machine does not allow, a suite or version
the client never offered, a wrong Finished) the row is conformance with basis RFC and the code is
the later firmware's 220 for every handshake failure; each also asserts where the client stopped,
read from the server (`Evidence`). Where the RFCs and manuals are silent (warning alerts, a
Certificate message over the 2 KB record size) it is a characterization with the set of outcomes a
correct firmware may show.
"""

from __future__ import annotations

from w24_harness.at.codes import ResultCode
from w24_harness.pki.certset import CertSetName
from w24_harness.profiles.table import DeviceProfile
from w24_harness.scenarios.model import (
    ACCEPT,
    Evidence,
    Expect,
    Rule,
    Scenario,
    always,
    any_error,
    reject,
)
from w24_harness.servers.misbehaviour import library as mis
from w24_harness.tlsfacts import ProtocolVersion
from w24_harness.vocab import Action, Backend, Basis, ClientCheck, Family, Kind, Stage

SSL3, TLS1 = ProtocolVersion.SSL3, ProtocolVersion.TLS1
REJECT = reject(ResultCode.SSL_NEGOTIATION)
TOO_BIG = reject(ResultCode.SSL_RECORD_TOO_BIG)
STOPPED_EARLY = Evidence(key_exchange=False)  # rejected the server's first flight
REACHED_FINISHED = Evidence(key_exchange=True)  # got as far as the server's CCS / Finished


def _rejected(
    sid: str,
    description: str,
    m,
    *,
    evidence: Evidence | None = STOPPED_EARLY,
    checks: ClientCheck | None = None,
    versions: tuple[ProtocolVersion, ...] = (TLS1,),
) -> Scenario:
    return Scenario(
        sid,
        description,
        Family.HANDSHAKE,
        always(REJECT),
        backend=Backend.TLSLITE,
        versions=versions,
        misbehaviour=m,
        basis=Basis.RFC,
        kind=Kind.CONFORMANCE,
        evidence=evidence,
        checks=checks,
    )


def _accepted(
    sid: str,
    description: str,
    m,
    *,
    versions: tuple[ProtocolVersion, ...] = (TLS1,),
    certs: CertSetName = CertSetName.VALID,
) -> Scenario:
    # A valid handshake in an unusual shape; a small exchange proves the session works.
    return Scenario(
        sid,
        description,
        Family.HANDSHAKE,
        always(ACCEPT),
        backend=Backend.TLSLITE,
        versions=versions,
        misbehaviour=m,
        certs=certs,
        action=Action.EXCHANGE,
        send_size=64,
        recv_size=256,
        basis=Basis.RFC,
        kind=Kind.CONFORMANCE,
        evidence=Evidence(key_exchange=True),
    )


def _limit_in_handshake(p: DeviceProfile) -> Expect:
    return TOO_BIG if p.record_limit_in_handshake else ACCEPT


def _characterized(
    sid: str,
    description: str,
    rule: Rule,
    allowed: frozenset[Expect],
    *,
    m=None,
    certs: CertSetName = CertSetName.VALID,
    measures: str | None = None,
) -> Scenario:
    return Scenario(
        sid,
        description,
        Family.HANDSHAKE,
        rule,
        backend=Backend.TLSLITE,
        misbehaviour=m,
        certs=certs,
        basis=Basis.HARNESS,
        kind=Kind.CHARACTERIZATION,
        measures=measures,
        allowed=lambda _p: allowed,
    )


_SUITE_NAMES = {
    "null": "TLS_RSA_WITH_NULL_MD5 (plaintext)",
    "export": "TLS_RSA_EXPORT_WITH_RC4_40_MD5 (40-bit export)",
    "tls12": "TLS_RSA_WITH_AES_128_CBC_SHA256 (TLS 1.2 only)",
}

SCENARIOS: list[Scenario] = [
    # ServerHello: what the client never offered.
    # A client that skips the check still fails the export suite if it cannot run it (so does
    # the simulator's tlslite): only the suites it could run prove the check itself.
    *(
        _rejected(
            f"hs-unoffered-suite-{key}",
            f"ServerHello picks {name}, which the client did not offer",
            mis.UNOFFERED_SUITE[key],
            checks=None if key == "export" else ClientCheck.OFFERED_SUITE,
        )
        for key, name in _SUITE_NAMES.items()
    ),
    *(
        _rejected(
            f"hs-unoffered-version-{key.replace('.', '')}",
            f"ServerHello version {wire[0]}.{wire[1]}, above the client's TLS 1.0",
            mis.UNOFFERED_VERSION[key],
        )
        for key, wire in mis.UNOFFERED_VERSIONS.items()
    ),
    _rejected(
        "hs-unoffered-compression",
        "ServerHello picks DEFLATE compression; the client "
        "offered only null (CRIME if it complied)",
        mis.UNOFFERED_COMPRESSION,
    ),
    # ChangeCipherSpec and Finished.
    *(
        _rejected(
            f"hs-bad-finished-{v.short}",
            f"server Finished verify_data off by one, {v}",
            mis.BAD_FINISHED,
            evidence=REACHED_FINISHED,
            checks=ClientCheck.FINISHED,
            versions=(v,),
        )
        for v in (SSL3, TLS1)
    ),
    _rejected(
        "hs-skip-ccs",
        "server Finished without a ChangeCipherSpec before it",
        mis.SKIP_CCS,
        evidence=REACHED_FINISHED,
    ),
    _rejected(
        "hs-duplicate-ccs",
        "a second ChangeCipherSpec before the server's Finished",
        mis.DUPLICATE_CCS,
        evidence=REACHED_FINISHED,
        checks=ClientCheck.CCS_ORDER,
    ),
    _rejected(
        "hs-early-ccs",
        "ChangeCipherSpec right after ServerHello (CVE-2014-0224)",
        mis.EARLY_CCS,
        checks=ClientCheck.CCS_ORDER,
    ),
    _rejected(
        "hs-skip-to-finished",
        "ServerHello, ChangeCipherSpec, Finished: no Certificate, no key exchange (SKIP-TLS)",
        mis.SKIP_TO_FINISHED,
    ),
    _rejected(
        "hs-appdata-after-ccs",
        "application data between the server's ChangeCipherSpec and Finished",
        mis.APPDATA_AFTER_CCS,
        evidence=REACHED_FINISHED,
    ),
    # Certificate and key exchange.
    _rejected(
        "hs-empty-certificate", "a Certificate message with an empty list", mis.EMPTY_CERTIFICATE
    ),
    _rejected(
        "hs-no-certificate", "no Certificate message in a static-RSA handshake", mis.NO_CERTIFICATE
    ),
    _rejected(
        "hs-export-key-exchange",
        "a 512-bit RSA ServerKeyExchange in a static-RSA suite "
        "(FREAK): the client must stop before ClientKeyExchange, so no premaster is ever "
        "encrypted to the 512-bit key",
        mis.EXPORT_KEY_EXCHANGE,
        checks=ClientCheck.KEY_EXCHANGE,
    ),
    # The state machine.
    *(
        _rejected(f"hs-wrong-type-{name.replace('_', '-')}", m.description, m)
        for name, m in mis.WRONG_TYPE.items()
    ),
    *(
        _rejected(f"hs-trailing-{name.replace('_', '-')}", m.description, m)
        for name, m in mis.TRAILING_DATA.items()
    ),
    _rejected(
        "hs-duplicate-server-hello", "the ServerHello is sent twice", mis.DUPLICATED["server_hello"]
    ),
    _rejected(
        "hs-duplicate-certificate", "the Certificate is sent twice", mis.DUPLICATED["certificate"]
    ),
    # A client may answer the first ServerHelloDone before it reads the second: either way.
    _rejected(
        "hs-duplicate-server-hello-done",
        "the ServerHelloDone is sent twice",
        mis.DUPLICATED["server_hello_done"],
        evidence=None,
    ),
    _rejected(
        "hs-done-before-certificate",
        "ServerHelloDone before Certificate",
        mis.DONE_BEFORE_CERTIFICATE,
    ),
    _rejected(
        "hs-certificate-before-hello",
        "Certificate before ServerHello",
        mis.CERTIFICATE_BEFORE_HELLO,
    ),
    _rejected(
        "hs-appdata-before-hello",
        "application data before the ServerHello",
        mis.APPDATA_BEFORE_HELLO,
    ),
    *(
        _rejected(f"hs-fatal-alert-after-{name.replace('_', '-')}", m.description, m)
        for name, m in mis.FATAL_ALERT_AFTER.items()
    ),
    # Warning alerts: RFC 2246 §7.2 lets a client go on after a warning or end the session,
    # BoGo's policy caps a flood, and the simulator (like tlslite-ng) ends the handshake at the
    # first one: all correct; what fails is a hang (no answer inside the handshake timeout).
    *(
        Scenario(
            f"hs-warning-alerts-{n}",
            f"{n} warning alert(s) inside the server's flight: accepted, or refused with any "
            "code; a flood must end inside the handshake timeout",
            Family.HANDSHAKE,
            always(REJECT),  # what the simulator does, like tlslite-ng: 220 at the first
            backend=Backend.TLSLITE,
            misbehaviour=m,
            basis=Basis.RFC,
            kind=Kind.ROBUSTNESS,
            allowed=lambda _p: frozenset({ACCEPT, any_error(Stage.SSL)}),
        )
        for n, m in mis.WARNING_ALERTS.items()
    ),
    # Valid handshakes in unusual shapes (RFC 2246 §6.2.1: fragmentation and coalescing).
    *(
        _accepted(
            f"hs-one-byte-records-{v.short}",
            f"every server handshake message in 1-byte records, {v}",
            mis.ONE_BYTE_RECORDS,
            versions=(v,),
        )
        for v in (SSL3, TLS1)
    ),
    _accepted(
        "hs-packed-flight",
        "server flight in one record; CCS, Finished and the first data in one TCP segment",
        mis.PACKED_FLIGHT,
    ),
    _accepted(
        "hs-trickled-flight", "the server's handshake bytes one per TCP segment", mis.TRICKLE
    ),
    _accepted(
        "hs-cert-msg-over-2k-split",
        "a Certificate message over 2 KB (one valid leaf, padded host names) split into "
        "handshake records of at most 2048 bytes",
        mis.CERT_RECORDS_2K,
        # Not cert_over_2k: its unrelated CA breaks RFC 2246 §7.4.2 (each certificate certifies
        # the one before), which a client may refuse (wolfSSL does: ASN_NO_SIGNER_E), so a
        # refusal there would not show that the split is what the client cannot take.
        certs=CertSetName.BIG_LEAF,
    ),
    # The 2 KB record size in the handshake: the manuals say nothing (spec §11).
    _characterized(
        "hs-cert-msg-over-2k",
        "a ~2.7 KB Certificate message (leaf, root, an "
        "unrelated CA) in one record: does the 2 KB record limit apply in the "
        "handshake?",
        _limit_in_handshake,
        frozenset({ACCEPT, TOO_BIG, REJECT}),
        certs=CertSetName.CERT_OVER_2K,
        measures="record_limit_in_handshake",
    ),
    _characterized(
        "hs-huge-certificate-msg",
        "a ~50 KB Certificate message (the root repeated "
        "60 times after the leaf): refused or accepted, but no hang and no wedge",
        _limit_in_handshake,
        frozenset({ACCEPT, TOO_BIG, REJECT}),
        certs=CertSetName.HUGE_CERTIFICATE,
        measures="record_limit_in_handshake",
    ),
    # The device's own ClientHello, as the server saw it.
    Scenario(
        "hs-client-hello",
        "the device's ClientHello: no compression, no suite outside the "
        "profile (its version is recorded)",
        Family.HANDSHAKE,
        always(ACCEPT),
        backend=Backend.TLSLITE,
        basis=Basis.W24_MANUAL,
        kind=Kind.CONFORMANCE,
        evidence=Evidence(key_exchange=True, hello_in_profile=True),
    ),
]
