"""What the servers need of the TLS-facts table, in the shape each backend uses it.

The facts themselves (names, code points, wire versions) live in `w24_harness.tlsfacts`.
"""

from __future__ import annotations

import re

from w24_harness.tlsfacts import (
    SUITE_TABLE,
    VERSION_FACTS,
    W24_SUITES,
    ProtocolVersion,
    suite_by_openssl,
    version_from_openssl,
)
from w24_harness.vocab import Backend

# IANA name -> OpenSSL name, and back.
IANA_TO_OPENSSL: dict[str, str] = {s.iana: s.openssl for s in SUITE_TABLE}
# IANA name -> (tlslite cipher name, tlslite MAC name); static RSA key exchange only.
IANA_TO_TLSLITE: dict[str, tuple[str, str]] = {s.iana: s.tlslite for s in SUITE_TABLE if s.tlslite}
assert set(IANA_TO_TLSLITE) == set(W24_SUITES)

_OPENSSL_ALERT_REASON = re.compile(r"(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z0-9_]+)")


def openssl_to_iana(name: str) -> str:
    found = suite_by_openssl(name)
    return found.iana if found else name


def openssl_version(name: str) -> str:
    """What SSLSocket.version() returned, as a ProtocolVersion where the table knows it."""
    return version_from_openssl(name) or name


def version_range(versions: tuple[str, ...]) -> tuple[ProtocolVersion, ProtocolVersion]:
    """(lowest, highest) of the named versions; ValueError on an unknown name."""
    known = {str(v) for v in VERSION_FACTS}
    unknown = [v for v in versions if v not in known]
    if unknown:
        raise ValueError(f"unknown protocol version(s) {unknown}; known: {sorted(known)}")
    ordered = sorted((ProtocolVersion(v) for v in versions), key=lambda v: v.wire)
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


def backend_for(version: str, suite: str) -> Backend:
    """OpenSSL wherever it can be the peer (the stronger interop check), tlslite-ng elsewhere."""
    served = version == ProtocolVersion.TLS1 and suite in _OPENSSL_SERVED
    return Backend.OPENSSL if served else Backend.TLSLITE
