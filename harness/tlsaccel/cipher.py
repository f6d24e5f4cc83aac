"""Fast bulk ciphers for tlslite-ng, backed by the `cryptography` package.

tlslite-ng falls back to pure-Python ciphers when M2Crypto/pycrypto are absent: 3DES runs at about
0.014 MB/s and AES at about 0.55 MB/s, slower than the 921600-baud serial line the simulator has to
keep up with. The classes here have the interface of tlslite's `python_aes`, `python_tripledes` and
`python_rc4` objects (attributes `name`, `implementation`, `isBlockCipher`, `isAEAD`, `block_size`;
methods `encrypt` / `decrypt` returning a bytearray) and keep the CBC chaining state between calls,
as the record layer expects (TLS 1.0 / SSL 3.0 chain the IV from record to record).

`install()` makes every tlslite connection created afterwards in this process use them, clients and
servers alike. Only the three legacy ciphers of the W24 suites are replaced; AEAD ciphers stay as
tlslite has them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives.ciphers import (
    BlockCipherAlgorithm,
    Cipher,
    CipherContext,
    algorithms,
    modes,
)

from w24_harness.tlsaccel import mac as fastmac

IMPLEMENTATION = "cryptography"

# Factory names that tlslite's record layer resolves from its module globals at each key change.
_FACTORY_NAMES = ("createAES", "createTripleDES", "createRC4")


class _CBCCipher:
    """A CBC cipher for one direction; the IV chains across encrypt/decrypt calls."""

    isBlockCipher = True
    isAEAD = False
    implementation = IMPLEMENTATION

    def __init__(self, name: str, algorithm: BlockCipherAlgorithm, iv: bytes) -> None:
        self.name = name
        self.block_size = algorithm.block_size // 8
        if len(iv) != self.block_size:
            raise ValueError(f"{name}: IV must be {self.block_size} bytes, got {len(iv)}")
        self._cipher = Cipher(algorithm, modes.CBC(bytes(iv)))
        self._context: CipherContext | None = None
        self._encrypting: bool | None = None

    def _context_for(self, encrypting: bool) -> CipherContext:
        # A record layer state only ever goes one way; mixing would break the IV chain silently.
        if self._context is None:
            self._context = self._cipher.encryptor() if encrypting else self._cipher.decryptor()
            self._encrypting = encrypting
        elif self._encrypting != encrypting:
            raise RuntimeError(f"{self.name}: cannot mix encrypt and decrypt on one CBC state")
        return self._context

    def encrypt(self, plaintext: bytes | bytearray) -> bytearray:
        if len(plaintext) % self.block_size:
            raise ValueError(f"{self.name}: plaintext is not a multiple of the block size")
        return bytearray(self._context_for(True).update(bytes(plaintext)))

    def decrypt(self, ciphertext: bytes | bytearray) -> bytearray:
        if len(ciphertext) % self.block_size:
            raise ValueError(f"{self.name}: ciphertext is not a multiple of the block size")
        return bytearray(self._context_for(False).update(bytes(ciphertext)))


class _RC4Cipher:
    """RC4 keystream; encryption and decryption are the same XOR."""

    isBlockCipher = False
    isAEAD = False
    implementation = IMPLEMENTATION
    name = "rc4"

    def __init__(self, key: bytes) -> None:
        if not 16 <= len(key) <= 256:
            raise ValueError(f"rc4: key must be 16..256 bytes, got {len(key)}")
        self._context = Cipher(ARC4(bytes(key)), mode=None).encryptor()

    def encrypt(self, plaintext: bytes | bytearray) -> bytearray:
        return bytearray(self._context.update(bytes(plaintext)))

    decrypt = encrypt


def create_aes(key: bytes, iv: bytes, impl_list: object = None) -> _CBCCipher:
    """tlslite `createAES` replacement (CBC mode)."""
    names = {16: "aes128", 24: "aes192", 32: "aes256"}
    if len(key) not in names:
        raise ValueError(f"AES key must be 16, 24 or 32 bytes, got {len(key)}")
    return _CBCCipher(names[len(key)], algorithms.AES(bytes(key)), iv)


def create_triple_des(key: bytes, iv: bytes, impl_list: object = None) -> _CBCCipher:
    """tlslite `createTripleDES` replacement (EDE3-CBC)."""
    if len(key) != 24:
        raise ValueError(f"3DES key must be 24 bytes, got {len(key)}")
    return _CBCCipher("3des", TripleDES(bytes(key)), iv)


def create_rc4(key: bytes, iv: bytes, impl_list: object = None) -> _RC4Cipher:
    """tlslite `createRC4` replacement; RC4 takes no IV."""
    if len(iv):
        raise ValueError("RC4 takes no IV")
    return _RC4Cipher(key)


_REPLACEMENTS: dict[str, Callable[..., Any]] = {
    "createAES": create_aes,
    "createTripleDES": create_triple_des,
    "createRC4": create_rc4,
}
_originals: dict[tuple[str, str], Any] = {}


def _patched_modules() -> list[Any]:
    # recordlayer binds the factories by `from ... import`, so its globals are what it calls;
    # cipherfactory is patched too so that any other caller gets the same objects.
    from tlslite import recordlayer
    from tlslite.utils import cipherfactory

    return [recordlayer, cipherfactory]


def install() -> None:
    """Make tlslite-ng use the `cryptography`-backed AES, 3DES and RC4 from now on.

    Idempotent and process-wide: call it once before creating TLSConnection objects (the engine and
    the test servers both call it; calling it again is free). Connections whose keys were already
    derived keep the cipher objects they have.
    """
    for module in _patched_modules():
        for name in _FACTORY_NAMES:
            key = (module.__name__, name)
            if key not in _originals:
                _originals[key] = getattr(module, name)
            setattr(module, name, _REPLACEMENTS[name])
    fastmac.install()  # the record layer's CBC MAC check, the other per-record hot spot


def uninstall() -> None:
    """Restore tlslite's own cipher factories (for before/after measurements and tests)."""
    for module in _patched_modules():
        for name in _FACTORY_NAMES:
            original = _originals.pop((module.__name__, name), None)
            if original is not None:
                setattr(module, name, original)
    fastmac.uninstall()


def installed() -> bool:
    """True when tlslite's record layer currently creates the fast ciphers."""
    from tlslite import recordlayer

    return all(getattr(recordlayer, n) is _REPLACEMENTS[n] for n in _FACTORY_NAMES)
