"""Local TLS servers for the device under test to dial.

Two backends behind one API: "openssl" (Python's ssl module: a real TLS 1.0..1.2 peer) and
"tlslite" (tlslite-ng: SSL 3.0, RC4 and 3DES suites, and fault injection).
"""

from __future__ import annotations

from w24_harness.servers.base import (
    OVERSIZE_RECORD_BYTES,
    CertMaterial,
    ClientHelloView,
    ConnectionReport,
    ServerConfig,
    StaticCert,
)
from w24_harness.servers.misbehaviour.language import REGISTRY, Misbehaviour
from w24_harness.servers.names import IANA_TO_OPENSSL, IANA_TO_TLSLITE, backend_for
from w24_harness.servers.openssl_server import available_openssl_suites
from w24_harness.servers.payload import payload, sha256_hex
from w24_harness.servers.server import TLSServer

MISBEHAVIOURS = REGISTRY

__all__ = [
    "IANA_TO_OPENSSL",
    "IANA_TO_TLSLITE",
    "MISBEHAVIOURS",
    "OVERSIZE_RECORD_BYTES",
    "CertMaterial",
    "ClientHelloView",
    "Misbehaviour",
    "ConnectionReport",
    "ServerConfig",
    "StaticCert",
    "TLSServer",
    "available_openssl_suites",
    "backend_for",
    "payload",
    "sha256_hex",
]
