"""Certificate factory: trustme CAs and leaves, re-signed with the hash a device accepts.

trustme stays the source of names, serials and extensions; the harness adds what a 2008 client
needs and trustme does not do: RSA keys of any size (through the key cache, see keys.py), MD5 or
SHA-1 signatures (resign.py), a CN on every leaf (trustme leaves have only a SAN), and validity
dates that encode as UTCTime (trustme CAs run to the year 3000, a GeneralizedTime an old parser
may reject; everything made here ends by 2049-12-31 unless the caller asks otherwise).

Keys: every CA name has its own cached key (label ``ca:<name>``), so differently named CAs never
verify each other's signatures and a second factory making the same CA name costs no keygen. All
leaves of one size share one cached key (label ``leaf``); self-signed certificates share another.
``CertFactory(cache_keys=False)`` makes fresh keys instead, for material a person will deploy.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from w24_harness.pki.keys import CachedRSAKeyType
from w24_harness.pki.resign import resign
from w24_harness.profiles.table import DeviceProfile

DEFAULT_NOT_BEFORE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# Last moment that still encodes as UTCTime (RFC 5280 §4.1.2.5).
LAST_UTC_NOT_AFTER = dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
# Order of preference when a profile accepts several signature hashes.
LEGACY_HASH_PREFERENCE = ("sha1", "md5", "sha256")


def hash_for_profile(profile: DeviceProfile) -> str:
    """The signature hash to use for a profile: the legacy one it accepts, SHA-1 first."""
    for name in LEGACY_HASH_PREFERENCE:
        if name in profile.signature_hashes:
            return name
    accepted = ", ".join(profile.signature_hashes) or "none"
    raise ValueError(f"profile {profile.name!r} accepts no hash the factory can sign ({accepted})")


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def _is_self_issued(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


def write_key_file(path: Path, data: bytes) -> None:
    """Write a key file readable by its owner only, also when it already existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class IssuedCert:
    """A server (leaf) certificate, its private key and the intermediates sent after it."""

    cert_pem: bytes
    key_pem: bytes
    chain_pem: bytes = b""

    @cached_property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @cached_property
    def key(self) -> rsa.RSAPrivateKey:
        key = load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError(f"leaf key is {type(key).__name__}, not RSA")
        return key

    @property
    def key_bits(self) -> int:
        public_key = self.cert.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise TypeError(f"leaf key is {type(public_key).__name__}, not RSA")
        return public_key.key_size

    @property
    def fullchain_pem(self) -> bytes:
        """What a server presents: the leaf, then the intermediates."""
        return self.cert_pem + self.chain_pem

    def write(self, directory: Path, stem: str = "server") -> tuple[Path, Path]:
        """Write <stem>.pem (leaf + chain) and <stem>.key (mode 0600); return both paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert_path.write_bytes(self.fullchain_pem)
        write_key_file(key_path, self.key_pem)
        return cert_path, key_path


@dataclass(frozen=True)
class CertAuthority:
    """A CA (root or intermediate) that issues legacy-signed RSA certificates.

    chain_pem: for an intermediate, the intermediates above it (nearest first), which its leaves
    carry after it; empty for a root.
    """

    name: str
    cert_pem: bytes
    key_pem: bytes
    chain_pem: bytes = b""
    cache_keys: bool = field(default=True, compare=False)
    # The key object when the factory already holds it: loading an RSA PEM re-validates the key,
    # which costs ~35 ms for RSA-2048, more than issuing a certificate.
    _key: rsa.RSAPrivateKey | None = field(default=None, repr=False, compare=False)

    @cached_property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @cached_property
    def key(self) -> rsa.RSAPrivateKey:
        if self._key is not None:
            return self._key
        key = load_pem_private_key(self.key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            kind = type(key).__name__
            raise ValueError(f"CA {self.name!r}: key is {kind}; only RSA CAs can sign here")
        return key

    @property
    def is_root(self) -> bool:
        return _is_self_issued(self.cert)

    @property
    def chain_for_children(self) -> bytes:
        """Intermediates a certificate issued by this CA is presented with."""
        return b"" if self.is_root else self.cert_pem + self.chain_pem

    @cached_property
    def _trustme(self) -> trustme.CA:
        """This CA as a trustme object, so trustme writes the children's names and extensions."""
        try:
            self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            raise ValueError(
                f"CA {self.name!r} has no SubjectKeyIdentifier extension, which trustme needs "
                "to issue from it; re-create the CA with `w24 certs ca` or add the extension"
            ) from None
        # What trustme.CA.from_pem does, minus its throwaway keygen and second key load.
        adopted = trustme.CA.__new__(trustme.CA)
        adopted.parent_cert = None
        adopted._certificate = self.cert
        adopted._private_key = self.key
        try:
            limit = self.cert.extensions.get_extension_for_class(x509.BasicConstraints)
            adopted._path_length = 9 if limit.value.path_length is None else limit.value.path_length
        except x509.ExtensionNotFound:
            adopted._path_length = 9
        return adopted

    def _key_type(self, label: str, bits: int) -> CachedRSAKeyType:
        return CachedRSAKeyType(label, bits, fresh=not self.cache_keys)

    def issue(
        self,
        *hostnames: str,
        key_bits: int = 2048,
        hash_name: str = "sha1",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        common_name: str | None = None,
        organization: str | None = None,
    ) -> IssuedCert:
        """A server certificate for `hostnames` (SAN) with CN = common_name or the first name,
        and O = organization (trustme's "trustme vX" when None).

        Dates default to 2000-01-01 .. 2049-12-31 23:59:59 UTC; pass a past not_after for an
        expired leaf, a future not_before for a not-yet-valid one.
        """
        if not hostnames:
            # trustme would write an empty (critical) SAN, which RFC 5280 forbids.
            raise ValueError("give at least one hostname (it goes in the SAN)")
        leaf = self._trustme.issue_cert(
            *hostnames,
            common_name=common_name or hostnames[0],
            organization_name=organization,
            not_before=not_before or DEFAULT_NOT_BEFORE,
            not_after=not_after or LAST_UTC_NOT_AFTER,
            key_type=self._key_type("leaf", key_bits),  # type: ignore[arg-type]
        )
        draft = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
        cert = resign(draft, self.key, hash_name, issuer=self.cert)
        return IssuedCert(_pem(cert), leaf.private_key_pem.bytes(), self.chain_for_children)

    def intermediate(
        self, name: str, key_bits: int = 2048, hash_name: str = "sha1"
    ) -> CertAuthority:
        """An intermediate CA signed by this one; the leaves it issues carry it in chain_pem."""
        parent = self._trustme
        if parent._path_length == 0:
            raise ValueError(f"CA {self.name!r} has path length 0: it cannot sign a CA")
        child = trustme.CA(
            parent_cert=parent,
            path_length=parent._path_length - 1,
            organization_unit_name=name,
            key_type=self._key_type(f"ca:{name}", key_bits),  # type: ignore[arg-type]
        )
        cert = resign(
            child._certificate, self.key, hash_name, issuer=self.cert, not_after=LAST_UTC_NOT_AFTER
        )
        return CertAuthority(
            name,
            _pem(cert),
            child.private_key_pem.bytes(),
            chain_pem=self.chain_for_children,
            cache_keys=self.cache_keys,
            _key=_rsa(child._private_key),
        )


def _rsa(key: object) -> rsa.RSAPrivateKey:
    """trustme's key, which the cached RSA key type always makes RSA."""
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"expected an RSA key from trustme, got {type(key).__name__}")
    return key


class CertFactory:
    """Makes and caches CAs; one per test session is the intended use."""

    def __init__(self, *, cache_keys: bool = True) -> None:
        self.cache_keys = cache_keys
        self._cas: dict[tuple[str, int, str, str | None], CertAuthority] = {}

    def _key_type(self, label: str, bits: int) -> CachedRSAKeyType:
        return CachedRSAKeyType(label, bits, fresh=not self.cache_keys)

    def ca(
        self,
        name: str,
        *,
        key_bits: int = 2048,
        hash_name: str = "sha1",
        organization: str | None = None,
    ) -> CertAuthority:
        """A self-signed root CA (OU = name, O = organization, else trustme's "trustme vX");
        the same arguments return the same CA object."""
        cache_key = (name, key_bits, hash_name, organization)
        found = self._cas.get(cache_key)
        if found is not None:
            return found
        made = trustme.CA(
            organization_unit_name=name,
            organization_name=organization,
            key_type=self._key_type(f"ca:{name}", key_bits),  # type: ignore[arg-type]
        )
        key = _rsa(made._private_key)
        cert = resign(made._certificate, key, hash_name, not_after=LAST_UTC_NOT_AFTER)
        authority = CertAuthority(
            name,
            _pem(cert),
            made.private_key_pem.bytes(),
            cache_keys=self.cache_keys,
            _key=key,
        )
        self._cas[cache_key] = authority
        return authority

    def self_signed(
        self, *hostnames: str, key_bits: int = 2048, hash_name: str = "sha1"
    ) -> IssuedCert:
        """A leaf signed by its own key (issuer = subject), with trustme's leaf extensions.

        It keeps basicConstraints CA:FALSE: it is a server certificate nobody vouches for.
        """
        if not hostnames:
            raise ValueError("give at least one hostname")
        key_type = self._key_type("self-signed", key_bits)
        key = key_type._generate_key()
        # A throwaway trustme CA holding the same key writes the leaf's names and extensions;
        # the issuer name is then set to the subject, which trustme cannot do itself.
        template_ca = trustme.CA(organization_unit_name="self-signed", key_type=_Fixed(key))  # type: ignore[arg-type]
        leaf = template_ca.issue_cert(
            *hostnames,
            common_name=hostnames[0],
            not_before=DEFAULT_NOT_BEFORE,
            not_after=LAST_UTC_NOT_AFTER,
            key_type=_Fixed(key),  # type: ignore[arg-type]
        )
        draft = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
        builder = (
            x509.CertificateBuilder()
            .subject_name(draft.subject)
            .issuer_name(draft.subject)
            .public_key(key.public_key())
            .serial_number(draft.serial_number)
            .not_valid_before(draft.not_valid_before_utc)
            .not_valid_after(draft.not_valid_after_utc)
        )
        for extension in draft.extensions:
            if not isinstance(extension.value, x509.AuthorityKeyIdentifier):
                builder = builder.add_extension(extension.value, extension.critical)
        cert = resign(builder.sign(key, hashes.SHA256()), key, hash_name)
        return IssuedCert(_pem(cert), leaf.private_key_pem.bytes())

    for_profile = staticmethod(hash_for_profile)


class _Fixed:
    """A trustme key type that always hands out one given key."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key

    def _generate_key(self) -> rsa.RSAPrivateKey:
        return self.key
