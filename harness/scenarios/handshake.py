"""Handshake scenarios: protocol versions and suites, certificates, server misbehaviour, limits."""

from __future__ import annotations

from w24_harness.at.codes import ResultCode
from w24_harness.profiles import DeviceProfile
from w24_harness.servers.names import backend_for
from w24_harness.tlsfacts import W24_SUITES, ProtocolVersion, short_name
from w24_harness.servers import misbehaviours as mis
from w24_harness.vocab import Action, Backend, Family, Stage

from .model import ACCEPT, Expect, Rule, Scenario, accept_unless, always, reject

SSL3, TLS1 = ProtocolVersion.SSL3, ProtocolVersion.TLS1


def _suite_rule(version: str, suite: str) -> Rule:
    return lambda p: ACCEPT if version in p.protocols and suite in p.cipher_suites else reject(ResultCode.SSL_NEGOTIATION)


def _valid_chain_scenarios() -> list[Scenario]:
    out = []
    for version in (SSL3, TLS1):
        for suite in W24_SUITES:
            backend = backend_for(version, suite)
            out.append(
                Scenario(
                    id=f"valid-{version.short}-{short_name(suite)}",
                    description=f"valid chain, {version}, {suite}, {backend} server",
                    suite=Family.HANDSHAKE,
                    rule=_suite_rule(version, suite),
                    backend=backend,
                    versions=(version,),
                    suites=(suite,),
                    action=Action.EXCHANGE,
                    send_size=64,
                    recv_size=1024,
                )
            )
    return out


def _sha256_ca_rule(p: DeviceProfile) -> Expect:
    # A CA signed with a hash the firmware does not know fails to parse at AT+iCA= (116).
    return ACCEPT if "sha256" in p.signature_hashes else reject(ResultCode.CA_PARSE_ERROR, Stage.CA)


def _key_rule(bits: int) -> Rule:
    def rule(p: DeviceProfile) -> Expect:
        low, high = p.server_key_bits
        return ACCEPT if low <= bits <= high else reject(ResultCode.SSL_NEGOTIATION)

    return rule


SCENARIOS: list[Scenario] = [
    *_valid_chain_scenarios(),
    Scenario("no-ca", "no CA loaded", Family.HANDSHAKE, always(reject(ResultCode.SSL_NO_CA)), certs="no_ca"),
    Scenario("wrong-ca", "a different CA is loaded", Family.HANDSHAKE, always(reject(ResultCode.SSL_NEGOTIATION)),
             certs="wrong_ca"),
    Scenario("self-signed", "self-signed server certificate", Family.HANDSHAKE, always(reject(ResultCode.SSL_NEGOTIATION)),
             certs="self_signed"),
    Scenario(
        "intermediate-sent",
        "leaf signed by an intermediate the server sends; only the root is loaded (chain "
        "building is a profile switch: the W24 documents 'signed by the trusted CA' only). "
        "Measures chain building only: the Certificate message stays under 2048 bytes (a test "
        "holds it there), so a 2 KB record limit cannot fail it; see hs-cert-msg-over-2k",
        Family.HANDSHAKE, accept_unless(lambda p: not p.chain_building), certs="intermediate",
    ),
    Scenario("intermediate-missing", "leaf signed by an intermediate that nobody sends",
             Family.HANDSHAKE, always(reject(ResultCode.SSL_NEGOTIATION)), certs="intermediate_unsent"),
    Scenario("expired-leaf", "server certificate expired", Family.HANDSHAKE,
             accept_unless(lambda p: p.check_validity_dates), certs="expired"),
    Scenario("not-yet-valid-leaf", "server certificate not valid yet", Family.HANDSHAKE,
             accept_unless(lambda p: p.check_validity_dates), certs="not_yet_valid"),
    Scenario("wrong-hostname", "certificate for another host name", Family.HANDSHAKE,
             accept_unless(lambda p: p.check_hostname), certs="wrong_host"),
    Scenario("sha256-chain", "CA and leaf signed with SHA-256", Family.HANDSHAKE, _sha256_ca_rule,
             certs="sha256_chain"),
    Scenario("sha256-leaf", "SHA-1 CA, leaf signed with SHA-256", Family.HANDSHAKE,
             accept_unless(lambda p: "sha256" not in p.signature_hashes), certs="sha256_leaf"),
    Scenario("md5-leaf", "leaf signed with MD5", Family.HANDSHAKE,
             accept_unless(lambda p: "md5" not in p.signature_hashes), certs="md5_leaf"),
    Scenario("server-key-512", "512-bit server key", Family.HANDSHAKE, _key_rule(512), certs="key512",
             backend=Backend.TLSLITE),
    Scenario("server-key-1024", "1024-bit server key", Family.HANDSHAKE, _key_rule(1024),
             certs="key1024"),
    Scenario("server-key-4096", "4096-bit server key", Family.HANDSHAKE, _key_rule(4096),
             certs="key4096"),
    Scenario("tls12-only", "server speaks TLS 1.2 only", Family.HANDSHAKE, always(reject(ResultCode.SSL_NEGOTIATION)),
             versions=(ProtocolVersion.TLS12,)),
    Scenario("ecdhe-only", "server offers only ECDHE suites", Family.HANDSHAKE, always(reject(ResultCode.SSL_NEGOTIATION)),
             suites=("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",)),
    Scenario("client-cert-required", "server demands a client certificate (the W24 has none)",
             Family.HANDSHAKE, always(reject(ResultCode.SSL_NEGOTIATION)), client_auth=True),
    Scenario("close-mid-handshake", "server closes in the middle of the handshake", Family.HANDSHAKE,
             always(reject(ResultCode.SSL_NEGOTIATION)), backend=Backend.TLSLITE, misbehaviour=mis.CLOSE_MID_HANDSHAKE),
    Scenario("stall-mid-handshake", "server never answers the ClientHello", Family.HANDSHAKE,
             always(reject(ResultCode.SSL_NEGOTIATION)), backend=Backend.TLSLITE, misbehaviour=mis.STALL, slow=True),
    Scenario("record-over-2k", "server sends a 4 KB application record", Family.HANDSHAKE,
             always(reject(ResultCode.SSL_RECORD_TOO_BIG, Stage.DATA)), backend=Backend.TLSLITE,
             misbehaviour=mis.OVERSIZE_RECORD, action=Action.EXCHANGE, recv_size=4096),
    Scenario("tampered-record", "server sends a record with a flipped ciphertext byte",
             Family.HANDSHAKE, always(reject(ResultCode.SSL_DECODE_ERROR, Stage.DATA)), backend=Backend.TLSLITE,
             misbehaviour=mis.TAMPER, action=Action.EXCHANGE, recv_size=512),
    Scenario("second-ssl-socket", "a second SSL socket while one is active", Family.HANDSHAKE,
             always(reject(ResultCode.SSL_NO_MORE_SOCKETS)), action=Action.SECOND_SSL),
    Scenario("ssl-on-closed-handle", "AT+iSSL on a handle that is not an open TCP socket",
             Family.HANDSHAKE, always(reject(ResultCode.SSL_ILLEGAL_HANDLE)), action=Action.SSL_BAD_HANDLE),
    Scenario("ssnd-over-2048", "one SSND of 2049 bytes on an SSL socket", Family.HANDSHAKE,
             always(reject(ResultCode.SSND_TOO_BIG, Stage.SEND)), action=Action.SSND_OVER),
]
