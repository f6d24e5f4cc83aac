"""w24_harness.tlsaccel.rsa: the same decryption as tlslite's own key for every ciphertext a client
can
send (well padded, badly padded, out of range, wrong length), and a real handshake through it."""

from __future__ import annotations

import os
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tlslite.api import parsePEMKey
from tlslite.utils.cryptomath import bytesToNumber, numberToByteArray
from tlslite.utils.python_rsakey import Python_RSAKey

from w24_harness.pki import rsa_key
from w24_harness.tlsaccel.rsa import FastRSAKey, parse_private_key

pytestmark = pytest.mark.timeout(60)


@cache
def key_pem() -> str:
    key = rsa_key(2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


def public(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()


def raw_encrypt(pem: str, block: bytes) -> bytes:
    """Textbook RSA of a chosen 256-byte block: ciphertexts whose padding is wrong on purpose."""
    numbers = public(pem).public_numbers()
    return bytes(numberToByteArray(pow(bytesToNumber(bytearray(block)), numbers.e, numbers.n), 256))


def test_parse_gives_the_fast_key_with_the_same_numbers() -> None:
    fast, slow = parse_private_key(key_pem()), parsePEMKey(key_pem(), private=True)
    assert isinstance(fast, FastRSAKey)
    assert (fast.n, fast.e, fast.d, fast.p, fast.q) == (slow.n, slow.e, slow.d, slow.p, slow.q)


@pytest.mark.parametrize("size", [0, 1, 46, 48, 245])  # 245: the longest message 2048 bits hold
def test_well_padded_ciphertext_decrypts_to_the_message(size: int) -> None:
    message = os.urandom(size)
    ciphertext = public(key_pem()).encrypt(message, padding.PKCS1v15())
    fast, slow = parse_private_key(key_pem()), parsePEMKey(key_pem(), private=True)
    assert fast.decrypt(bytearray(ciphertext)) == bytearray(message)
    assert slow.decrypt(bytearray(ciphertext)) == bytearray(message)


@pytest.mark.parametrize(
    "block",
    [
        b"\x00\x01" + b"\xff" * 8 + b"\x00" + bytes(245),  # block type 1 (a signature), not 2
        b"\x00\x02" + b"\x11" * 254,  # no zero separator
        b"\x00\x02" + b"\x11" * 5 + b"\x00" + bytes(248),  # padding shorter than 8 bytes
        b"\x01\x02" + b"\x11" * 8 + b"\x00" + bytes(245),  # leading byte not zero
    ],
    ids=["type-1", "no-separator", "short-padding", "leading-byte"],
)
def test_bad_padding_gives_tlslite_synthetic_message(block: bytes) -> None:
    """tlslite answers bad padding with a message derived from the key and ciphertext (implicit
    rejection, no oracle); the fast key must return those same bytes, not raise and not return
    None, whether its OpenSSL rejects implicitly too (4.0 does, by the same algorithm) or raises
    and leaves the answer to tlslite (3.0 does)."""
    ciphertext = bytearray(raw_encrypt(key_pem(), block))
    fast, slow = parse_private_key(key_pem()), parsePEMKey(key_pem(), private=True)
    expected = slow.decrypt(ciphertext)
    assert expected is not None
    assert fast.decrypt(ciphertext) == expected


def test_publicly_invalid_ciphertexts_give_none_as_tlslite() -> None:
    fast = parse_private_key(key_pem())
    n = public(key_pem()).public_numbers().n
    assert fast.decrypt(bytearray(255)) is None  # one byte short
    assert fast.decrypt(bytearray(257)) is None  # one byte long
    assert fast.decrypt(numberToByteArray(n, 256)) is None  # not below the modulus


def test_well_padded_ciphertext_never_reaches_tlslite_arithmetic(monkeypatch) -> None:
    """The reason the module exists (measured: 12.7 ms a handshake in tlslite, 1.0 ms in OpenSSL):
    a valid ClientKeyExchange is decrypted without tlslite's pure-Python private-key operation."""
    fast = parse_private_key(key_pem())
    message = os.urandom(48)
    ciphertext = bytearray(public(key_pem()).encrypt(message, padding.PKCS1v15()))

    def refuse(*_args: object) -> int:
        raise AssertionError("tlslite's pure-Python RSA was used")

    monkeypatch.setattr(Python_RSAKey, "_rawPrivateKeyOp", refuse)
    assert fast.decrypt(ciphertext) == bytearray(message)
