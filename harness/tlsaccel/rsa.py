"""A fast RSA key-exchange decryption for the harness's tlslite-ng servers.

tlslite-ng without gmpy decrypts the client's ClientKeyExchange in pure Python: about 13 ms per
handshake with a 2048-bit key, a quarter of the CPU a `pytest suites` run spends (profiled with
py-spy, 4.9 s of 15 s). OpenSSL, through `cryptography`, does the same in about 1 ms.

`FastRSAKey` is tlslite's own key class with `decrypt` answered by OpenSSL. On bad PKCS#1 padding
tlslite returns a synthetic message derived from the key and the ciphertext (implicit rejection,
the Bleichenbacher countermeasure). The OpenSSL that `cryptography` bundles (4.0 here) does the
same, by the same algorithm, byte for byte (tests/tlsaccel/test_rsa.py); an OpenSSL that raises
instead (3.0 does) hands the ciphertext to tlslite, as do ciphertexts of the wrong length. Either
way each answer is tlslite's. Signing (only the export ServerKeyExchange misbehaviour signs) stays
tlslite's.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from tlslite.utils.python_rsakey import Python_RSAKey


class FastRSAKey(Python_RSAKey):  # type: ignore[misc]  # tlslite-ng ships no type hints
    """A tlslite private RSA key whose PKCS#1 v1.5 decryption runs in OpenSSL."""

    def __init__(self, base: Python_RSAKey, openssl_key: RSAPrivateKey) -> None:
        super().__init__(
            base.n, base.e, base.d, base.p, base.q, base.dP, base.dQ, base.qInv, base.key_type
        )
        self._openssl_key = openssl_key

    def decrypt(self, encBytes: bytes | bytearray) -> bytearray | None:  # noqa: N803 - tlslite's name
        if len(encBytes) == (self._openssl_key.key_size + 7) // 8:
            try:
                return bytearray(self._openssl_key.decrypt(bytes(encBytes), padding.PKCS1v15()))
            except ValueError:
                pass  # explicit rejection, or a number not below n: tlslite decides what comes back
        return super().decrypt(encBytes)


def parse_private_key(pem: str) -> Python_RSAKey:
    """The key in `pem` as tlslite's `parsePEMKey(pem, private=True)` gives it, RSA ones fast."""
    from tlslite.api import parsePEMKey

    base = parsePEMKey(pem, private=True)
    if not isinstance(base, Python_RSAKey) or base.key_type != "rsa":
        return base
    # Skipping the prime checks saves 0.1 s per server (2048 bits); a broken key fails the
    # handshake either way, as tlslite's own arithmetic on it would.
    openssl_key = load_pem_private_key(
        pem.encode("ascii"), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(openssl_key, RSAPrivateKey):
        return base
    return FastRSAKey(base, openssl_key)
