"""A certificate set: what the device is given with AT+iCA=, and what the server presents.

The sets are named by `CertSetName`, one member per set a scenario can ask for; each name has one
builder in `w24_harness.pki.sets.BUILDERS`, where the sets are made (lazily, once per profile).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from w24_harness.pki.factory import IssuedCert


class CertSetName(StrEnum):
    """Every certificate set a scenario can name (the value is the name reports show)."""

    BIG_LEAF = "big_leaf"
    CA_1024 = "ca_1024"
    CA_2048 = "ca_2048"
    CA_4096 = "ca_4096"
    CA_512 = "ca_512"
    CA_AT_LIMIT = "ca_at_limit"
    CA_GARBAGE = "ca_garbage"
    CA_MD5 = "ca_md5"
    CA_OVER_LIMIT = "ca_over_limit"
    CA_TOO_LONG = "ca_too_long"
    CA_UNDER_LIMIT = "ca_under_limit"
    CERT_OVER_2K = "cert_over_2k"
    E3_BER_LONG_LENGTH = "e3_ber_long_length"
    E3_BLEICHENBACHER = "e3_bleichenbacher"
    E3_DIGEST_ALGORITHM_MISMATCH = "e3_digest_algorithm_mismatch"
    E3_DIGEST_PARAMS = "e3_digest_params"
    E3_PADDING_NOT_FF = "e3_padding_not_ff"
    E3_VALID = "e3_valid"
    EXPIRED = "expired"
    GARBAGE_JUNK_TAIL = "garbage_junk_tail"
    GARBAGE_NO_SIGNATURE = "garbage_no_signature"
    HUGE_CERTIFICATE = "huge_certificate"
    IMPOSTOR_CA = "impostor_ca"
    IMPOSTOR_CA_AKI = "impostor_ca_aki"
    INTERMEDIATE = "intermediate"
    INTERMEDIATE_UNSENT = "intermediate_unsent"
    ISSUER_NO_KEYCERTSIGN = "issuer_no_keycertsign"
    ISSUER_NOT_CA = "issuer_not_ca"
    KEY1024 = "key1024"
    KEY4096 = "key4096"
    KEY512 = "key512"
    LEAF_AND_ROOT = "leaf_and_root"
    LEAF_UNKNOWN_CRITICAL = "leaf_unknown_critical"
    MD5_LEAF = "md5_leaf"
    NO_CA = "no_ca"
    NOT_YET_VALID = "not_yet_valid"
    OUTER_PARAMS_MISMATCH = "outer_params_mismatch"
    SELF_SIGNED = "self_signed"
    SELF_SIGNED_CA = "self_signed_ca"
    SHA256_CHAIN = "sha256_chain"
    SHA256_LEAF = "sha256_leaf"
    SIGNATURE_BIT_FLIPPED = "signature_bit_flipped"
    SIGNATURE_FIRST_BYTE_FLIPPED = "signature_first_byte_flipped"
    SIGNATURE_LAST_BYTE_FLIPPED = "signature_last_byte_flipped"
    TBS_MODIFIED = "tbs_modified"
    V1_CA = "v1_ca"
    VALID = "valid"
    WRONG_CA = "wrong_ca"
    WRONG_HOST = "wrong_host"
    WRONG_ORDER = "wrong_order"


@dataclass(frozen=True)
class CertSet:
    name: str
    ca_pem: bytes | None  # what the device is given with AT+iCA= (None: cleared)
    server: IssuedCert | None  # what the TLS server presents (None: no server needed)
