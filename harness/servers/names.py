"""Name tables: protocol versions, cipher suites (IANA / OpenSSL / tlslite), alert names."""

from __future__ import annotations

import re

from w24_harness.profiles import SSL3, TLS1, W24_SUITES

TLS11 = "TLS1.1"
TLS12 = "TLS1.2"
# Ordered oldest first; the wire version tuple is what tlslite uses.
VERSION_WIRE: dict[str, tuple[int, int]] = {
    SSL3: (3, 0),
    TLS1: (3, 1),
    TLS11: (3, 2),
    TLS12: (3, 3),
}
WIRE_VERSION: dict[tuple[int, int], str] = {v: k for k, v in VERSION_WIRE.items()}
# What SSLSocket.version() returns.
OPENSSL_VERSION_NAMES: dict[str, str] = {
    "SSLv3": SSL3,
    "TLSv1": TLS1,
    "TLSv1.1": TLS11,
    "TLSv1.2": TLS12,
    "TLSv1.3": "TLS1.3",
}

# IANA name -> OpenSSL name. The W24 five first, then modern suites for negative tests.
IANA_TO_OPENSSL: dict[str, str] = {
    "TLS_RSA_WITH_RC4_128_MD5": "RC4-MD5",
    "TLS_RSA_WITH_RC4_128_SHA": "RC4-SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256": "AES256-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA": "DHE-RSA-AES128-SHA",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA": "DHE-RSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
OPENSSL_TO_IANA: dict[str, str] = {v: k for k, v in IANA_TO_OPENSSL.items()}

# IANA name -> (tlslite cipher name, tlslite MAC name); static RSA key exchange only.
IANA_TO_TLSLITE: dict[str, tuple[str, str]] = {
    "TLS_RSA_WITH_RC4_128_MD5": ("rc4", "md5"),
    "TLS_RSA_WITH_RC4_128_SHA": ("rc4", "sha"),
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": ("3des", "sha"),
    "TLS_RSA_WITH_AES_128_CBC_SHA": ("aes128", "sha"),
    "TLS_RSA_WITH_AES_256_CBC_SHA": ("aes256", "sha"),
}
assert set(IANA_TO_TLSLITE) == set(W24_SUITES)

_OPENSSL_ALERT_REASON = re.compile(r"(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z0-9_]+)")


def version_range(versions: tuple[str, ...]) -> tuple[str, str]:
    """(lowest, highest) of the named versions; ValueError on an unknown name."""
    unknown = [v for v in versions if v not in VERSION_WIRE]
    if unknown:
        raise ValueError(f"unknown protocol version(s) {unknown}; known: {list(VERSION_WIRE)}")
    ordered = sorted(versions, key=VERSION_WIRE.__getitem__)
    return ordered[0], ordered[-1]


def alert_from_openssl_reason(reason: str | None) -> str | None:
    """'TLSV1_ALERT_UNKNOWN_CA' -> 'unknown_ca'; None when the reason is not a received alert."""
    if not reason:
        return None
    match = _OPENSSL_ALERT_REASON.search(reason)
    return match.group(1).lower() if match else None


# The W24 suites this harness serves with OpenSSL: TLS 1.0 with AES. This OpenSSL has no SSL 3.0,
# RC4 or 3DES (see w24_harness.servers.openssl_server); tlslite-ng serves those.
_OPENSSL_SERVED = {"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA"}


def backend_for(version: str, suite: str) -> str:
    """OpenSSL wherever it can be the peer (the stronger interop check), tlslite-ng elsewhere."""
    return "openssl" if version == "TLS1.0" and suite in _OPENSSL_SERVED else "tlslite"
