"""PKI for the harness: cached RSA keys, legacy re-signing, trustme-based certificates, CA fit.

from w24_harness.pki import CertFactory, check_ca_fit
ca = CertFactory().ca("test CA")                 # RSA-2048, SHA-1, fits the W24's 1300 chars
leaf = ca.issue("localhost", key_bits=1024)      # CN + SAN, SHA-1 signature
check_ca_fit(ca.cert_pem, get_profile("w24")).fits
"""

from __future__ import annotations

from w24_harness.pki.factory import (
    DEFAULT_NOT_BEFORE,
    LAST_UTC_NOT_AFTER,
    CertAuthority,
    CertFactory,
    IssuedCert,
    hash_for_profile,
)
from w24_harness.pki.fit import (
    FitReport,
    ca_text_length,
    check_ca_fit,
    require_ca_fit,
    signature_hash_name,
)
from w24_harness.pki.keys import (
    CachedRSAKeyType,
    cached_key_count,
    fresh_rsa_key,
    labelled_rsa_key,
    rsa_key,
    trustme_key_cache,
)
from w24_harness.pki.resign import SIGNATURE_HASHES, key_identifier, resign, signature_verifies

__all__ = [
    "DEFAULT_NOT_BEFORE",
    "LAST_UTC_NOT_AFTER",
    "SIGNATURE_HASHES",
    "CachedRSAKeyType",
    "CertAuthority",
    "CertFactory",
    "FitReport",
    "IssuedCert",
    "ca_text_length",
    "cached_key_count",
    "check_ca_fit",
    "fresh_rsa_key",
    "hash_for_profile",
    "key_identifier",
    "labelled_rsa_key",
    "require_ca_fit",
    "resign",
    "rsa_key",
    "signature_hash_name",
    "signature_verifies",
    "trustme_key_cache",
]
