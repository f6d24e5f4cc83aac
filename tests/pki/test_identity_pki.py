"""The certificate-identity sets (w24_harness.pki.identity) are what their names say, checked
with independent tools: the OpenSSL command line, cryptography, and tlslite-ng's parser (which
the TLS server uses to send them)."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from functools import cache
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tlslite.x509 import X509

from w24_harness.pki.fit import check_ca_fit, pem_certificate_blocks
from w24_harness.pki.identity import (
    DIGEST_INFO_PREFIX,
    ber_long_length_signature,
    bleichenbacher_2006,
    digest_params_signature,
    e3_key,
)
from w24_harness.pki.sets import CertSet, CertSets
from w24_harness.profiles.table import W24

OPENSSL = "/usr/bin/openssl"


@cache
def sets() -> CertSets:
    return CertSets(W24, host="device.example")


def served(name: str) -> list[bytes]:
    """The DER of each certificate entry the server sends for a set."""
    certs: CertSet = sets().get(name)
    assert certs.server is not None
    blocks = pem_certificate_blocks(certs.server.fullchain_pem)
    return [base64.b64decode(b"".join(block.splitlines()[1:-1])) for block in blocks]


def leaf(name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(served(name)[0])


def ca(name: str) -> x509.Certificate:
    pem = sets().get(name).ca_pem
    assert pem is not None
    return x509.load_pem_x509_certificate(pem)


def strictly_verifies(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and cert.signature_hash_algorithm is not None
    try:
        key.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            padding.PKCS1v15(),
            cert.signature_hash_algorithm,
        )
    except InvalidSignature:
        return False
    return True


def block_of(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """The PKCS#1 encryption block the signature opens to under the issuer's public key."""
    numbers = issuer.public_key().public_numbers()  # type: ignore[union-attr]
    k = (numbers.n.bit_length() + 7) // 8
    return pow(int.from_bytes(cert.signature, "big"), numbers.e, numbers.n).to_bytes(k, "big")


def test_e3_ca_has_exponent_3_and_fits_the_w24() -> None:
    e3 = ca("e3_valid")
    assert e3.public_key().public_numbers().e == 3  # type: ignore[union-attr]
    pem = sets().get("e3_valid").ca_pem
    assert check_ca_fit(pem, W24.with_changes(ca_small_exponent=True)).fits
    refusing = W24.with_changes(ca_small_exponent=False)
    assert any("exponent is 3" in p for p in check_ca_fit(pem, refusing).problems)
    # w24 does not say (spec §12.2 states key sizes only): not refused, but a warning.
    report = check_ca_fit(pem, W24)
    assert report.fits
    assert any("exponent is 3" in w for w in report.warnings)


def test_bleichenbacher_forgery_needs_only_the_public_key() -> None:
    forged = leaf("e3_bleichenbacher")
    e3 = ca("e3_bleichenbacher")
    public = e3.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    # Made again from the public key alone, the forgery is the same bytes.
    assert bleichenbacher_2006(forged, public, "sha1") == forged.signature
    s = int.from_bytes(forged.signature, "big")
    assert s**3 < public.public_numbers().n  # a plain cube: no modular reduction
    block = block_of(forged, e3)
    prefix = b"\x00\x01" + b"\xff" * 8 + b"\x00" + DIGEST_INFO_PREFIX["sha1"]
    assert block.startswith(prefix)
    wanted = hashlib.sha1(forged.tbs_certificate_bytes).digest()
    assert block[len(prefix) : len(prefix) + 20] == wanted
    assert block[len(prefix) + 20 :] != b""  # the garbage a lenient parser ignores
    assert not strictly_verifies(forged, e3)


@pytest.mark.parametrize(
    ("set_name", "make"),
    [
        ("e3_ber_long_length", ber_long_length_signature),
        ("e3_digest_params", digest_params_signature),
    ],
)
def test_malformed_digest_info_is_a_real_rsa_operation(set_name: str, make) -> None:
    forged, e3 = leaf(set_name), ca(set_name)
    assert make(forged, e3_key(), "sha1") == forged.signature
    block = block_of(forged, e3)
    digest = hashlib.sha1(forged.tbs_certificate_bytes).digest()
    assert block.startswith(b"\x00\x01\xff") and block.endswith(digest)
    standard = DIGEST_INFO_PREFIX["sha1"] + digest
    assert not block.endswith(b"\x00" + standard)  # the DigestInfo is not the DER one
    assert not strictly_verifies(forged, e3)


def test_e3_control_leaf_verifies() -> None:
    assert strictly_verifies(leaf("e3_valid"), ca("e3_valid"))


def _openssl_verify(tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    certs = sets().get(name)
    ders = served(name)
    ca_file, leaf_file = tmp_path / "ca.pem", tmp_path / "leaf.der"
    ca_file.write_bytes(certs.ca_pem or b"")
    leaf_file.write_bytes(ders[0])
    pem = subprocess.run(
        [OPENSSL, "x509", "-inform", "DER", "-in", str(leaf_file)],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    (tmp_path / "leaf.pem").write_bytes(pem)
    return subprocess.run(
        [
            OPENSSL,
            "verify",
            "-auth_level",
            "0",
            "-CAfile",
            str(ca_file),
            str(tmp_path / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("impostor_ca", False),
        ("impostor_ca_aki", False),
        ("signature_bit_flipped", False),
        ("tbs_modified", False),
        ("e3_valid", True),
        ("e3_bleichenbacher", False),
        ("e3_ber_long_length", False),
        ("e3_digest_params", False),
        ("e3_padding_not_ff", False),
        ("e3_digest_algorithm_mismatch", False),
        ("signature_first_byte_flipped", False),
        ("signature_last_byte_flipped", False),
        ("leaf_and_root", True),
        ("v1_ca", True),
        ("self_signed_ca", True),
    ],
)
def test_openssl_command_line_agrees(tmp_path: Path, name: str, ok: bool) -> None:
    result = _openssl_verify(tmp_path, name)
    assert (result.returncode == 0) is ok, result.stdout + result.stderr


def test_impostor_has_the_roots_name_and_another_key() -> None:
    root = sets().root.cert
    for name, has_aki in (("impostor_ca", False), ("impostor_ca_aki", True)):
        cert = leaf(name)
        assert cert.issuer == root.subject
        assert not strictly_verifies(cert, root)
        try:
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        except x509.ExtensionNotFound:
            aki = None
        assert (aki is not None) is has_aki
        if aki is not None:
            ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            assert aki.key_identifier != ski.digest


def test_wrong_order_puts_an_untrusted_certificate_with_the_leaf_key_first() -> None:
    first, second = (x509.load_der_x509_certificate(d) for d in served("wrong_order"))
    root = sets().root.cert
    assert first.public_key() == second.public_key()
    assert first.issuer != root.subject
    assert strictly_verifies(second, root)


def test_leaf_and_root_sends_the_loaded_root_second() -> None:
    ders = served("leaf_and_root")
    assert len(ders) == 2
    assert x509.load_der_x509_certificate(ders[1]) == sets().root.cert


@pytest.mark.parametrize("name", ["garbage_no_signature", "garbage_junk_tail"])
def test_garbage_entries_are_no_x509_yet_the_server_can_send_them(name: str) -> None:
    der = served(name)[0]
    with pytest.raises(ValueError):
        x509.load_der_x509_certificate(der)
    parsed = subprocess.run(
        [OPENSSL, "x509", "-inform", "DER", "-noout"], input=der, capture_output=True, timeout=30
    )
    assert parsed.returncode != 0
    # tlslite-ng reads only the TBS and algorithm, so its server sends these bytes as they are.
    tlslite_view = X509()
    tlslite_view.parseBinary(der)
    assert bytes(tlslite_view.bytes) == der


def test_v1_ca_and_leaf_have_no_extensions() -> None:
    for cert in (ca("v1_ca"), leaf("v1_ca")):
        assert cert.version is x509.Version.v1
        assert len(cert.extensions) == 0
    assert check_ca_fit(sets().get("v1_ca").ca_pem, W24).fits


def test_self_signed_server_certificate_is_its_own_ca() -> None:
    cert = leaf("self_signed_ca")
    assert cert == ca("self_signed_ca")
    assert cert.issuer == cert.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert check_ca_fit(sets().get("self_signed_ca").ca_pem, W24).fits


def test_issuer_not_ca_is_refused_only_while_the_profile_requires_the_flag() -> None:
    pem = sets().get("issuer_not_ca").ca_pem
    requiring = check_ca_fit(pem, W24.with_changes(ca_requires_ca_flag=True))
    assert any("CA:FALSE" in p for p in requiring.problems)
    assert check_ca_fit(pem, W24.with_changes(ca_requires_ca_flag=False)).fits
    # Unknown on w24: a correct firmware may take it, so the fit check only warns.
    report = check_ca_fit(pem, W24)
    assert report.fits and any("CA:FALSE" in w for w in report.warnings)
    assert any("warning:" in line for line in report.lines())


def test_characterized_extensions_are_present() -> None:
    usage = ca("issuer_no_keycertsign").extensions.get_extension_for_class(x509.KeyUsage).value
    assert not usage.key_cert_sign
    critical = [e for e in leaf("leaf_unknown_critical").extensions if e.critical]
    assert any(isinstance(e.value, x509.UnrecognizedExtension) for e in critical)


def test_padding_not_ff_keeps_a_correct_digest_info() -> None:
    forged, e3 = leaf("e3_padding_not_ff"), ca("e3_padding_not_ff")
    info = DIGEST_INFO_PREFIX["sha1"] + hashlib.sha1(forged.tbs_certificate_bytes).digest()
    block = block_of(forged, e3)
    assert block.endswith(b"\x00" + info)
    padding_bytes = block[2 : -len(info) - 1]
    assert b"\xff" not in padding_bytes and b"\x00" not in padding_bytes
    assert not strictly_verifies(forged, e3)


def test_digest_algorithm_mismatch_signs_an_md5_digest_info_in_a_sha1_certificate() -> None:
    forged, e3 = leaf("e3_digest_algorithm_mismatch"), ca("e3_digest_algorithm_mismatch")
    assert forged.signature_hash_algorithm is not None
    assert forged.signature_hash_algorithm.name == "sha1"
    md5_info = DIGEST_INFO_PREFIX["md5"] + hashlib.md5(forged.tbs_certificate_bytes).digest()
    assert block_of(forged, e3).endswith(b"\x00" + md5_info)
    assert not strictly_verifies(forged, e3)
