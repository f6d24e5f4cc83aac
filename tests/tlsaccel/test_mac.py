"""w24_harness.tlsaccel.mac: the fast CBC padding-and-MAC check gives tlslite's constant-time
routine's verdict on valid records, tampered MACs, bad padding and random bytes, for SSL 3.0 and
TLS 1.0, and is what the record layer uses once fastcipher is installed."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tlslite.mathtls import createHMAC, createMAC_SSL
from tlslite.utils.constanttime import ct_check_cbc_mac_and_pad

from w24_harness.tlsaccel import cipher as fastcipher
from w24_harness.tlsaccel import mac as fastmac

SEQ = bytearray(b"\x00\x00\x00\x00\x00\x00\x00\x07")
APPDATA = 23
VERSIONS = [(3, 0), (3, 1)]


def _mac(version: tuple[int, int], digest: str = "sha1"):
    key = bytearray(b"k" * (20 if digest == "sha1" else 16))
    mod = getattr(hashlib, digest)
    return createMAC_SSL(key, digestmod=mod) if version == (3, 0) else createHMAC(key, mod)


def _record(plain: bytes, version: tuple[int, int], block: int = 16, pad_extra: int = 0):
    """Plaintext + MAC + padding, as a TLS 1.0 / SSL 3.0 sender lays out a CBC record."""
    mac = _mac(version)
    check = mac.copy()
    check.update(bytes(SEQ))
    check.update(bytes([APPDATA]))
    if version != (3, 0):
        check.update(bytes(version))
    check.update(len(plain).to_bytes(2, "big"))
    check.update(plain)
    body = plain + bytes(check.digest())
    pad = block - (len(body) + 1) % block + pad_extra * block
    return bytearray(body + bytes([pad]) * (pad + 1)), mac


def _both(data: bytearray, mac, version, block: int = 16) -> tuple[bool, bool]:
    fast = fastmac.check_cbc_mac_and_pad(bytearray(data), mac, SEQ, APPDATA, version, block)
    slow = ct_check_cbc_mac_and_pad(bytearray(data), mac, SEQ, APPDATA, version, block)
    return fast, slow


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("size", [0, 1, 15, 16, 100, 2048])
def test_valid_records_pass_both(version, size: int) -> None:
    data, mac = _record(os.urandom(size), version)
    assert _both(data, mac, version) == (True, True)


@pytest.mark.parametrize("version", VERSIONS)
def test_tampered_mac_fails_both(version) -> None:
    data, mac = _record(os.urandom(300), version)
    data[305] ^= 0x01  # inside the MAC
    assert _both(data, mac, version) == (False, False)
    data, mac = _record(os.urandom(300), version)
    data[10] ^= 0x80  # inside the plaintext
    assert _both(data, mac, version) == (False, False)


def test_tls_padding_bytes_are_checked_ssl3_only_the_length() -> None:
    data, mac = _record(os.urandom(40), (3, 1))
    data[-2] ^= 0x01  # a padding byte that is not the pad length
    assert _both(data, mac, (3, 1)) == (False, False)
    data, mac = _record(os.urandom(40), (3, 0))
    if data[-1] >= 1:
        data[-2] ^= 0x01  # SSL 3.0 padding content is arbitrary
        assert _both(data, mac, (3, 0)) == (True, True)


def test_long_padding_ok_in_tls_too_long_in_ssl3() -> None:
    data, mac = _record(os.urandom(40), (3, 1), pad_extra=3)  # TLS allows up to 255
    assert _both(data, mac, (3, 1)) == (True, True)
    data, mac = _record(os.urandom(40), (3, 0), pad_extra=3)  # SSL 3.0: at most one block
    assert _both(data, mac, (3, 0)) == (False, False)


@pytest.mark.parametrize("version", VERSIONS)
def test_too_short_and_padding_into_mac(version) -> None:
    mac = _mac(version)
    assert _both(bytearray(16), mac, version) == (False, False)  # no room for MAC + pad byte
    assert _both(bytearray([200]) * 32, mac, version) == (False, False)


@settings(max_examples=300, deadline=None)
@given(
    blocks=st.integers(2, 40),
    seed=st.binary(min_size=16, max_size=16),
    version=st.sampled_from(VERSIONS),
    tail=st.integers(0, 255),
)
def test_random_bytes_get_the_same_verdict(blocks: int, seed: bytes, version, tail: int) -> None:
    data = bytearray(hashlib.shake_256(seed).digest(blocks * 16))
    data[-1] = tail
    fast, slow = _both(data, _mac(version), version)
    assert fast == slow


def test_installed_with_fastcipher() -> None:
    was = fastcipher.installed()
    try:
        fastcipher.install()
        assert fastmac.installed()
        fastcipher.uninstall()
        assert not fastmac.installed()
    finally:
        (fastcipher.install if was else fastcipher.uninstall)()
