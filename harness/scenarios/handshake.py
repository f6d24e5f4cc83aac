"""Handshake scenarios: protocol versions and suites, certificates, server misbehaviour, limits."""

from __future__ import annotations

from typing import Any

from w24_harness.at.codes import ResultCode
from w24_harness.pki.certset import CertSetName
from w24_harness.profiles.table import DeviceProfile
from w24_harness.scenarios.model import (
    ACCEPT,
    AllowedRule,
    Expect,
    Rule,
    Scenario,
    accept_unless,
    always,
    one_of,
    reject,
)
from w24_harness.servers.misbehaviour import library as mis
from w24_harness.servers.names import backend_for
from w24_harness.tlsfacts import W24_SUITES, ProtocolVersion, short_name
from w24_harness.vocab import Action, Backend, Basis, Family, Kind, Stage

SSL3, TLS1 = ProtocolVersion.SSL3, ProtocolVersion.TLS1


def _suite_rule(version: str, suite: str) -> Rule:
    return lambda p: (
        ACCEPT
        if version in p.protocols and suite in p.cipher_suites
        else reject(ResultCode.SSL_NEGOTIATION)
    )


def _valid_chain_scenarios() -> list[Scenario]:
    out = []
    for version in (SSL3, TLS1):
        for suite in W24_SUITES:
            backend = backend_for(version, suite)
            out.append(
                Scenario(
                    id=f"valid-{version.short}-{short_name(suite)}",
                    description=f"valid chain, {version}, {suite}, {backend} server",
                    family=Family.HANDSHAKE,
                    rule=_suite_rule(version, suite),
                    backend=backend,
                    versions=(version,),
                    suites=(suite,),
                    action=Action.EXCHANGE,
                    send_size=64,
                    recv_size=1024,
                    basis=Basis.W24_MANUAL,  # §5.1: the versions and suites the W24 offers
                )
            )
    return out


# A certificate check the manuals leave open (§11.3): a correct firmware may accept, or refuse
# with the handshake-failure code of the later firmware's table (§12.3).
_ACCEPT_OR_220 = one_of(ACCEPT, reject(ResultCode.SSL_NEGOTIATION))
F, M, R, H = Basis.ICHIP_FIRMWARE, Basis.W24_MANUAL, Basis.RFC, Basis.HARNESS
CONF, ROBUST, CHAR = Kind.CONFORMANCE, Kind.ROBUSTNESS, Kind.CHARACTERIZATION


def _characterizes(field: str, allowed: AllowedRule = _ACCEPT_OR_220) -> dict[str, Any]:
    return {"basis": F, "kind": CHAR, "measures": field, "allowed": allowed}


def _sha256_ca_rule(p: DeviceProfile) -> Expect:
    # A CA signed with a hash the firmware does not know fails to parse at AT+iCA= (116).
    return ACCEPT if "sha256" in p.signature_hashes else reject(ResultCode.CA_PARSE_ERROR, Stage.CA)


def _key_rule(bits: int) -> Rule:
    def rule(p: DeviceProfile) -> Expect:
        assert p.server_key_bits is not None  # Scenario.expected asks only when it is known
        low, high = p.server_key_bits
        return ACCEPT if low <= bits <= high else reject(ResultCode.SSL_NEGOTIATION)

    return rule


SCENARIOS: list[Scenario] = [
    *_valid_chain_scenarios(),
    Scenario(
        "no-ca",
        "no CA loaded",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NO_CA)),
        certs=CertSetName.NO_CA,
        basis=F,
        critical=True,
    ),
    Scenario(
        "wrong-ca",
        "a different CA is loaded",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NEGOTIATION)),
        certs=CertSetName.WRONG_CA,
        basis=M,
        critical=True,
    ),
    Scenario(
        "self-signed",
        "self-signed server certificate",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NEGOTIATION)),
        certs=CertSetName.SELF_SIGNED,
        basis=M,
        critical=True,
    ),
    Scenario(
        "intermediate-sent",
        "leaf signed by an intermediate the server sends; only the root is loaded (chain "
        "building is a profile switch: the W24 documents 'signed by the trusted CA' only). "
        "Measures chain building only: the Certificate message stays under 2048 bytes (a test "
        "holds it there), so a 2 KB record limit cannot fail it; see hs-cert-msg-over-2k",
        Family.HANDSHAKE,
        accept_unless(lambda p: not p.chain_building),
        certs=CertSetName.INTERMEDIATE,
        # Leaf + intermediate is about 2 KB of handshake: a firmware applying the record limit
        # to the handshake may refuse it with 226 whatever its chain policy (corpus §5.1).
        **_characterizes(
            "chain_building",
            one_of(
                ACCEPT, reject(ResultCode.SSL_NEGOTIATION), reject(ResultCode.SSL_RECORD_TOO_BIG)
            ),
        ),
    ),
    Scenario(
        "cert-record-over-2k",
        "valid leaf signed by the root, its Certificate record over 2 KB (whether the "
        "2 KB record limit applies to the handshake is not documented)",
        Family.HANDSHAKE,
        accept_unless(lambda p: bool(p.record_limit_in_handshake), ResultCode.SSL_RECORD_TOO_BIG),
        certs=CertSetName.BIG_LEAF,
        **_characterizes(
            "record_limit_in_handshake",
            one_of(
                ACCEPT, reject(ResultCode.SSL_RECORD_TOO_BIG), reject(ResultCode.SSL_NEGOTIATION)
            ),
        ),
    ),
    Scenario(
        "intermediate-missing",
        "leaf signed by an intermediate that nobody sends",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NEGOTIATION)),
        certs=CertSetName.INTERMEDIATE_UNSENT,
        basis=M,
        critical=True,
    ),
    Scenario(
        "expired-leaf",
        "server certificate expired",
        Family.HANDSHAKE,
        accept_unless(lambda p: p.check_validity_dates),
        certs=CertSetName.EXPIRED,
        **_characterizes("check_validity_dates"),
    ),
    Scenario(
        "not-yet-valid-leaf",
        "server certificate not valid yet",
        Family.HANDSHAKE,
        accept_unless(lambda p: p.check_validity_dates),
        certs=CertSetName.NOT_YET_VALID,
        **_characterizes("check_validity_dates"),
    ),
    Scenario(
        "wrong-hostname",
        "certificate for another host name",
        Family.HANDSHAKE,
        accept_unless(lambda p: p.check_hostname),
        certs=CertSetName.WRONG_HOST,
        **_characterizes("check_hostname"),
    ),
    # §12.2: the CA may be signed with MD2, MD5 or SHA-1 only.
    Scenario(
        "sha256-chain",
        "CA and leaf signed with SHA-256",
        Family.HANDSHAKE,
        _sha256_ca_rule,
        certs=CertSetName.SHA256_CHAIN,
        basis=F,
    ),
    Scenario(
        "sha256-leaf",
        "SHA-1 CA, leaf signed with SHA-256",
        Family.HANDSHAKE,
        accept_unless(lambda p: "sha256" not in (p.leaf_signature_hashes or ())),
        certs=CertSetName.SHA256_LEAF,
        **_characterizes("leaf_signature_hashes"),
    ),
    Scenario(
        "md5-leaf",
        "leaf signed with MD5",
        Family.HANDSHAKE,
        accept_unless(lambda p: "md5" not in (p.leaf_signature_hashes or ())),
        certs=CertSetName.MD5_LEAF,
        **_characterizes("leaf_signature_hashes"),
    ),
    Scenario(
        "server-key-512",
        "512-bit server key",
        Family.HANDSHAKE,
        _key_rule(512),
        certs=CertSetName.KEY512,
        backend=Backend.TLSLITE,
        **_characterizes("server_key_bits"),
    ),
    Scenario(
        "server-key-1024",
        "1024-bit server key",
        Family.HANDSHAKE,
        _key_rule(1024),
        certs=CertSetName.KEY1024,
        **_characterizes("server_key_bits"),
    ),
    Scenario(
        "server-key-4096",
        "4096-bit server key",
        Family.HANDSHAKE,
        _key_rule(4096),
        certs=CertSetName.KEY4096,
        **_characterizes("server_key_bits"),
    ),
    # RFC 2246 §E.1: a server that cannot speak the client's version refuses the handshake.
    Scenario(
        "tls12-only",
        "server speaks TLS 1.2 only",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NEGOTIATION)),
        versions=(ProtocolVersion.TLS12,),
        basis=R,
    ),
    Scenario(
        "ecdhe-only",
        "server offers only ECDHE suites",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NEGOTIATION)),
        suites=("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",),
        basis=M,
    ),
    # RFC 2246 §7.4.6: a server may abort when the client has no certificate; the W24 has none
    # to send (whether it has +iCERT at all is §11.11): a clean handshake failure.
    Scenario(
        "client-cert-required",
        "server demands a client certificate (the W24 has none)",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NEGOTIATION)),
        client_auth=True,
        basis=R,
        kind=ROBUST,
    ),
    Scenario(
        "close-mid-handshake",
        "server closes in the middle of the handshake",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NEGOTIATION)),
        backend=Backend.TLSLITE,
        misbehaviour=mis.CLOSE_MID_HANDSHAKE,
        basis=F,
        kind=ROBUST,
    ),
    Scenario(
        "stall-mid-handshake",
        "server never answers the ClientHello",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NEGOTIATION)),
        backend=Backend.TLSLITE,
        misbehaviour=mis.STALL,
        slow=True,
        basis=F,
        kind=ROBUST,
    ),
    Scenario(
        "record-over-2k",
        "server sends a 4 KB application record",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_RECORD_TOO_BIG, Stage.DATA)),
        backend=Backend.TLSLITE,
        misbehaviour=mis.OVERSIZE_RECORD,
        action=Action.EXCHANGE,
        recv_size=4096,
        basis=F,
    ),
    Scenario(
        "tampered-record",
        "server sends a record with a flipped ciphertext byte",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_DECODE_ERROR, Stage.DATA)),
        backend=Backend.TLSLITE,
        misbehaviour=mis.TAMPER,
        action=Action.EXCHANGE,
        recv_size=512,
        basis=F,
        critical=True,
    ),
    Scenario(
        "second-ssl-socket",
        "a second SSL socket while one is active",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_NO_MORE_SOCKETS)),
        action=Action.SECOND_SSL,
        basis=F,
    ),
    Scenario(
        "ssl-on-closed-handle",
        "AT+iSSL on a handle that is not an open TCP socket",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSL_ILLEGAL_HANDLE)),
        action=Action.SSL_BAD_HANDLE,
        basis=F,
    ),
    Scenario(
        "ssnd-over-2048",
        "one SSND of 2049 bytes on an SSL socket",
        Family.HANDSHAKE,
        always(reject(ResultCode.SSND_TOO_BIG, Stage.SEND)),
        action=Action.SSND_OVER,
        basis=M,
    ),
]
