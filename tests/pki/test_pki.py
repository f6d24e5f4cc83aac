"""Key cache, certificate factory and device-fit checks."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from asn1crypto import algos, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from w24_harness.at import commands
from w24_harness.at.codes import CAFitError
from w24_harness.pki import (
    LAST_UTC_NOT_AFTER,
    CertFactory,
    ca_text_length,
    cached_key_count,
    check_ca_fit,
    fresh_rsa_key,
    labelled_rsa_key,
    require_ca_fit,
    resign,
    rsa_key,
    signature_hash_name,
    signature_verifies,
    trustme_key_cache,
)
from w24_harness.profiles.table import ICHIP, MODERN, W24

OPENSSL = "/usr/bin/openssl"


@pytest.fixture(scope="module")
def factory() -> CertFactory:
    return CertFactory()


def openssl_verify(tmp_path: Path, ca_pem: bytes, leaf_pem: bytes, untrusted: bytes = b"") -> str:
    """Run `openssl verify`; return its output, raising if it rejects the chain."""
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    (tmp_path / "leaf.pem").write_bytes(leaf_pem)
    command = [OPENSSL, "verify", "-CAfile", str(tmp_path / "ca.pem")]
    if untrusted:
        (tmp_path / "untrusted.pem").write_bytes(untrusted)
        command += ["-untrusted", str(tmp_path / "untrusted.pem")]
    result = subprocess.run(
        command + [str(tmp_path / "leaf.pem")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def utc_time_kind(cert: x509.Certificate, field: str) -> str:
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    return parsed["tbs_certificate"]["validity"][field].name


# ---------------------------------------------------------------------------- keys


def test_rsa_key_is_cached_per_size_and_index() -> None:
    assert rsa_key(2048) is rsa_key(2048, 0)
    assert rsa_key(2048, 1) is not rsa_key(2048, 0)
    assert rsa_key(2048, 1).public_key() != rsa_key(2048, 0).public_key()
    assert labelled_rsa_key("x", 2048) is labelled_rsa_key("x", 2048)
    assert labelled_rsa_key("x", 2048).public_key() != rsa_key(2048, 0).public_key()


@pytest.mark.parametrize("bits", [512, 768, 1024])
def test_small_keys_are_built_from_own_primes_and_sign(bits: int) -> None:
    key = fresh_rsa_key(bits)
    assert key.key_size == bits
    assert key.public_key().public_numbers().e == 65537
    signature = key.sign(b"hello", padding.PKCS1v15(), hashes.SHA1())
    key.public_key().verify(signature, b"hello", padding.PKCS1v15(), hashes.SHA1())


def test_key_size_below_512_is_refused() -> None:
    with pytest.raises(ValueError, match=">= 512"):
        fresh_rsa_key(256)


def test_trustme_key_cache_reuses_keys_across_blocks_and_restores_trustme() -> None:
    original = trustme.KeyType._generate_key
    with trustme_key_cache():
        first = trustme.CA(key_type=trustme.KeyType.RSA)
        leaf = first.issue_cert("a.example", key_type=trustme.KeyType.RSA)
        ecdsa = trustme.CA()  # untouched: still a fresh ECDSA key
    with trustme_key_cache():
        second = trustme.CA(key_type=trustme.KeyType.RSA)
    assert trustme.KeyType._generate_key is original
    assert isinstance(ecdsa._private_key, ec.EllipticCurvePrivateKey)
    assert first._private_key is second._private_key  # same position, later block: cache hit
    leaf_key = leaf.private_key_pem.bytes()
    assert first.private_key_pem.bytes() != leaf_key  # distinct within one block
    outside = trustme.CA(key_type=trustme.KeyType.RSA)
    assert outside._private_key is not first._private_key


_PRINT_KEY = (
    "from w24_harness.pki.keys import labelled_rsa_key, exponent3_rsa_key\n"
    "a = labelled_rsa_key('ca:persist', 1024).public_key().public_numbers().n\n"
    "b = exponent3_rsa_key(1024).public_key().public_numbers()\n"
    "print(a, b.n, b.e)\n"
)


def _key_in_child(cache: str, home: Path | None = None) -> list[str]:
    """The numbers of two cached keys as a fresh Python process sees them."""
    env = {**os.environ, "W24_KEY_CACHE": cache}
    if home is not None:
        env["XDG_CACHE_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-c", _PRINT_KEY], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_keys_persist_across_processes_in_the_cache_directory(tmp_path: Path) -> None:
    first = _key_in_child(str(tmp_path))
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)  # private key material
    assert _key_in_child(str(tmp_path)) == first  # loaded, not made again
    assert first[2] == "3"  # the exponent-3 key stays exponent 3
    for f in files:
        f.write_bytes(b"not a key")  # a damaged entry is replaced, not an error
    replaced = _key_in_child(str(tmp_path))
    assert replaced[0] != first[0] and replaced[2] == "3"
    assert _key_in_child(str(tmp_path)) == replaced


def test_key_cache_default_directory_and_off(tmp_path: Path) -> None:
    default = _key_in_child("", home=tmp_path)
    assert len(list((tmp_path / "w24-harness" / "keys").iterdir())) == 2
    assert _key_in_child("", home=tmp_path) == default
    off = tmp_path / "off-home"
    assert _key_in_child("off", home=off)[0] != _key_in_child("off", home=off)[0]
    assert not off.exists()  # nothing written


# ---------------------------------------------------------------------------- factory


def test_ca_is_cached_by_name_bits_and_hash(factory: CertFactory) -> None:
    ca = factory.ca("cache test")
    assert factory.ca("cache test") is ca
    assert factory.ca("cache test", hash_name="md5") is not ca
    other = factory.ca("cache test 2")
    assert other.cert.public_key() != ca.cert.public_key()  # a "wrong CA" has its own key
    assert CertFactory().ca("cache test").cert.public_key() == ca.cert.public_key()


def test_default_w24_ca_fits_the_device(factory: CertFactory) -> None:
    ca = factory.ca("w24-harness CA")
    report = check_ca_fit(ca.cert_pem, W24)
    assert report.fits, report.problems
    assert report.pem_chars <= 1300
    assert (report.key_type, report.key_bits, report.signature_hash) == ("RSA", 2048, "sha1")
    assert ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert utc_time_kind(ca.cert, "not_after") == "utc_time"
    assert signature_verifies(ca.cert, ca.cert.public_key())  # type: ignore[arg-type]


def test_leaf_has_cn_san_and_legacy_signature(factory: CertFactory, tmp_path: Path) -> None:
    ca = factory.ca("leaf test")
    leaf = ca.issue("device.example", "127.0.0.1", key_bits=1024)
    cert = leaf.cert
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "device.example"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["device.example"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert cert.issuer == ca.cert.subject
    assert signature_hash_name(cert) == "sha1"
    assert leaf.key_bits == 1024 and leaf.key.key_size == 1024
    assert leaf.chain_pem == b""
    assert cert.not_valid_after_utc == LAST_UTC_NOT_AFTER
    assert utc_time_kind(cert, "not_after") == "utc_time"
    assert signature_verifies(cert, ca.key.public_key())
    openssl_verify(tmp_path, ca.cert_pem, leaf.cert_pem)


def test_common_name_can_differ_from_san(factory: CertFactory) -> None:
    leaf = factory.ca("cn test").issue("right.example", common_name="other.example")
    cn = leaf.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "other.example"


def test_leaf_needs_a_hostname(factory: CertFactory) -> None:
    with pytest.raises(ValueError, match="at least one hostname"):
        factory.ca("cn test").issue(common_name="only-cn.example")


def test_expired_and_not_yet_valid_leaves(factory: CertFactory) -> None:
    ca = factory.ca("dates test")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    expired = ca.issue(
        "old.example", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
    ).cert
    future = ca.issue(
        "new.example", not_before=now + dt.timedelta(days=1), not_after=now + dt.timedelta(days=30)
    ).cert
    assert expired.not_valid_after_utc == now - dt.timedelta(days=1) < now
    assert future.not_valid_before_utc == now + dt.timedelta(days=1) > now
    assert future.not_valid_after_utc == now + dt.timedelta(days=30)


@pytest.mark.parametrize("hash_name", ["md5", "sha1", "sha256"])
def test_intermediate_chain_verifies_with_openssl_untrusted(
    factory: CertFactory, hash_name: str, tmp_path: Path
) -> None:
    root = factory.ca("chain root", hash_name=hash_name)
    inter = root.intermediate("chain intermediate", hash_name=hash_name)
    leaf = inter.issue("chained.example", hash_name=hash_name)
    assert leaf.chain_pem == inter.cert_pem
    assert inter.cert.issuer == root.cert.subject and not inter.is_root
    assert signature_hash_name(inter.cert) == hash_name
    openssl_verify(tmp_path, root.cert_pem, leaf.cert_pem, untrusted=leaf.chain_pem)
    # Without the intermediate the leaf does not verify: the chain is really needed.
    result = subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0


def test_second_level_intermediate_carries_the_whole_chain(
    factory: CertFactory, tmp_path: Path
) -> None:
    root = factory.ca("deep root")
    first = root.intermediate("deep first")
    second = first.intermediate("deep second", key_bits=1024)
    leaf = second.issue("deep.example")
    assert leaf.chain_pem == second.cert_pem + first.cert_pem
    cert_path, key_path = leaf.write(tmp_path / "out")
    assert cert_path.read_bytes() == leaf.cert_pem + second.cert_pem + first.cert_pem
    openssl_verify(tmp_path, root.cert_pem, leaf.cert_pem, untrusted=leaf.chain_pem)


def test_rsa_1024_and_512_cas_sign_verifiable_chains(factory: CertFactory, tmp_path: Path) -> None:
    for bits in (1024, 512):
        ca = factory.ca(f"small {bits}", key_bits=bits)
        assert ca.cert.public_key().key_size == bits
        leaf = ca.issue("small.example", key_bits=bits)
        openssl_verify(tmp_path, ca.cert_pem, leaf.cert_pem)
    assert check_ca_fit(factory.ca("small 1024", key_bits=1024).cert_pem, W24).fits


def test_self_signed_leaf(factory: CertFactory, tmp_path: Path) -> None:
    leaf = factory.self_signed("lonely.example", key_bits=1024, hash_name="md5")
    cert = leaf.cert
    assert cert.issuer == cert.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "lonely.example"
    assert signature_hash_name(cert) == "md5"
    assert signature_verifies(cert, leaf.key.public_key())
    assert leaf.key_bits == 1024
    assert not signature_verifies(cert, factory.ca("w24-harness CA").key.public_key())


def test_issued_cert_write_makes_key_private(factory: CertFactory, tmp_path: Path) -> None:
    leaf = factory.ca("write test").issue("w.example")
    cert_path, key_path = leaf.write(tmp_path, stem="srv")
    assert (cert_path.name, key_path.name) == ("srv.pem", "srv.key")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes() == leaf.key_pem
    key_path.chmod(0o644)
    leaf.write(tmp_path, stem="srv")  # an existing key file is tightened too
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_hash_for_profile_prefers_sha1() -> None:
    assert CertFactory.for_profile(W24) == "sha1"
    assert CertFactory.for_profile(MODERN) == "sha1"
    assert CertFactory.for_profile(W24.with_changes(signature_hashes=("md5",))) == "md5"
    assert CertFactory.for_profile(W24.with_changes(signature_hashes=("sha256",))) == "sha256"
    with pytest.raises(ValueError, match="md2"):
        CertFactory.for_profile(W24.with_changes(signature_hashes=("md2",)))


def test_warm_build_generates_no_keys() -> None:
    CertFactory().ca("warm").issue("a.example")
    before = cached_key_count()
    fresh = CertFactory()
    ca = fresh.ca("warm")
    for n in range(5):
        ca.issue(f"h{n}.example")
    assert cached_key_count() == before


# ---------------------------------------------------------------------------- fit


def test_ca_text_length_counts_like_the_device() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    expected = len(pem) + 1
    samples = [
        pem,
        pem + "\n",
        pem.replace("\n", "\r\n") + "\r\n",
        "\n" + pem + "  \n\n",
        pem.replace("\n", "\r"),
    ]
    for sample in samples:
        assert ca_text_length(sample) == expected
        assert ca_text_length(sample.encode()) == expected
        assert ca_text_length(sample) == commands.ca_text_length(sample)
    assert ca_text_length("") == commands.ca_text_length("") == 0


def test_4096_bit_ca_does_not_fit_w24_and_says_why(factory: CertFactory) -> None:
    ca = factory.ca("big", key_bits=4096)
    report = check_ca_fit(ca.cert_pem, W24)
    assert not report.fits
    assert report.key_bits == 4096 and report.pem_chars > 1300
    assert f"PEM is {report.pem_chars} characters; the w24 profile allows 1300" in report.problems
    assert "RSA key is 4096 bits; the w24 profile accepts 1024 or 2048 bits" in report.problems


def test_sha256_ca_does_not_fit_w24_but_fits_modern(factory: CertFactory) -> None:
    ca = factory.ca("sha256 ca", hash_name="sha256")
    report = check_ca_fit(ca.cert_pem, W24)
    assert report.problems == ("signature hash is sha256; the w24 profile accepts md5 or sha1",)
    assert check_ca_fit(ca.cert_pem, MODERN).fits


def test_der_is_measured_as_its_pem(factory: CertFactory) -> None:
    ca = factory.ca("w24-harness CA")
    der = ca.cert.public_bytes(Encoding.DER)
    assert check_ca_fit(der, W24) == check_ca_fit(ca.cert_pem, W24)
    crlf = ca.cert_pem.replace(b"\n", b"\r\n")
    assert check_ca_fit(crlf, W24).pem_chars == check_ca_fit(ca.cert_pem, W24).pem_chars


@pytest.mark.parametrize(
    "data", [b"", b"hello world", b"\x30\x82\x01\x00garbage", b"-----BEGIN RSA PRIVATE KEY-----\n"]
)
def test_garbage_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="not an X.509 certificate"):
        check_ca_fit(data, W24)


def test_leaf_ec_and_multi_certificate_inputs_are_refused(factory: CertFactory) -> None:
    ca = factory.ca("w24-harness CA")
    leaf = ca.issue("x.example")
    assert any("CA:FALSE" in p for p in check_ca_fit(leaf.cert_pem, ICHIP).problems)
    ec_ca = trustme.CA()  # ECDSA, SHA-256
    problems = check_ca_fit(ec_ca.cert_pem.bytes(), W24).problems
    assert "key is EC; the w24 profile accepts only RSA CA keys" in problems
    two = check_ca_fit(ca.cert_pem + ca.cert_pem, W24)
    assert two.problems == ("file holds 2 certificates; the CA parameter takes one",)
    assert two.pem_chars == check_ca_fit(ca.cert_pem, W24).pem_chars


def _with_tbs(cert: x509.Certificate, edit: object, algorithm: str, key: object) -> bytes:
    """DER of `cert` with its TBS edited and a signature from `key` (or junk for MD2)."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    tbs = parsed["tbs_certificate"]
    edit(tbs)  # type: ignore[operator]
    alg = algos.SignedDigestAlgorithm({"algorithm": algorithm, "parameters": core.Null()})
    tbs["signature"] = alg
    body = tbs.dump(force=True)
    signature = key.sign(body, padding.PKCS1v15(), hashes.SHA1()) if key else b"\x01" * 256  # type: ignore[attr-defined]
    return asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": alg, "signature_value": signature}
    ).dump()


def test_v1_ca_fits_and_md2_is_named(factory: CertFactory) -> None:
    ca = factory.ca("w24-harness CA")

    def make_v1(tbs: asn1_x509.TbsCertificate) -> None:
        tbs["version"] = "v1"
        del tbs["extensions"]

    v1 = _with_tbs(ca.cert, make_v1, "sha1_rsa", ca.key)
    report = check_ca_fit(v1, W24)
    assert x509.load_der_x509_certificate(v1).version is x509.Version.v1
    assert report.fits, report.problems
    md2 = _with_tbs(ca.cert, lambda tbs: None, "md2_rsa", None)
    report = check_ca_fit(md2, W24)
    assert report.signature_hash == "md2"
    assert report.problems == ("signature hash is md2; the w24 profile accepts md5 or sha1",)


def test_require_ca_fit(factory: CertFactory) -> None:
    assert require_ca_fit(factory.ca("w24-harness CA").cert_pem, W24).fits
    with pytest.raises(CAFitError, match="allows 1300") as caught:
        require_ca_fit(factory.ca("big", key_bits=4096).cert_pem, W24)
    assert "4096 bits" in str(caught.value)
    assert not caught.value.report.fits  # type: ignore[attr-defined]


def test_resigned_plain_trustme_ca_size_is_reported() -> None:
    """The number the brief asks for: trustme's own RSA-2048 CA (random OU), SHA-1."""
    with trustme_key_cache():
        ca = trustme.CA(key_type=trustme.KeyType.RSA)
    resigned = resign(ca._certificate, ca._private_key, "sha1")
    chars = check_ca_fit(resigned.public_bytes(Encoding.PEM), W24).pem_chars
    assert chars == 1216  # fits 1300 with 84 to spare (1212 with a UTCTime notAfter)


@pytest.mark.parametrize("profile", [W24, ICHIP, MODERN], ids=lambda p: p.name)
def test_the_4096_bit_ca_is_wrong_only_in_its_key_size(profile) -> None:
    # ca-4096 must test the key-size rule alone: a firmware without it, but with the length
    # check, would pass a CA that is also over the length limit (a self-signed 4096-bit CA is).
    from w24_harness.pki.sets import CertSets

    pem = CertSets(profile).get("ca_4096").ca_pem
    assert pem is not None
    report = check_ca_fit(pem, profile)
    assert report.pem_chars <= profile.ca_max_chars
    assert report.key_bits == 4096
    assert report.problems == (
        f"RSA key is 4096 bits; the {profile.name} profile accepts 1024 or 2048 bits",
    )
