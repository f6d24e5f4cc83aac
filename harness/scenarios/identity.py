"""Certificate-identity scenarios: does the device trust the right certificate, for the right
reason? (Certificate sets: w24_harness.pki.identity.)

The W24 manual documents one check, "signed by the trusted CA" (spec §5.1): the leaf's signature
must verify with the loaded CA's key. So an impostor CA of the same name, a broken signature and
forged PKCS#1 v1.5 signatures are conformance rows, whatever the device's code for them (220 in
the later firmware's table). What a server commonly sends (leaf + root), the manual's own v1 CA
style and the seed's self-signed FTP-server certificate loaded as the CA must be accepted.
basicConstraints, keyUsage and unknown critical extensions are checks no manual mentions: those
rows are characterizations of a named profile field, with the outcomes a correct firmware may
show.

`FAULT_DEPENDENCIES` is the catalogue's record of which scenarios depend on which check, by the
simulator self-test fault that breaks the check (tests/suites/test_suites_catch_faults.py reads it).
"""

from __future__ import annotations

from w24_harness.at.codes import ResultCode
from w24_harness.pki.certset import CertSetName
from w24_harness.profiles.table import DeviceProfile
from w24_harness.scenarios.model import (
    ACCEPT,
    Expect,
    Rule,
    Scenario,
    accept_unless,
    always,
    reject,
)
from w24_harness.vocab import Backend, Basis, Family, Kind, Stage

NEGOTIATION = reject(ResultCode.SSL_NEGOTIATION)
CA_REFUSED = reject(ResultCode.CA_PARSE_ERROR, Stage.CA)


def _under_e3_ca(p: DeviceProfile) -> Expect:
    # A firmware that refuses e=3 CAs at AT+iCA= never meets the forged leaf: 116 at the CA.
    return NEGOTIATION if p.ca_small_exponent else CA_REFUSED


def _e3_ca_loads(p: DeviceProfile) -> Expect:
    return ACCEPT if p.ca_small_exponent else CA_REFUSED


def _issuer_not_ca(p: DeviceProfile) -> Expect:
    return CA_REFUSED if p.ca_requires_ca_flag else ACCEPT


def _allowed(*outcomes: Expect):
    return lambda _p: frozenset(outcomes)


def _signature(id: str, description: str, certs: CertSetName, rule: Rule | None = None) -> Scenario:
    return Scenario(
        id,
        description,
        Family.IDENTITY,
        rule or always(NEGOTIATION),
        certs=certs,
        basis=Basis.W24_MANUAL,
        kind=Kind.CONFORMANCE,
    )


def _forgery(id: str, description: str, certs: CertSetName) -> Scenario:
    # A conformance row whatever the profile: the forged leaf is never accepted. Where the
    # profile does not say whether AT+iCA= takes the e=3 CA (ca_small_exponent unknown), both
    # refusals pass: 116 at the CA, or 220 at the handshake.
    return Scenario(
        id,
        description,
        Family.IDENTITY,
        _under_e3_ca,
        certs=certs,
        basis=Basis.W24_MANUAL,
        kind=Kind.CONFORMANCE,
        measures="ca_small_exponent",
        allowed=_allowed(NEGOTIATION, CA_REFUSED),
    )


SIGNATURE_CHECK: list[Scenario] = [
    _signature(
        "impostor-ca-same-subject",
        "leaf signed by an impostor CA: the loaded CA's subject name, another key; no AKI, "
        "so only the signature tells them apart",
        CertSetName.IMPOSTOR_CA,
    ),
    _signature(
        "impostor-ca-same-subject-aki",
        "leaf signed by an impostor CA of the loaded CA's name, with an AKI naming the "
        "impostor's key",
        CertSetName.IMPOSTOR_CA_AKI,
    ),
    _signature(
        "leaf-signature-bit-flipped",
        "leaf signed by the loaded CA, one bit flipped in the middle of the signature",
        CertSetName.SIGNATURE_BIT_FLIPPED,
    ),
    _signature(
        "leaf-signature-first-byte-flipped",
        "leaf signed by the loaded CA, the low bit of the signature's first byte flipped",
        CertSetName.SIGNATURE_FIRST_BYTE_FLIPPED,
    ),
    _signature(
        "leaf-signature-last-byte-flipped",
        "leaf signed by the loaded CA, the low bit of the signature's last byte flipped",
        CertSetName.SIGNATURE_LAST_BYTE_FLIPPED,
    ),
    Scenario(
        "leaf-outer-sigalg-params-mismatch",
        "leaf signed by the loaded CA whose outer signatureAlgorithm parameters are an empty "
        "REAL where the TBS's are NULL: same length, other tag (RFC 5280 §4.1.1.2: the two "
        "must be the same; mbed TLS < 2.25 compared lengths only, CVE-2020-36478)",
        Family.IDENTITY,
        always(NEGOTIATION),
        certs=CertSetName.OUTER_PARAMS_MISMATCH,
        basis=Basis.RFC,
        kind=Kind.CONFORMANCE,
    ),
    _signature(
        "leaf-tbs-modified",
        "leaf whose serial number was changed after the loaded CA signed it",
        CertSetName.TBS_MODIFIED,
    ),
]

PKCS1_FORGERIES: list[Scenario] = [
    _forgery(
        "pkcs1-e3-bleichenbacher-2006",
        "e=3 CA; leaf signature forged without the CA key: DigestInfo, then garbage "
        "that makes the block a cube (CVE-2006-4339)",
        CertSetName.E3_BLEICHENBACHER,
    ),
    _forgery(
        "pkcs1-e3-ber-long-length",
        "e=3 CA; leaf signature over a DigestInfo with non-minimal long-form lengths "
        "(BERserk, CVE-2014-1568)",
        CertSetName.E3_BER_LONG_LENGTH,
    ),
    _forgery(
        "pkcs1-e3-digestinfo-params",
        "e=3 CA; leaf signature over a DigestInfo with garbage for the NULL parameters",
        CertSetName.E3_DIGEST_PARAMS,
    ),
    _forgery(
        "pkcs1-e3-padding-not-ff",
        "e=3 CA; leaf signature whose PKCS#1 padding bytes are not 0xFF",
        CertSetName.E3_PADDING_NOT_FF,
    ),
    _forgery(
        "pkcs1-e3-digest-algorithm-mismatch",
        "e=3 CA; sha1WithRSA leaf whose signature holds an MD5 DigestInfo of the TBS",
        CertSetName.E3_DIGEST_ALGORITHM_MISMATCH,
    ),
]

SCENARIOS: list[Scenario] = [
    *SIGNATURE_CHECK,
    *PKCS1_FORGERIES,
    Scenario(
        "pkcs1-e3-ca-valid-leaf",
        "e=3 CA, leaf correctly signed by it: the control for the forgeries (does AT+iCA= "
        "take an e=3 CA?)",
        Family.IDENTITY,
        _e3_ca_loads,
        certs=CertSetName.E3_VALID,
        basis=Basis.HARNESS,
        kind=Kind.CHARACTERIZATION,
        measures="ca_small_exponent",
        allowed=_allowed(ACCEPT, CA_REFUSED),
    ),
    Scenario(
        "leaf-plus-root",
        "server sends leaf + the loaded root (the commonest real configuration; RFC 2246 "
        "§7.4.2 allows it)",
        Family.IDENTITY,
        always(ACCEPT),
        certs=CertSetName.LEAF_AND_ROOT,
        basis=Basis.RFC,
    ),
    Scenario(
        "chain-wrong-order",
        "server sends an untrusted certificate (holding the leaf's key) first, the trusted "
        "leaf second (RFC 2246 §7.4.2: the sender's certificate comes first)",
        Family.IDENTITY,
        always(NEGOTIATION),
        certs=CertSetName.WRONG_ORDER,
        backend=Backend.TLSLITE,
        basis=Basis.RFC,
    ),
    Scenario(
        "v1-ca",
        "X.509 v1 CA without extensions (the style of the manual's own sample CA) and a v1 leaf",
        Family.IDENTITY,
        always(ACCEPT),
        certs=CertSetName.V1_CA,
        basis=Basis.W24_MANUAL,
    ),
    Scenario(
        "self-signed-loaded-as-ca",
        "FTP-server-style self-signed server certificate (openssl req -x509), itself "
        "loaded as the CA",
        Family.IDENTITY,
        always(ACCEPT),
        certs=CertSetName.SELF_SIGNED_CA,
        basis=Basis.W24_MANUAL,
    ),
    Scenario(
        "garbage-leaf-no-signature",
        "Certificate message entry that holds TBS and algorithm but no signature (not X.509)",
        Family.IDENTITY,
        always(NEGOTIATION),
        certs=CertSetName.GARBAGE_NO_SIGNATURE,
        backend=Backend.TLSLITE,
        basis=Basis.RFC,
    ),
    Scenario(
        "garbage-leaf-junk-signature",
        "Certificate message entry whose signature field is 256 bytes of junk (not DER)",
        Family.IDENTITY,
        always(NEGOTIATION),
        certs=CertSetName.GARBAGE_JUNK_TAIL,
        backend=Backend.TLSLITE,
        basis=Basis.RFC,
    ),
    Scenario(
        "issuer-not-ca",
        "loaded CA has basicConstraints CA:FALSE, and signed the leaf",
        Family.IDENTITY,
        _issuer_not_ca,
        certs=CertSetName.ISSUER_NOT_CA,
        basis=Basis.HARNESS,
        kind=Kind.CHARACTERIZATION,
        measures="ca_requires_ca_flag",
        allowed=_allowed(ACCEPT, CA_REFUSED, NEGOTIATION),
    ),
    Scenario(
        "issuer-no-keycertsign",
        "loaded CA has a keyUsage without keyCertSign",
        Family.IDENTITY,
        accept_unless(lambda p: p.check_issuer_key_usage),
        certs=CertSetName.ISSUER_NO_KEYCERTSIGN,
        basis=Basis.HARNESS,
        kind=Kind.CHARACTERIZATION,
        measures="check_issuer_key_usage",
        allowed=_allowed(ACCEPT, CA_REFUSED, NEGOTIATION),
    ),
    Scenario(
        "leaf-unknown-critical-extension",
        "leaf with an unknown critical extension: refused (RFC 5280 §4.2: a certificate-using "
        "system MUST reject a certificate with a critical extension it does not recognize)",
        Family.IDENTITY,
        accept_unless(lambda p: p.reject_unknown_critical),
        certs=CertSetName.LEAF_UNKNOWN_CRITICAL,
        basis=Basis.RFC,
        kind=Kind.CONFORMANCE,
        measures="reject_unknown_critical",
        allowed=_allowed(NEGOTIATION),
    ),
]

# Which scenarios each certificate-check fault breaks on a profile that loads e=3 CAs and
# builds no chains (w24): trusting by name passes every leaf whose issuer name is the loaded
# CA's; a lenient PKCS#1 parser passes the forgeries.
FAULT_DEPENDENCIES: dict[str, frozenset[str]] = {
    # Not the outer/TBS algorithm mismatch: that check is apart from the signature's.
    "trust_by_name": frozenset(
        s.id
        for s in SIGNATURE_CHECK + PKCS1_FORGERIES
        if s.id != "leaf-outer-sigalg-params-mismatch"
    ),
    "lenient_pkcs1": frozenset(s.id for s in PKCS1_FORGERIES),
    # The server's certificate is the first of its list: a client that searches the list
    # passes the wrong order, and also the lone intermediate of `intermediate-sent` (handshake
    # family), which the loaded root did sign.
    "leaf_search": frozenset({"chain-wrong-order", "intermediate-sent"}),
}
