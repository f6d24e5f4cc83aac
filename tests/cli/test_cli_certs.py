"""`w24 certs ...`: the certificate workflow, checked with the real openssl command line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from w24_harness.cli.certs import main
from w24_harness.pki import CertFactory, signature_hash_name, signature_verifies

OPENSSL = "/usr/bin/openssl"
REPO = Path(__file__).resolve().parents[2]


def run_openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=30)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ca")
    assert main(["certs", "ca", str(directory)]) == 0
    return directory


def test_ca_writes_a_fitting_ca_and_a_private_key(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certs", "ca", str(tmp_path / "ca")]) == 0
    out = capsys.readouterr().out
    assert "characters (limit 1300)" in out and "2048-bit RSA" in out and "sha1" in out
    assert "result:         fits" in out
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    assert signature_hash_name(ca) == "sha1"
    assert len((ca_dir / "ca.pem").read_text()) <= 1300
    assert mode(ca_dir / "ca.key") == 0o600


def test_issue_is_accepted_by_openssl_verify(ca_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "server"
    code = main(
        [
            "certs",
            "issue",
            "--ca",
            str(ca_dir),
            "device.example",
            "10.0.0.7",
            "--out",
            str(out),
            "--key-bits",
            "1024",
        ]
    )
    assert code == 0
    result = run_openssl("verify", "-CAfile", str(ca_dir / "ca.pem"), str(out / "server.pem"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert mode(out / "server.key") == 0o600
    cert = x509.load_pem_x509_certificate((out / "server.pem").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "device.example"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["device.example"]
    assert signature_hash_name(cert) == "sha1"
    assert cert.public_key().key_size == 1024
    # The key written is the certificate's key.
    matches = run_openssl("x509", "-noout", "-pubkey", "-in", str(out / "server.pem"))
    from_key = run_openssl("pkey", "-pubout", "-in", str(out / "server.key"))
    assert matches.stdout == from_key.stdout


def test_issue_caps_validity_and_honours_hash(ca_dir: Path, tmp_path: Path) -> None:
    code = main(
        [
            "certs",
            "issue",
            "--ca",
            str(ca_dir),
            "x.example",
            "--out",
            str(tmp_path),
            "--hash",
            "md5",
            "--days",
            "40000",
        ]
    )
    assert code == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    assert signature_hash_name(cert) == "md5"
    assert cert.not_valid_after_utc.year == 2049


def test_issue_with_a_ca_made_by_openssl(tmp_path: Path) -> None:
    """The spec §8.2 route: an openssl-made RSA-1024 SHA-1 CA, not a trustme one."""
    ca = tmp_path / "ca"
    ca.mkdir()
    made = run_openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:1024",
        "-sha1",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=Example In-house CA",
        "-keyout",
        str(ca / "ca.key"),
        "-out",
        str(ca / "ca.pem"),
    )
    assert made.returncode == 0, made.stderr
    assert main(["certs", "issue", "--ca", str(ca), "srv.example", "--out", str(tmp_path)]) == 0
    result = run_openssl("verify", "-CAfile", str(ca / "ca.pem"), str(tmp_path / "server.pem"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_issue_refuses_a_key_that_is_not_the_cas(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "ca.pem").write_bytes((ca_dir / "ca.pem").read_bytes())
    (mixed / "ca.key").write_bytes(CertFactory().ca("someone else").key_pem)
    assert main(["certs", "issue", "--ca", str(mixed), "a.example", "--out", str(tmp_path)]) == 2
    assert "is not the key of the certificate" in capsys.readouterr().err
    assert not (tmp_path / "server.pem").exists()


def test_csr_is_accepted_by_openssl_req_verify(tmp_path: Path) -> None:
    assert (
        main(
            [
                "certs",
                "csr",
                "device.example",
                "alt.example",
                "--out",
                str(tmp_path),
                "--key-bits",
                "1024",
            ]
        )
        == 0
    )
    result = run_openssl("req", "-verify", "-in", str(tmp_path / "server.csr"), "-noout")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify OK" in result.stdout + result.stderr
    csr = x509.load_pem_x509_csr((tmp_path / "server.csr").read_bytes())
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "device.example"
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["device.example", "alt.example"]
    assert csr.public_key().key_size == 1024
    assert mode(tmp_path / "server.key") == 0o600


@pytest.mark.parametrize(
    ("key_bits", "hash_name", "reason"),
    [
        (4096, "sha1", "RSA key is 4096 bits; the w24 profile accepts 1024 or 2048 bits"),
        (2048, "sha256", "signature hash is sha256; the w24 profile accepts md5 or sha1"),
    ],
)
def test_check_rejects_cas_that_do_not_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key_bits: int, hash_name: str, reason: str
) -> None:
    ca = CertFactory().ca("check test", key_bits=key_bits, hash_name=hash_name)
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.cert_pem)
    assert main(["certs", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert reason in out
    if key_bits == 4096:
        assert "; the w24 profile allows 1300" in out


def test_check_accepts_a_fitting_ca_as_pem_or_der(ca_dir: Path, tmp_path: Path) -> None:
    assert main(["certs", "check", str(ca_dir / "ca.pem")]) == 0
    der = tmp_path / "ca.der"
    cert = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    der.write_bytes(cert.public_bytes(Encoding.DER))
    assert main(["certs", "check", str(der), "--profile", "ichip"]) == 0


def test_check_on_a_non_certificate_exits_2_without_traceback(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certs", "check", str(ca_dir / "ca.key")]) == 2
    err = capsys.readouterr().err
    assert "ca.key: not an X.509 certificate" in err and "Traceback" not in err
    assert main(["certs", "check", str(tmp_path / "missing.pem")]) == 2
    assert "No such file" in capsys.readouterr().err


def test_second_ca_without_force_keeps_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certs", "ca", str(tmp_path)]) == 0
    key_before = (tmp_path / "ca.key").read_bytes()
    pem_before = (tmp_path / "ca.pem").read_bytes()
    capsys.readouterr()
    assert main(["certs", "ca", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "ca.key") in err and "--force" in err
    assert (tmp_path / "ca.key").read_bytes() == key_before
    assert (tmp_path / "ca.pem").read_bytes() == pem_before
    assert main(["certs", "ca", str(tmp_path), "--force", "--key-bits", "1024"]) == 0
    assert (tmp_path / "ca.key").read_bytes() != key_before
    assert mode(tmp_path / "ca.key") == 0o600


def test_issue_and_csr_do_not_overwrite_keys(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "server.key").write_bytes(b"precious")
    assert main(["certs", "issue", "--ca", str(ca_dir), "a.example", "--out", str(tmp_path)]) == 2
    assert main(["certs", "csr", "a.example", "--out", str(tmp_path)]) == 2
    assert str(tmp_path / "server.key") in capsys.readouterr().err
    assert (tmp_path / "server.key").read_bytes() == b"precious"


def test_ca_that_does_not_fit_exits_1_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certs", "ca", str(tmp_path), "--key-bits", "3072"]) == 1
    out = capsys.readouterr().out
    assert "RSA key is 3072 bits" in out and "the w24 profile allows 1300" in out


def test_subprocess_run(ca_dir: Path) -> None:
    code = "import sys; from w24_harness.cli.certs import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code, "certs", "check", str(ca_dir / "ca.pem"), "--profile", "w24"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "result:         fits" in result.stdout
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.pem").read_bytes())
    assert signature_verifies(ca, ca.public_key())  # type: ignore[arg-type]


def _names(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]


def test_certificates_carry_the_names_given_and_never_trustme(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    assert main(["certs", "ca", str(ca), "--org", "Acme Ltd", "--name", "Acme Field CA"]) == 0
    ca_cert = x509.load_pem_x509_certificate((ca / "ca.pem").read_bytes())
    assert _names(ca_cert, NameOID.ORGANIZATION_NAME) == ["Acme Ltd"]
    assert _names(ca_cert, NameOID.ORGANIZATIONAL_UNIT_NAME) == ["Acme Field CA"]
    out = tmp_path / "srv"
    args = ["certs", "issue", "--ca", str(ca), "--out", str(out), "--cn", "Acme gateway"]
    assert main([*args, "gw.acme.example"]) == 0
    leaf = x509.load_pem_x509_certificate((out / "server.pem").read_bytes())
    assert _names(leaf, NameOID.COMMON_NAME) == ["Acme gateway"]
    assert _names(leaf, NameOID.ORGANIZATION_NAME) == ["Acme Ltd"]  # the CA's, by default
    default = tmp_path / "default"
    assert main(["certs", "ca", str(default)]) == 0
    for pem in (ca / "ca.pem", out / "server.pem", default / "ca.pem"):
        assert (
            b"trustme"
            not in x509.load_pem_x509_certificate(pem.read_bytes()).subject.public_bytes()
        )
    csr_dir = tmp_path / "csr"
    assert (
        main(["certs", "csr", "--out", str(csr_dir), "--org", "Acme Ltd", "gw.acme.example"]) == 0
    )
    csr = x509.load_pem_x509_csr((csr_dir / "server.csr").read_bytes())
    assert csr.subject.rfc4514_string() == "CN=gw.acme.example,O=Acme Ltd"


def test_certs_take_a_profile_file_like_the_suites(tmp_path: Path, capsys) -> None:
    profile = tmp_path / "small.toml"
    profile.write_text('from = "w24"\nname = "small-ca"\nca_max_chars = 900\n')
    assert main(["certs", "ca", str(tmp_path / "ca"), "--profile-file", str(profile)]) == 1
    assert "limit 900" in capsys.readouterr().out  # fitted against the file's limit, not 1300
    ca_pem = tmp_path / "ca" / "ca.pem"
    assert main(["certs", "check", str(ca_pem)]) == 0  # the built-in w24 profile: fits
    assert main(["certs", "check", str(ca_pem), "--profile-file", str(profile)]) == 1
    assert main(["certs", "check", str(ca_pem), "--profile-file", str(tmp_path / "no")]) == 2
