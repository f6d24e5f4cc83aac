"""One table of TLS facts: protocol versions and cipher suites, by every name each layer uses.

The profiles, the simulator's engine, both server backends and the reports read this module and
nothing else for these facts, so `AES128-SHA`, `TLS_RSA_WITH_AES_128_CBC_SHA`, 0x002F,
('aes128', 'sha') and `aes128-sha` can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class ProtocolVersion(StrEnum):
    SSL3 = "SSL3.0"
    TLS1 = "TLS1.0"
    TLS11 = "TLS1.1"
    TLS12 = "TLS1.2"
    TLS13 = "TLS1.3"

    @property
    def wire(self) -> tuple[int, int]:
        """The (major, minor) bytes on the wire, as tlslite spells versions."""
        return VERSION_FACTS[self].wire

    @property
    def short(self) -> str:
        """The name in test ids and tables: 'ssl3', 'tls1'."""
        return VERSION_FACTS[self].short


@dataclass(frozen=True)
class VersionFacts:
    version: ProtocolVersion
    wire: tuple[int, int]
    short: str
    openssl: str  # what ssl.SSLSocket.version() returns


VERSION_FACTS: dict[ProtocolVersion, VersionFacts] = {
    f.version: f
    for f in (
        VersionFacts(ProtocolVersion.SSL3, (3, 0), "ssl3", "SSLv3"),
        VersionFacts(ProtocolVersion.TLS1, (3, 1), "tls1", "TLSv1"),
        VersionFacts(ProtocolVersion.TLS11, (3, 2), "tls11", "TLSv1.1"),
        VersionFacts(ProtocolVersion.TLS12, (3, 3), "tls12", "TLSv1.2"),
        VersionFacts(ProtocolVersion.TLS13, (3, 4), "tls13", "TLSv1.3"),
    )
}


def version_from_wire(wire: tuple[int, int]) -> ProtocolVersion | None:
    for facts in VERSION_FACTS.values():
        if facts.wire == tuple(wire):
            return facts.version
    return None


def version_from_openssl(name: str) -> ProtocolVersion | None:
    for facts in VERSION_FACTS.values():
        if facts.openssl == name:
            return facts.version
    return None


def version_name(wire: tuple[int, int]) -> str:
    """A wire version as a report names it, also for versions no table knows."""
    version = version_from_wire(wire)
    return str(version) if version else f"version {wire[0]}.{wire[1]}"


@dataclass(frozen=True)
class Suite:
    iana: str
    code: int  # the two-byte CipherSuite value
    openssl: str
    short: str | None = None  # test-id name; only the W24's own suites have one
    # tlslite-ng (cipher, MAC) names; only static-RSA suites tlslite's settings can select.
    tlslite: tuple[str, str] | None = None


SUITE_TABLE: tuple[Suite, ...] = (
    # The five suites of spec §5.1, in the order the W24 offers them.
    Suite("TLS_RSA_WITH_RC4_128_MD5", 0x0004, "RC4-MD5", "rc4-md5", ("rc4", "md5")),
    Suite("TLS_RSA_WITH_RC4_128_SHA", 0x0005, "RC4-SHA", "rc4-sha", ("rc4", "sha")),
    Suite("TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x000A, "DES-CBC3-SHA", "3des-sha", ("3des", "sha")),
    Suite("TLS_RSA_WITH_AES_128_CBC_SHA", 0x002F, "AES128-SHA", "aes128-sha", ("aes128", "sha")),
    Suite("TLS_RSA_WITH_AES_256_CBC_SHA", 0x0035, "AES256-SHA", "aes256-sha", ("aes256", "sha")),
    # Suites the W24 does not offer, for negative tests.
    Suite("TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003C, "AES128-SHA256"),
    Suite("TLS_RSA_WITH_AES_256_CBC_SHA256", 0x003D, "AES256-SHA256"),
    Suite("TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009C, "AES128-GCM-SHA256"),
    Suite("TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009D, "AES256-GCM-SHA384"),
    Suite("TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 0x0033, "DHE-RSA-AES128-SHA"),
    Suite("TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 0x0039, "DHE-RSA-AES256-SHA"),
    Suite("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xC013, "ECDHE-RSA-AES128-SHA"),
    Suite("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xC014, "ECDHE-RSA-AES256-SHA"),
    Suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC02F, "ECDHE-RSA-AES128-GCM-SHA256"),
    Suite("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xC030, "ECDHE-RSA-AES256-GCM-SHA384"),
    Suite("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305"),
)

SUITES: dict[str, Suite] = {s.iana: s for s in SUITE_TABLE}
W24_SUITES: tuple[str, ...] = tuple(s.iana for s in SUITE_TABLE if s.short)


# The largest application-data plaintext whose record is at most 2048 bytes on the wire under
# every W24 suite (a SHA-1 MAC of 20 bytes, then at least the CBC padding-length byte; SSL 3.0
# and TLS 1.0 carry no explicit IV). Such a record fits the W24's "2 KB" record limit whether
# the firmware counts the plaintext or the record on the wire (spec §12.3; the profile field
# record_limit_counts_wire, which the manuals leave open): the harness's servers cap their
# records at it, so only the rows that measure the limit depend on how it counts.
RECORD_PLAINTEXT_FITS_ANY_LIMIT = 2048 - 20 - 1

# -- the record layer: the one table every reader and writer of records here uses -------------

RECORD_HEADER_LEN = 5  # type, version (2), length (2): RFC 2246 §6.2.1, RFC 6101 §5.2.1
HANDSHAKE_HEADER_LEN = 4  # msg_type, length (3): RFC 2246 §7.4


class ContentType(IntEnum):
    """Record content types (RFC 2246 §6.2.1), plus ones no W24 peer may send."""

    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23
    HEARTBEAT = 24  # RFC 6520: never negotiated by a 2008 client
    UNASSIGNED_25 = 25
    UNASSIGNED_255 = 255


# The content types SSL 3.0 and TLS 1.0 define (RFC 6101 §5.2.1, RFC 2246 §6.2.1).
SSL3_TLS10_CONTENT_TYPES = frozenset(
    {
        ContentType.CHANGE_CIPHER_SPEC,
        ContentType.ALERT,
        ContentType.HANDSHAKE,
        ContentType.APPLICATION_DATA,
    }
)
# Handshake message names by type (RFC 2246 §7.4), as reports print them.
HANDSHAKE_NAMES: dict[int, str] = {
    0: "HelloRequest",
    1: "ClientHello",
    2: "ServerHello",
    11: "Certificate",
    12: "ServerKeyExchange",
    13: "CertificateRequest",
    14: "ServerHelloDone",
    15: "CertificateVerify",
    16: "ClientKeyExchange",
    20: "Finished",
}


def suite(iana: str) -> Suite:
    try:
        return SUITES[iana]
    except KeyError:
        raise ValueError(f"unknown cipher suite {iana!r}; known: {sorted(SUITES)}") from None


def suite_by_code(code: int) -> Suite | None:
    return next((s for s in SUITE_TABLE if s.code == code), None)


def suite_by_openssl(name: str) -> Suite | None:
    return next((s for s in SUITE_TABLE if s.openssl == name), None)


def short_name(iana: str) -> str:
    """The test-id name of a suite: 'aes128-sha'; the IANA name for suites without one."""
    return SUITES[iana].short or iana if iana in SUITES else iana


def suite_name(code: int) -> str:
    """The IANA name of any code point: from this table, else tlslite-ng's, else hex."""
    known = suite_by_code(code)
    if known:
        return known.iana
    from tlslite.constants import CipherSuite as TlsliteSuites  # the long tail of IANA names

    return TlsliteSuites.ietfNames.get(code, f"0x{code:04X}")
