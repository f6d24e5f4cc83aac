"""The scenario catalogue: every case the suites run, as data (in the manner of x509-limbo).

A scenario names its server, its certificate set and its action; its expectation is a rule over
the device profile, so the profile table stays the one place that says what a firmware does.
`expected(profile)` turns the rule into a plain Expect for one profile; `w24 scenarios` (and the
HTML report) render the whole table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from w24_harness.at import codes
from w24_harness.profiles import (
    SSL3,
    SUITE_SHORT_NAMES,
    TLS1,
    VERSION_SHORT_NAMES,
    W24_SUITES,
    DeviceProfile,
)
from w24_harness.servers.names import backend_for


@dataclass(frozen=True)
class Expect:
    accept: bool
    code: int | None = None  # the device's result code when rejected
    stage: str = "ssl"  # where the rejection shows: "ca" (AT+iCA=), "ssl" (AT+iSSL),
    #                     "data" (AT+iSRCV), "send" (AT+iSSND)

    def __str__(self) -> str:
        return "accept" if self.accept else f"reject {self.code} at {self.stage}"


ACCEPT = Expect(True)


def reject(code: int, stage: str = "ssl") -> Expect:
    return Expect(False, code, stage)


Rule = Callable[[DeviceProfile], Expect]


def always(expect: Expect) -> Rule:
    return lambda _p: expect


def accept_unless(flag: Callable[[DeviceProfile], bool], code: int = codes.SSL_NEGOTIATION) -> Rule:
    return lambda p: reject(code) if flag(p) else ACCEPT


@dataclass(frozen=True)
class Scenario:
    id: str
    description: str
    suite: str  # which suite file runs it: "handshake", "ca", "data", "limits"
    rule: Rule
    certs: str = "valid"  # certificate set, see w24_harness.pki.sets
    backend: str = "openssl"
    versions: tuple[str, ...] = (TLS1,)
    suites: tuple[str, ...] | None = None
    misbehaviour: str | None = None
    # "handshake", "exchange" (handshake then data), "second_ssl", "ssnd_over", "ssl_bad_handle",
    # "load_ca" (only AT+iCA=)
    action: str = "handshake"
    client_auth: bool = False  # the server demands a client certificate
    send_size: int = 0  # device -> server bytes (exchange)
    recv_size: int = 0  # server -> device bytes (exchange, and misbehaving servers)
    slow: bool = False

    def expected(self, profile: DeviceProfile) -> Expect:
        return self.rule(profile)


def _suite_rule(version: str, suite: str) -> Rule:
    return lambda p: ACCEPT if version in p.protocols and suite in p.cipher_suites else reject(220)


def _valid_chain_scenarios() -> list[Scenario]:
    out = []
    for version in (SSL3, TLS1):
        for suite in W24_SUITES:
            backend = backend_for(version, suite)
            vname = VERSION_SHORT_NAMES[version]
            out.append(
                Scenario(
                    id=f"valid-{vname}-{SUITE_SHORT_NAMES[suite]}",
                    description=f"valid chain, {version}, {suite}, {backend} server",
                    suite="handshake",
                    rule=_suite_rule(version, suite),
                    backend=backend,
                    versions=(version,),
                    suites=(suite,),
                    action="exchange",
                    send_size=64,
                    recv_size=1024,
                )
            )
    return out


def _sha256_ca_rule(p: DeviceProfile) -> Expect:
    # A CA signed with a hash the firmware does not know fails to parse at AT+iCA= (116).
    return ACCEPT if "sha256" in p.signature_hashes else reject(codes.CA_PARSE_ERROR, "ca")


def _key_rule(bits: int) -> Rule:
    def rule(p: DeviceProfile) -> Expect:
        low, high = p.server_key_bits
        return ACCEPT if low <= bits <= high else reject(220)

    return rule


SCENARIOS: list[Scenario] = [
    *_valid_chain_scenarios(),
    Scenario("no-ca", "no CA loaded", "handshake", always(reject(codes.SSL_NO_CA)), certs="no_ca"),
    Scenario("wrong-ca", "a different CA is loaded", "handshake", always(reject(220)),
             certs="wrong_ca"),
    Scenario("self-signed", "self-signed server certificate", "handshake", always(reject(220)),
             certs="self_signed"),
    Scenario(
        "intermediate-sent",
        "leaf signed by an intermediate the server sends; only the root is loaded (chain "
        "building is a profile switch: the W24 documents 'signed by the trusted CA' only)",
        "handshake", accept_unless(lambda p: not p.chain_building), certs="intermediate",
    ),
    Scenario("intermediate-missing", "leaf signed by an intermediate that nobody sends",
             "handshake", always(reject(220)), certs="intermediate_unsent"),
    Scenario("expired-leaf", "server certificate expired", "handshake",
             accept_unless(lambda p: p.check_validity_dates), certs="expired"),
    Scenario("not-yet-valid-leaf", "server certificate not valid yet", "handshake",
             accept_unless(lambda p: p.check_validity_dates), certs="not_yet_valid"),
    Scenario("wrong-hostname", "certificate for another host name", "handshake",
             accept_unless(lambda p: p.check_hostname), certs="wrong_host"),
    Scenario("sha256-chain", "CA and leaf signed with SHA-256", "handshake", _sha256_ca_rule,
             certs="sha256_chain"),
    Scenario("sha256-leaf", "SHA-1 CA, leaf signed with SHA-256", "handshake",
             accept_unless(lambda p: "sha256" not in p.signature_hashes), certs="sha256_leaf"),
    Scenario("md5-leaf", "leaf signed with MD5", "handshake",
             accept_unless(lambda p: "md5" not in p.signature_hashes), certs="md5_leaf"),
    Scenario("server-key-512", "512-bit server key", "handshake", _key_rule(512), certs="key512",
             backend="tlslite"),
    Scenario("server-key-1024", "1024-bit server key", "handshake", _key_rule(1024),
             certs="key1024"),
    Scenario("server-key-4096", "4096-bit server key", "handshake", _key_rule(4096),
             certs="key4096"),
    Scenario("tls12-only", "server speaks TLS 1.2 only", "handshake", always(reject(220)),
             versions=("TLS1.2",)),
    Scenario("ecdhe-only", "server offers only ECDHE suites", "handshake", always(reject(220)),
             suites=("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",)),
    Scenario("client-cert-required", "server demands a client certificate (the W24 has none)",
             "handshake", always(reject(220)), client_auth=True),
    Scenario("close-mid-handshake", "server closes in the middle of the handshake", "handshake",
             always(reject(220)), backend="tlslite", misbehaviour="close_mid_handshake"),
    Scenario("stall-mid-handshake", "server never answers the ClientHello", "handshake",
             always(reject(220)), backend="tlslite", misbehaviour="stall", slow=True),
    Scenario("record-over-2k", "server sends a 4 KB application record", "handshake",
             always(reject(codes.SSL_RECORD_TOO_BIG, "data")), backend="tlslite",
             misbehaviour="oversize_record", action="exchange", recv_size=4096),
    Scenario("tampered-record", "server sends a record with a flipped ciphertext byte",
             "handshake", always(reject(codes.SSL_DECODE_ERROR, "data")), backend="tlslite",
             misbehaviour="tamper", action="exchange", recv_size=512),
    Scenario("second-ssl-socket", "a second SSL socket while one is active", "handshake",
             always(reject(codes.SSL_NO_MORE_SOCKETS)), action="second_ssl"),
    Scenario("ssl-on-closed-handle", "AT+iSSL on a handle that is not an open TCP socket",
             "handshake", always(reject(codes.SSL_ILLEGAL_HANDLE)), action="ssl_bad_handle"),
    Scenario("ssnd-over-2048", "one SSND of 2049 bytes on an SSL socket", "handshake",
             always(reject(codes.SSND_TOO_BIG, "send")), action="ssnd_over"),
    # CA parameter
    Scenario("ca-fits", "a CA that fits the profile loads and reads back", "ca", always(ACCEPT),
             action="load_ca"),
    Scenario("ca-too-long", "a CA PEM over the profile's size limit", "ca",
             lambda p: reject(p.ca_too_long_code, "ca"), certs="ca_too_long", action="load_ca"),
    Scenario("ca-garbage", "a CA value that is not a certificate", "ca",
             always(reject(codes.CA_PARSE_ERROR, "ca")), certs="ca_garbage", action="load_ca"),
    Scenario("ca-4096", "a 4096-bit CA", "ca",
             lambda p: ACCEPT if 4096 in p.ca_key_bits else reject(codes.CA_PARSE_ERROR, "ca"),
             certs="ca_4096", action="load_ca"),
]

# Data integrity: sizes from 1 byte to 64 KB each way, compared by SHA-256.
DATA_SIZES: tuple[int, ...] = (1, 100, 2047, 2048, 2049, 16384, 65536)
for _size in DATA_SIZES:
    SCENARIOS.append(
        Scenario(f"data-down-{_size}", f"server sends {_size} bytes, device receives", "data",
                 always(ACCEPT), action="exchange", recv_size=_size)
    )
    SCENARIOS.append(
        Scenario(f"data-up-{_size}", f"device sends {_size} bytes, server receives", "data",
                 always(ACCEPT), action="exchange", send_size=_size)
    )


def render_table(profiles: list[DeviceProfile]) -> str:
    """The catalogue as a Markdown table: one row per scenario, one column per profile."""
    head = "| scenario | suite | description | " + " | ".join(p.name for p in profiles) + " |"
    rule = "|---|---|---|" + "---|" * len(profiles)
    rows = [
        f"| `{s.id}` | {s.suite} | {s.description} | "
        + " | ".join(str(s.expected(p)) for p in profiles)
        + " |"
        for s in SCENARIOS
    ]
    return "\n".join([head, rule, *rows]) + "\n"


def get(scenario_id: str) -> Scenario:
    for s in SCENARIOS:
        if s.id == scenario_id:
            return s
    raise KeyError(f"no scenario {scenario_id!r}")


def check_unique(scenarios: list[Scenario]) -> None:
    """Raise ValueError naming every scenario id used more than once."""
    ids = [s.id for s in scenarios]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ValueError(f"duplicate scenario ids: {sorted(dupes)}")


check_unique(SCENARIOS)
