"""Re-sign an X.509 certificate with a legacy hash (MD5, SHA-1) and optionally a different key.

cryptography refuses to sign certificates with SHA-1 or MD5, but signs raw bytes with any hash.
So the TBSCertificate is edited with asn1crypto (a real DER parser and encoder, no byte splicing):
the signature AlgorithmIdentifier is set in the TBS and in the outer certificate, the
subjectPublicKeyInfo may be swapped, and the new TBS bytes are signed with
``issuer_key.sign(tbs, PKCS1v15(), hash)``. Names, serial, validity and extensions stay as they
were, except:

* swapping the key of a certificate replaces its SubjectKeyIdentifier with the RFC 5280 method-1
  identifier of the new key (what trustme and OpenSSL compute), and
* the AuthorityKeyIdentifier, when present, is pointed at the issuer: the SKI of ``issuer`` when
  that certificate is given, else the method-1 identifier of ``issuer_key``. OpenSSL refuses an
  issuer whose SKI differs from the child's AKI, so without this a chain under a CA whose key was
  swapped would stop verifying.

Checking the result with the OpenSSL 3.0 command line (measured on 3.0.19):
``openssl verify -CAfile ca.pem [-untrusted inter.pem] leaf.pem`` accepts MD5-, SHA-1- and
SHA-256-signed chains with 512- to 4096-bit keys as they are, also with ``-x509_strict`` and
``-check_ss_sig``: the command leaves the verification security level unset. ``-auth_level 0``
says so explicitly and is harmless; ``-auth_level 1`` or higher rejects them ("CA signature digest
algorithm too weak" for MD5/SHA-1, "EE certificate key too weak" for 512 bits). A stale AKI
(child's AKI not equal to the issuer's SKI) fails with "unable to get local issuer certificate".
"""

from __future__ import annotations

import datetime as dt

from asn1crypto import algos, core
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# hash name -> (cryptography hash class, asn1crypto signature algorithm name)
SIGNATURE_HASHES: dict[str, tuple[type[hashes.HashAlgorithm], str]] = {
    "md5": (hashes.MD5, "md5_rsa"),
    "sha1": (hashes.SHA1, "sha1_rsa"),
    "sha256": (hashes.SHA256, "sha256_rsa"),
}

# RFC 5280 moves dates in 2050 and later from UTCTime to GeneralizedTime; 2008 parsers may only
# know UTCTime, so the harness keeps notAfter before this.
UTC_TIME_LIMIT = dt.datetime(2050, 1, 1, tzinfo=dt.UTC)


def key_identifier(public_key: rsa.RSAPublicKey) -> bytes:
    """RFC 5280 method-1 key identifier (SHA-1 of the subjectPublicKey bits)."""
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest


def _algorithm(hash_name: str) -> algos.SignedDigestAlgorithm:
    # RFC 3279: the parameters of the RSA signature algorithms are an explicit NULL.
    return algos.SignedDigestAlgorithm(
        {"algorithm": SIGNATURE_HASHES[hash_name][1], "parameters": core.Null()}
    )


def _time(when: dt.datetime) -> asn1_x509.Time:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    kind = "utc_time" if when < UTC_TIME_LIMIT else "general_time"
    return asn1_x509.Time({kind: when.replace(microsecond=0)})


def _replace_extension(extensions: asn1_x509.Extensions, name: str, value: object) -> None:
    for index, extension in enumerate(extensions):
        if extension["extn_id"].native == name:
            extensions[index] = asn1_x509.Extension(
                {"extn_id": name, "critical": extension["critical"].native, "extn_value": value}
            )
            return


def _authority_key_id(
    issuer_key: rsa.RSAPrivateKey, issuer: x509.Certificate | None
) -> bytes | None:
    """The AKI key identifier the re-signed certificate should carry, or None to leave it."""
    if issuer is not None:
        try:
            return issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            return None
    return key_identifier(issuer_key.public_key())


def resign(
    cert: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    hash_name: str,
    *,
    public_key: rsa.RSAPublicKey | None = None,
    issuer: x509.Certificate | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    """`cert` signed again by `issuer_key` with md5/sha1/sha256WithRSAEncryption.

    public_key: put this key in the certificate instead of its own (its SKI follows).
    issuer: the issuing certificate, whose SKI the AKI is set to (default: computed from
        issuer_key, which matches any issuer made by trustme or this module).
    not_before / not_after: replace the validity dates (dates before 2050 encode as UTCTime).
    """
    if hash_name not in SIGNATURE_HASHES:
        known = ", ".join(SIGNATURE_HASHES)
        raise ValueError(f"unsupported signature hash {hash_name!r}; choose one of {known}")
    if not isinstance(issuer_key, rsa.RSAPrivateKey):
        raise TypeError(f"issuer key must be RSA, not {type(issuer_key).__name__}")
    algorithm = _algorithm(hash_name)
    parsed = asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))
    tbs = parsed["tbs_certificate"]
    tbs["signature"] = algorithm
    extensions = tbs["extensions"]

    if public_key is not None:
        spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        tbs["subject_public_key_info"] = asn1_keys.PublicKeyInfo.load(spki)
        _replace_extension(extensions, "key_identifier", key_identifier(public_key))

    aki = next((e for e in extensions if e["extn_id"].native == "authority_key_identifier"), None)
    if aki is not None and aki["extn_value"].parsed["key_identifier"].native is not None:
        wanted = _authority_key_id(issuer_key, issuer)
        if wanted is not None:
            value = aki["extn_value"].parsed.copy()
            value["key_identifier"] = wanted
            _replace_extension(extensions, "authority_key_identifier", value)

    if not_before is not None or not_after is not None:
        validity = tbs["validity"]
        tbs["validity"] = asn1_x509.Validity(
            {
                "not_before": _time(not_before) if not_before else validity["not_before"],
                "not_after": _time(not_after) if not_after else validity["not_after"],
            }
        )

    tbs_bytes = tbs.dump(force=True)
    hash_class = SIGNATURE_HASHES[hash_name][0]
    signature = issuer_key.sign(tbs_bytes, padding.PKCS1v15(), hash_class())
    rebuilt = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return x509.load_der_x509_certificate(rebuilt.dump(force=True))


def signature_verifies(cert: x509.Certificate, issuer_public_key: rsa.RSAPublicKey) -> bool:
    """Whether `cert` carries a valid PKCS#1 v1.5 signature by `issuer_public_key`."""
    from cryptography.exceptions import InvalidSignature

    hash_algorithm = cert.signature_hash_algorithm
    if hash_algorithm is None:
        return False
    try:
        issuer_public_key.verify(
            cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm
        )
    except InvalidSignature:
        return False
    return True
