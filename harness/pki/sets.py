"""Named certificate sets for the scenario catalogue: what to load into the device, what the
server presents. Built lazily and cached, one CertSets per session and profile."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from w24_harness.pki.certset import CertSet, CertSetName
from w24_harness.pki.factory import CertFactory, IssuedCert, hash_for_profile
from w24_harness.pki.identity import IdentitySets, cert_builder
from w24_harness.pki.keys import rsa_key
from w24_harness.pki.resign import resign
from w24_harness.pki.sized import sized_ca
from w24_harness.profiles.table import DeviceProfile

GARBAGE_CA = (
    b"-----BEGIN CERTIFICATE-----\n"
    b"VGhpcyBpcyBub3QgYSBjZXJ0aWZpY2F0ZSwganVzdCBzb21lIHRleHQu\n"
    b"-----END CERTIFICATE-----\n"
)
HUGE_CHAIN_COPIES = 60


class CertSets(IdentitySets):  # identity sets: w24_harness.pki.identity
    def __init__(self, profile: DeviceProfile, host: str = "127.0.0.1") -> None:
        self.profile = profile
        self.names = tuple(dict.fromkeys((host, "localhost")))
        self.hash = hash_for_profile(profile)
        self.factory = CertFactory()
        self._cache: dict[str, CertSet] = {}

    @property
    def root(self):
        return self.factory.ca("w24-harness CA", hash_name=self.hash)

    def get(self, name: CertSetName) -> CertSet:
        found = self._cache.get(name)
        if found is None:
            build = BUILDERS.get(CertSetName(name))  # ValueError names an unknown set
            if build is None:
                raise KeyError(f"certificate set {name!r} has no builder")
            found = self._cache[name] = build(self)
        return found

    def _leaf(self, *, extra: list[str] | None = None, **kwargs) -> IssuedCert:
        kwargs.setdefault("hash_name", self.hash)
        return self.root.issue(*self.names, *(extra or []), **kwargs)

    def _with_root(self, name: str, server: IssuedCert) -> CertSet:
        return CertSet(name, self.root.cert_pem, server)

    def _set_valid(self) -> CertSet:
        return self._with_root("valid", self._leaf())

    def _set_no_ca(self) -> CertSet:
        return CertSet("no_ca", None, self._leaf())

    def _set_wrong_ca(self) -> CertSet:
        other = self.factory.ca("unrelated CA", hash_name=self.hash)
        return CertSet("wrong_ca", other.cert_pem, self._leaf())

    def _set_self_signed(self) -> CertSet:
        return self._with_root(
            "self_signed", self.factory.self_signed(*self.names, hash_name=self.hash)
        )

    def _intermediate_leaf(self) -> IssuedCert:
        inter = self.root.intermediate("w24-harness issuing CA", hash_name=self.hash)
        return inter.issue(*self.names, hash_name=self.hash)

    def _set_intermediate(self) -> CertSet:
        return self._with_root("intermediate", self._intermediate_leaf())

    def _set_intermediate_unsent(self) -> CertSet:
        leaf = self._intermediate_leaf()
        return self._with_root("intermediate_unsent", IssuedCert(leaf.cert_pem, leaf.key_pem))

    def _set_expired(self) -> CertSet:
        now = dt.datetime.now(dt.UTC)
        leaf = self._leaf(
            not_before=now - dt.timedelta(days=60), not_after=now - dt.timedelta(days=1)
        )
        return self._with_root("expired", leaf)

    def _set_not_yet_valid(self) -> CertSet:
        now = dt.datetime.now(dt.UTC)
        leaf = self._leaf(
            not_before=now + dt.timedelta(days=30), not_after=now + dt.timedelta(days=60)
        )
        return self._with_root("not_yet_valid", leaf)

    def _set_wrong_host(self) -> CertSet:
        return self._with_root(
            "wrong_host", self.root.issue("other-host.invalid", hash_name=self.hash)
        )

    def _set_sha256_chain(self) -> CertSet:
        ca = self.factory.ca("w24-harness SHA-256 CA", hash_name="sha256")
        return CertSet("sha256_chain", ca.cert_pem, ca.issue(*self.names, hash_name="sha256"))

    def _set_sha256_leaf(self) -> CertSet:
        return self._with_root("sha256_leaf", self._leaf(hash_name="sha256"))

    def _set_md5_leaf(self) -> CertSet:
        return self._with_root("md5_leaf", self._leaf(hash_name="md5"))

    def _set_big_leaf(self) -> CertSet:
        # A valid leaf signed by the root whose Certificate message is over 2 KB (padding host
        # names in the SAN): only a record limit applied to the handshake can refuse it.
        padding = [f"padding-{i:02d}-{'x' * 40}.invalid" for i in range(48)]
        return self._with_root("big_leaf", self._leaf(extra=padding))

    def _set_key512(self) -> CertSet:
        return self._with_root("key512", self._leaf(key_bits=512))

    def _set_key1024(self) -> CertSet:
        return self._with_root("key1024", self._leaf(key_bits=1024))

    def _set_key4096(self) -> CertSet:
        return self._with_root("key4096", self._leaf(key_bits=4096))

    def _set_cert_over_2k(self) -> CertSet:
        # The valid leaf plus two certificates no check needs (the root, an unrelated CA): a
        # Certificate message over 2 KB whose chain is as trivially valid as "valid".
        extra = self.root.cert_pem + self.factory.ca("unrelated CA", hash_name=self.hash).cert_pem
        leaf = self._leaf()
        return self._with_root("cert_over_2k", IssuedCert(leaf.cert_pem, leaf.key_pem, extra))

    def _set_huge_certificate(self) -> CertSet:
        # The valid leaf, then the root HUGE_CHAIN_COPIES times: a ~50 KB Certificate message.
        leaf = self._leaf()
        extra = self.root.cert_pem * HUGE_CHAIN_COPIES
        return self._with_root("huge_certificate", IssuedCert(leaf.cert_pem, leaf.key_pem, extra))

    def _set_ca_too_long(self) -> CertSet:
        return CertSet("ca_too_long", oversize_ca(self.profile.ca_max_chars, self.hash), None)

    def _set_ca_garbage(self) -> CertSet:
        return CertSet("ca_garbage", GARBAGE_CA, None)

    def _set_ca_4096(self) -> CertSet:
        return CertSet("ca_4096", compact_ca(4096, self.hash), None)

    # Boundary values of the CA parameter (w24_harness.scenarios.limits): its length exactly
    # at, one under and one over the profile's limit; the key sizes and hash §12.2 names.
    def _set_ca_at_limit(self) -> CertSet:
        return CertSet("ca_at_limit", sized_ca(self.profile.ca_max_chars, self.hash), None)

    def _set_ca_under_limit(self) -> CertSet:
        return CertSet("ca_under_limit", sized_ca(self.profile.ca_max_chars - 1, self.hash), None)

    def _set_ca_over_limit(self) -> CertSet:
        return CertSet("ca_over_limit", sized_ca(self.profile.ca_max_chars + 1, self.hash), None)

    def _set_ca_512(self) -> CertSet:
        return CertSet("ca_512", compact_ca(512, self.hash), None)

    def _set_ca_1024(self) -> CertSet:
        return CertSet("ca_1024", compact_ca(1024, self.hash), None)

    def _set_ca_2048(self) -> CertSet:
        return CertSet("ca_2048", compact_ca(2048, self.hash), None)

    def _set_ca_md5(self) -> CertSet:
        return CertSet("ca_md5", compact_ca(1024, "md5"), None)


def compact_ca(key_bits: int, hash_name: str) -> bytes:
    """A CA certificate for a `key_bits` RSA key whose PEM stays short: one short name, only
    basicConstraints, and signed by a 1024-bit issuer key (a trust anchor need not be
    self-signed; the device never checks its own signature). A self-signed 4096-bit CA is 1,883
    characters, over the w24 limit of 1,300, so its refusal could be the length check alone;
    this one is about 1,210, so a refusal can only be its key size."""
    key, signer = rsa_key(key_bits), rsa_key(1024)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"w24 CA {key_bits}")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "w24 root 1024")])
    cert = _ca_builder(subject, issuer, key.public_key()).sign(signer, hashes.SHA256())
    return resign(cert, signer, hash_name).public_bytes(Encoding.PEM)


def _ca_builder(
    subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey
) -> x509.CertificateBuilder:
    """A CA certificate (basicConstraints CA:TRUE) before its signature."""
    return cert_builder(subject, issuer, public_key).add_extension(
        x509.BasicConstraints(ca=True, path_length=None), critical=True
    )


def oversize_ca(limit: int, hash_name: str) -> bytes:
    """A well-formed RSA-2048 CA whose PEM is just over `limit` characters: only its size is
    wrong, so a refusal can only be the size check."""
    key = rsa_key(2048)
    units: list[x509.NameAttribute] = []
    while True:
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "w24-harness oversize CA"), *units]
        )
        cert = (
            _ca_builder(name, name, key.public_key())
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        pem = resign(cert, key, hash_name).public_bytes(Encoding.PEM)
        if len(pem) > limit:
            return pem
        units.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "padding " + "x" * 50))


# Every set's builder, by name: the one registry `CertSets.get` consults.
BUILDERS: dict[CertSetName, Callable[[CertSets], CertSet]] = {
    CertSetName.OUTER_PARAMS_MISMATCH: CertSets._set_outer_params_mismatch,
    CertSetName.CA_AT_LIMIT: CertSets._set_ca_at_limit,
    CertSetName.CA_UNDER_LIMIT: CertSets._set_ca_under_limit,
    CertSetName.CA_OVER_LIMIT: CertSets._set_ca_over_limit,
    CertSetName.CA_512: CertSets._set_ca_512,
    CertSetName.CA_1024: CertSets._set_ca_1024,
    CertSetName.CA_2048: CertSets._set_ca_2048,
    CertSetName.CA_MD5: CertSets._set_ca_md5,
    CertSetName.VALID: CertSets._set_valid,
    CertSetName.NO_CA: CertSets._set_no_ca,
    CertSetName.WRONG_CA: CertSets._set_wrong_ca,
    CertSetName.SELF_SIGNED: CertSets._set_self_signed,
    CertSetName.INTERMEDIATE: CertSets._set_intermediate,
    CertSetName.INTERMEDIATE_UNSENT: CertSets._set_intermediate_unsent,
    CertSetName.EXPIRED: CertSets._set_expired,
    CertSetName.NOT_YET_VALID: CertSets._set_not_yet_valid,
    CertSetName.WRONG_HOST: CertSets._set_wrong_host,
    CertSetName.SHA256_CHAIN: CertSets._set_sha256_chain,
    CertSetName.SHA256_LEAF: CertSets._set_sha256_leaf,
    CertSetName.MD5_LEAF: CertSets._set_md5_leaf,
    CertSetName.BIG_LEAF: CertSets._set_big_leaf,
    CertSetName.KEY512: CertSets._set_key512,
    CertSetName.KEY1024: CertSets._set_key1024,
    CertSetName.KEY4096: CertSets._set_key4096,
    CertSetName.CERT_OVER_2K: CertSets._set_cert_over_2k,
    CertSetName.HUGE_CERTIFICATE: CertSets._set_huge_certificate,
    CertSetName.CA_TOO_LONG: CertSets._set_ca_too_long,
    CertSetName.CA_GARBAGE: CertSets._set_ca_garbage,
    CertSetName.CA_4096: CertSets._set_ca_4096,
    CertSetName.IMPOSTOR_CA: CertSets._set_impostor_ca,
    CertSetName.IMPOSTOR_CA_AKI: CertSets._set_impostor_ca_aki,
    CertSetName.SIGNATURE_BIT_FLIPPED: CertSets._set_signature_bit_flipped,
    CertSetName.SIGNATURE_FIRST_BYTE_FLIPPED: CertSets._set_signature_first_byte_flipped,
    CertSetName.SIGNATURE_LAST_BYTE_FLIPPED: CertSets._set_signature_last_byte_flipped,
    CertSetName.TBS_MODIFIED: CertSets._set_tbs_modified,
    CertSetName.E3_VALID: CertSets._set_e3_valid,
    CertSetName.E3_BLEICHENBACHER: CertSets._set_e3_bleichenbacher,
    CertSetName.E3_BER_LONG_LENGTH: CertSets._set_e3_ber_long_length,
    CertSetName.E3_PADDING_NOT_FF: CertSets._set_e3_padding_not_ff,
    CertSetName.E3_DIGEST_ALGORITHM_MISMATCH: CertSets._set_e3_digest_algorithm_mismatch,
    CertSetName.E3_DIGEST_PARAMS: CertSets._set_e3_digest_params,
    CertSetName.LEAF_AND_ROOT: CertSets._set_leaf_and_root,
    CertSetName.WRONG_ORDER: CertSets._set_wrong_order,
    CertSetName.GARBAGE_NO_SIGNATURE: CertSets._set_garbage_no_signature,
    CertSetName.GARBAGE_JUNK_TAIL: CertSets._set_garbage_junk_tail,
    CertSetName.V1_CA: CertSets._set_v1_ca,
    CertSetName.ISSUER_NOT_CA: CertSets._set_issuer_not_ca,
    CertSetName.ISSUER_NO_KEYCERTSIGN: CertSets._set_issuer_no_keycertsign,
    CertSetName.LEAF_UNKNOWN_CRITICAL: CertSets._set_leaf_unknown_critical,
    CertSetName.SELF_SIGNED_CA: CertSets._set_self_signed_ca,
}
