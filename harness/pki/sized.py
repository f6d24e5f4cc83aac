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
    ders: dict[int, bytes] = {}

    def der(pad: int) -> bytes:  # each one is a signature: a few milliseconds of CPU
        if pad not in ders:
            ders[pad] = _der(pad, hash_name)
        return ders[pad]

    def length(pad: int, width: int) -> int:
        return ca_text_length(wrap_pem(der(pad), width).decode("ascii"))

    # Each padding character adds two DER bytes (subject and issuer), so the text grows with
    # the padding at every width, and the narrowest wrapping is the longest. Bisect for the
    # first padding whose narrowest text reaches `chars`, then try every width from there on
    # until even the widest text is over.
    low, high = 0, MAX_PADDING
    while low < high:
        mid = (low + high) // 2
        if length(mid, min(WIDTHS)) >= chars:
            high = mid
        else:
            low = mid + 1
    for pad in range(low, MAX_PADDING):
        if length(pad, max(WIDTHS)) > chars:
            break
        for width in WIDTHS:
            if length(pad, width) == chars:
                return wrap_pem(der(pad), width)
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
