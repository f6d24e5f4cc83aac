"""A CA certificate whose AT+iCA= text is exactly N characters: the value at, just under and
just over the CA parameter's documented size limit (spec §6: 1300 characters on the W24).

PEM's base64 comes in 4-character steps plus a line end every 64 characters, so not every
length is reachable at the usual width; the manual's own sample is wrapped at 50 (spec §6: "any
line length the parser accepts"), so the width is chosen along with a padding name.
"""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from w24_harness.at.commands import ca_text_length
from w24_harness.pki.identity import cert_builder
from w24_harness.pki.keys import rsa_key
from w24_harness.pki.resign import resign

WIDTHS = range(44, 77)  # base64 line widths tried (the manual wraps at 50, OpenSSL at 64)
MAX_PADDING = 600


def wrap_pem(der: bytes, width: int) -> bytes:
    body = base64.b64encode(der)
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    return b"\n".join([b"-----BEGIN CERTIFICATE-----", *lines, b"-----END CERTIFICATE-----", b""])


def sized_ca(chars: int, hash_name: str) -> bytes:
    """A well-formed self-signed RSA-2048 CA whose AT+iCA= text (ca_text_length) is exactly
    `chars` characters; ValueError if no padding and width reach it."""
    # Each padding character adds two DER bytes (subject and issuer), about 8/3 text
    # characters: start just below the padding that reaches `chars` (each try signs one).
    base = len(wrap_pem(_der(0, hash_name), max(WIDTHS)))
    start = max(0, (chars - base) * 3 // 8 - 60)  # (long names cost extra length bytes)
    for pad in range(start, MAX_PADDING):
        der = _der(pad, hash_name)
        for width in WIDTHS:
            pem = wrap_pem(der, width)
            length = ca_text_length(pem.decode("ascii"))
            if length == chars:
                return pem
        if ca_text_length(wrap_pem(der, max(WIDTHS)).decode("ascii")) > chars:
            break  # even the widest wrapping is over: more padding cannot help
    raise ValueError(f"no CA text of exactly {chars} characters")


def _der(pad: int, hash_name: str) -> bytes:
    key = rsa_key(2048)
    padding = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "p" * pad)] if pad else []
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "w24-harness sized CA"), *padding])
    cert = (
        cert_builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return resign(cert, key, hash_name).public_bytes(Encoding.DER)
