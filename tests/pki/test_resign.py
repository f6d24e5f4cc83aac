"""Legacy re-signing: MD5/SHA-1/SHA-256 signatures and key swaps, checked by cryptography and by
the real `openssl verify`."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
import trustme
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import SignatureAlgorithmOID

from w24_harness.pki import CachedRSAKeyType, key_identifier, resign, rsa_key, signature_verifies

OPENSSL = "/usr/bin/openssl"
EXPECTED_OID = {
    "md5": SignatureAlgorithmOID.RSA_WITH_MD5,
    "sha1": SignatureAlgorithmOID.RSA_WITH_SHA1,
    "sha256": SignatureAlgorithmOID.RSA_WITH_SHA256,
}


def openssl_verify(
    directory: Path, ca: x509.Certificate, leaf: x509.Certificate, *untrusted: x509.Certificate
) -> subprocess.CompletedProcess[str]:
    ca_path, leaf_path = directory / "ca.pem", directory / "leaf.pem"
    ca_path.write_bytes(ca.public_bytes(Encoding.PEM))
    leaf_path.write_bytes(leaf.public_bytes(Encoding.PEM))
    command = [OPENSSL, "verify", "-auth_level", "0", "-CAfile", str(ca_path)]
    if untrusted:
        chain_path = directory / "untrusted.pem"
        chain_path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in untrusted))
        command += ["-untrusted", str(chain_path)]
    return subprocess.run(command + [str(leaf_path)], capture_output=True, text=True, timeout=30)


def extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType:
    return cert.extensions.get_extension_for_class(kind).value


@pytest.fixture(scope="module")
def trustme_chain() -> tuple[trustme.CA, x509.Certificate]:
    """A plain trustme RSA CA (SHA-256) and a leaf it issued."""
    ca = trustme.CA(key_type=CachedRSAKeyType("test-resign-ca"), organization_unit_name="resign")
    leaf = ca.issue_cert("localhost", key_type=CachedRSAKeyType("test-resign-leaf"))
    return ca, x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())


@pytest.mark.parametrize("hash_name", ["md5", "sha1", "sha256"])
def test_resigned_chain_verifies_and_names_the_requested_algorithm(
    trustme_chain: tuple[trustme.CA, x509.Certificate], hash_name: str, tmp_path: Path
) -> None:
    ca, leaf = trustme_chain
    new_ca = resign(ca._certificate, ca._private_key, hash_name)
    new_leaf = resign(leaf, ca._private_key, hash_name)

    for cert in (new_ca, new_leaf):
        assert cert.signature_algorithm_oid == EXPECTED_OID[hash_name]
        assert cert.signature_hash_algorithm is not None
        assert cert.signature_hash_algorithm.name == hash_name
        # The TBS copy of the AlgorithmIdentifier must agree with the outer one.
        tbs = asn1_x509.TbsCertificate.load(cert.tbs_certificate_bytes)
        assert tbs["signature"]["algorithm"].dotted == EXPECTED_OID[hash_name].dotted_string
        ca._private_key.public_key().verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
    result = openssl_verify(tmp_path, new_ca, new_leaf)
    assert result.returncode == 0, result.stdout + result.stderr


def test_resign_keeps_names_serial_validity_and_extensions(
    trustme_chain: tuple[trustme.CA, x509.Certificate],
) -> None:
    ca, leaf = trustme_chain
    new_leaf = resign(leaf, ca._private_key, "sha1")
    assert new_leaf.subject == leaf.subject
    assert new_leaf.issuer == leaf.issuer
    assert new_leaf.serial_number == leaf.serial_number
    assert new_leaf.not_valid_before_utc == leaf.not_valid_before_utc
    assert new_leaf.not_valid_after_utc == leaf.not_valid_after_utc
    assert list(new_leaf.extensions) == list(leaf.extensions)
    assert new_leaf.public_key() == leaf.public_key()


@pytest.mark.parametrize("bits", [512, 1024, 4096])
@pytest.mark.parametrize("hash_name", ["md5", "sha1", "sha256"])
def test_key_swap_gives_a_consistent_chain(
    trustme_chain: tuple[trustme.CA, x509.Certificate], bits: int, hash_name: str, tmp_path: Path
) -> None:
    ca, leaf = trustme_chain
    ca_key, leaf_key = rsa_key(bits, 0), rsa_key(bits, 1)
    new_ca = resign(ca._certificate, ca_key, hash_name, public_key=ca_key.public_key())
    new_leaf = resign(leaf, ca_key, hash_name, public_key=leaf_key.public_key(), issuer=new_ca)

    assert new_ca.public_key().key_size == bits
    assert new_leaf.public_key().key_size == bits
    assert new_leaf.public_key() == leaf_key.public_key()
    assert signature_verifies(new_ca, ca_key.public_key())
    assert signature_verifies(new_leaf, ca_key.public_key())
    assert not signature_verifies(new_leaf, leaf_key.public_key())
    # The swapped CA's SKI follows its new key, and the leaf's AKI follows the CA.
    ca_ski = extension(new_ca, x509.SubjectKeyIdentifier).digest
    assert ca_ski == key_identifier(ca_key.public_key())
    assert extension(new_leaf, x509.AuthorityKeyIdentifier).key_identifier == ca_ski
    assert extension(new_leaf, x509.SubjectKeyIdentifier).digest == key_identifier(
        leaf_key.public_key()
    )
    result = openssl_verify(tmp_path, new_ca, new_leaf)
    assert result.returncode == 0, result.stdout + result.stderr


def test_openssl_rejects_a_leaf_whose_aki_was_not_updated(
    trustme_chain: tuple[trustme.CA, x509.Certificate], tmp_path: Path
) -> None:
    """Why resign rewrites the AKI: a stale one makes OpenSSL miss the issuer."""
    ca, leaf = trustme_chain
    ca_key = rsa_key(1024, 0)
    new_ca = resign(ca._certificate, ca_key, "sha1", public_key=ca_key.public_key())
    stale = resign(leaf, ca_key, "sha1", issuer=ca._certificate)
    assert signature_verifies(stale, ca_key.public_key())
    result = openssl_verify(tmp_path, new_ca, stale)
    assert result.returncode != 0
    assert "unable to get local issuer certificate" in result.stdout + result.stderr


def test_openssl_rejects_a_tampered_signature(
    trustme_chain: tuple[trustme.CA, x509.Certificate], tmp_path: Path
) -> None:
    ca, leaf = trustme_chain
    new_ca = resign(ca._certificate, ca._private_key, "sha1")
    wrong_key = rsa_key(2048, 5)
    forged = resign(leaf, wrong_key, "sha1", issuer=new_ca)
    assert not signature_verifies(forged, ca._private_key.public_key())
    result = openssl_verify(tmp_path, new_ca, forged)
    assert result.returncode != 0
    assert "signature failure" in result.stdout + result.stderr


def test_validity_override_uses_utctime_before_2050(
    trustme_chain: tuple[trustme.CA, x509.Certificate],
) -> None:
    ca, _ = trustme_chain
    end = dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    original = asn1_x509.Certificate.load(ca._certificate.public_bytes(Encoding.DER))
    assert original["tbs_certificate"]["validity"]["not_after"].name == "general_time"
    new_ca = resign(ca._certificate, ca._private_key, "sha1", not_after=end)
    parsed = asn1_x509.Certificate.load(new_ca.public_bytes(Encoding.DER))
    assert parsed["tbs_certificate"]["validity"]["not_after"].name == "utc_time"
    assert new_ca.not_valid_after_utc == end
    assert new_ca.not_valid_before_utc == ca._certificate.not_valid_before_utc


def test_rejects_unknown_hash_and_non_rsa_issuer(
    trustme_chain: tuple[trustme.CA, x509.Certificate],
) -> None:
    ca, leaf = trustme_chain
    with pytest.raises(ValueError, match="unsupported signature hash 'sha512'"):
        resign(leaf, ca._private_key, "sha512")
    with pytest.raises(TypeError, match="must be RSA"):
        resign(leaf, ec.generate_private_key(ec.SECP256R1()), "sha1")  # type: ignore[arg-type]
