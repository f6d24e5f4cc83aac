"""w24_harness.tlsaccel.cipher: same bytes as tlslite's own ciphers, installed into the record
layer,
and fast enough that a tlslite pair outruns a 921600-baud line by a wide margin for every suite.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.utils import python_aes, python_rc4, python_tripledes

from w24_harness.tlsaccel import cipher as fastcipher

pytestmark = pytest.mark.timeout(60)
LINE_RATE = 921600 / 10  # bytes per second on the fastest serial line (8N1)


@pytest.fixture
def restore_install_state() -> Iterator[None]:
    was_installed = fastcipher.installed()
    yield
    (fastcipher.install if was_installed else fastcipher.uninstall)()


def chunks(data: bytes, sizes: list[int]) -> Iterator[bytes]:
    start = 0
    for size in sizes:
        yield data[start : start + size]
        start += size


@pytest.mark.parametrize(
    "name, ours, theirs, key_len, iv_len",
    [
        ("aes128", fastcipher.create_aes, lambda k, iv: python_aes.new(k, 2, iv), 16, 16),
        ("aes256", fastcipher.create_aes, lambda k, iv: python_aes.new(k, 2, iv), 32, 16),
        ("3des", fastcipher.create_triple_des, python_tripledes.new, 24, 8),
        ("rc4", fastcipher.create_rc4, lambda k, iv: python_rc4.new(k), 16, 0),
    ],
)
def test_same_bytes_as_tlslite_python_ciphers_across_chained_calls(
    name, ours, theirs, key_len: int, iv_len: int
) -> None:
    key, iv = bytearray(os.urandom(key_len)), bytearray(os.urandom(iv_len))
    plaintext = os.urandom(256)
    sizes = [64, 16, 128, 48] if iv_len != 8 else [64, 8, 128, 56]
    encryptor, reference = ours(key, iv), theirs(bytearray(key), bytearray(iv))
    assert encryptor.name == name and encryptor.implementation == "cryptography"
    assert encryptor.isBlockCipher == (iv_len > 0) and encryptor.isAEAD is False
    ciphertext = b""
    for piece in chunks(plaintext, sizes):  # the IV must chain from record to record
        mine = encryptor.encrypt(bytearray(piece))
        assert isinstance(mine, bytearray)
        assert mine == reference.encrypt(bytearray(piece))
        ciphertext += mine
    decryptor = ours(key, iv)
    recovered = b"".join(decryptor.decrypt(bytearray(p)) for p in chunks(ciphertext, sizes))
    assert recovered == plaintext


def test_aes128_cbc_matches_the_nist_vector() -> None:
    # SP 800-38A F.2.1, first block.
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    iv = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    block = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    cipher = fastcipher.create_aes(key, iv)
    assert cipher.encrypt(block).hex() == "7649abac8119b246cee98e9b12e9197d"
    assert cipher.block_size == 16


def test_misuse_is_refused() -> None:
    cipher = fastcipher.create_aes(bytes(16), bytes(16))
    cipher.encrypt(bytes(16))
    with pytest.raises(RuntimeError, match="mix"):
        cipher.decrypt(bytes(16))
    with pytest.raises(ValueError, match="multiple of the block size"):
        cipher.encrypt(bytes(15))
    with pytest.raises(ValueError):
        fastcipher.create_triple_des(bytes(16), bytes(8))
    with pytest.raises(ValueError):
        fastcipher.create_rc4(bytes(16), bytes(8))


def test_install_is_idempotent_and_uninstall_restores(restore_install_state: None) -> None:
    from tlslite import recordlayer
    from tlslite.utils import cipherfactory

    fastcipher.uninstall()
    original = recordlayer.createAES
    assert not fastcipher.installed()
    fastcipher.install()
    fastcipher.install()
    assert fastcipher.installed()
    assert recordlayer.createAES is fastcipher.create_aes
    assert cipherfactory.createTripleDES is fastcipher.create_triple_des
    fastcipher.uninstall()
    assert recordlayer.createAES is original
    assert not fastcipher.installed()


# ---- through a real tlslite pair --------------------------------------------------------------


@cache
def server_identity() -> tuple[X509CertChain, object]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    chain = X509CertChain()
    chain.parsePemList(cert.public_bytes(serialization.Encoding.PEM).decode())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return chain, parsePEMKey(key_pem, private=True)


def settings(cipher: str, mac: str, version: tuple[int, int]) -> HandshakeSettings:
    result = HandshakeSettings()
    result.cipherNames, result.macNames, result.keyExchangeNames = [cipher], [mac], ["rsa"]
    result.minVersion = result.maxVersion = version
    result.useExtendedMasterSecret = result.useEncryptThenMAC = False
    return result


def connected_pair(cipher: str, mac: str, version: tuple[int, int]):
    chain, key = server_identity()
    client_sock, server_sock = socket.socketpair()
    for sock in (client_sock, server_sock):
        sock.settimeout(10)
    client, server = TLSConnection(client_sock), TLSConnection(server_sock)
    serve = threading.Thread(
        target=server.handshakeServer,
        kwargs={"certChain": chain, "privateKey": key, "settings": settings(cipher, mac, version)},
    )
    serve.start()
    client.handshakeClientCert(settings=settings(cipher, mac, version))
    serve.join(10)
    return client, server, (client_sock, server_sock)


def test_installed_ciphers_are_what_connections_use(restore_install_state: None) -> None:
    fastcipher.install()
    client, server, socks = connected_pair("3des", "sha", (3, 1))
    assert client.getCipherImplementation() == server.getCipherImplementation() == "cryptography"
    server.write(b"ping")
    assert client.read(max=4, min=4) == b"ping"
    for sock in socks:
        sock.close()
    fastcipher.uninstall()
    client, _server, socks = connected_pair("aes128", "sha", (3, 0))
    assert client.getCipherImplementation() == "python"
    for sock in socks:
        sock.close()


@pytest.mark.parametrize(
    "cipher, mac",
    [("rc4", "md5"), ("rc4", "sha"), ("3des", "sha"), ("aes128", "sha"), ("aes256", "sha")],
)
def test_every_suite_outruns_the_fastest_serial_line(cipher: str, mac: str) -> None:
    """2 KB records (the device's size) one way through a tlslite pair, both ends in-process.

    The rate is per CPU second of this process (both ends), so that other load on the machine
    does not decide the result; tlslite's pure-Python AES (~0.3 MB/s) and 3DES (~0.01 MB/s)
    fail it.
    """
    fastcipher.install()
    client, server, socks = connected_pair(cipher, mac, (3, 1))
    record, count = os.urandom(2048), 200
    writer = threading.Thread(target=lambda: [server.write(record) for _ in range(count)])
    cpu_started = time.process_time()
    writer.start()
    received = 0
    while received < count * len(record):
        received += len(client.read())
    writer.join(10)
    rate = received / (time.process_time() - cpu_started)
    for sock in socks:
        sock.close()
    assert rate > 5 * LINE_RATE, f"{cipher}-{mac}: {rate / 1e6:.2f} MB per CPU second"
