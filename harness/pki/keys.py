"""RSA keys for the harness, cached for the life of the process.

Key generation is the slow part of building certificates (an RSA-2048 key takes 20-200 ms, a
4096-bit one seconds), and scenarios need dozens of certificates, so keys are cached:

* ``rsa_key(bits, index)``: the index-th cached key of that size; scenario code asks for
  ``rsa_key(2048, 1)`` when it needs "a second, different key".
* ``labelled_rsa_key(label, bits)``: one key per label, in its own namespace (so a label never
  collides with an index). The certificate factory uses one label per CA name, so two different
  CAs never share a key (a "wrong CA" must not verify the other CA's signatures).
* ``fresh_rsa_key(bits)``: never cached, for material a person will deploy (the CLI).

cryptography refuses to *generate* RSA keys under 1024 bits but loads and signs with them, so a
512-bit key is assembled here from two primes found with Miller-Rabin over ``secrets``.

trustme 1.2.1 makes a new RSA-2048 key for every CA and every leaf through the private
``KeyType._generate_key()``: ``trustme.CA(key_type=...)`` and ``issue_cert(key_type=...)`` call
``key_type._generate_key()`` and nothing else on it. Two ways to make trustme use the cache:

* ``CachedRSAKeyType(label, bits)``: a stand-in passed as ``key_type=``. Scoped to one call, no
  global state; this is what the factory uses.
* ``trustme_key_cache()``: a context manager that patches ``trustme.KeyType._generate_key`` so that
  code calling trustme with ``KeyType.RSA`` gets cached keys. Inside one ``with`` block every
  trustme object gets a different key; a later block hands out the same keys again in the same
  order. Do not mix objects made in different blocks (their keys repeat). The patch is
  process-wide while it is active, so do not use it from several threads at once.

The cache also persists across processes, in a directory (``$W24_KEY_CACHE``, default
``$XDG_CACHE_HOME/w24-harness/keys``; ``W24_KEY_CACHE=off`` turns it off): every pytest process
(each xdist worker, each child run of the fault proofs) would otherwise make the same few dozen
keys again, seconds of CPU per process for the 4096-bit ones. Loading one takes about a
millisecond. What is cached is only key material for throw-away test certificates on loopback;
the certificates themselves are built fresh in every process (their dates are relative to now).
A file that does not load is replaced by a new key.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PUBLIC_EXPONENT = 65537
# Below this, cryptography will not generate keys; the harness makes its own primes.
CRYPTOGRAPHY_MIN_BITS = 1024
# PKCS#1 v1.5 with SHA-256 needs a 62-byte modulus (496 bits); 512 is the smallest size in use.
MIN_BITS = 512

# Small primes for trial division before Miller-Rabin: cheap rejection of most candidates.
_SMALL_PRIMES = tuple(
    p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))
)


def _is_probable_prime(n: int, rounds: int = 40) -> bool:
    if n < 2:
        return False
    for p in (2, *_SMALL_PRIMES):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = 2 + secrets.randbelow(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _random_prime(bits: int) -> int:
    """A prime of exactly `bits` bits with the top two bits set, so p*q has 2*bits bits."""
    while True:
        candidate = secrets.randbits(bits) | (0b11 << (bits - 2)) | 1
        if math.gcd(candidate - 1, PUBLIC_EXPONENT) != 1:
            continue
        if _is_probable_prime(candidate):
            return candidate


def _small_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    half = bits // 2
    while True:
        p = _random_prime(bits - half)
        q = _random_prime(half)
        if p == q:
            continue
        n = p * q
        if n.bit_length() == bits:
            break
    d = pow(PUBLIC_EXPONENT, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(PUBLIC_EXPONENT, n),
    )
    return numbers.private_key()


def fresh_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    """A new RSA key of `bits` bits (>= 512), never cached."""
    if bits < MIN_BITS or bits % 2:
        raise ValueError(f"RSA key size must be an even number >= {MIN_BITS}, not {bits}")
    if bits < CRYPTOGRAPHY_MIN_BITS:
        return _small_rsa_key(bits)
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)


KEY_CACHE_ENV = "W24_KEY_CACHE"
_CacheKey = tuple[str, int, int | str, int]  # kind, bits, index or label, public exponent
_cache: dict[_CacheKey, rsa.RSAPrivateKey] = {}
# One lock for both caches: two threads asking for the same new key must not both generate it.
_cache_lock = threading.Lock()


def key_cache_dir() -> Path | None:
    """Where keys persist across processes, or None when that is turned off."""
    value = os.environ.get(KEY_CACHE_ENV, "")
    if value.lower() in ("off", "0", "no"):
        return None
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "w24-harness" / "keys"


def _key_file(directory: Path, entry: _CacheKey) -> Path:
    kind, bits, name, exponent = entry
    # Labels hold ':' and '#'; the digest keeps two labels that clean up alike apart.
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))[:40]
    digest = hashlib.sha256(repr(entry).encode()).hexdigest()[:12]
    return directory / f"{kind}-{bits}-e{exponent}-{readable}-{digest}.pem"


def _load_persisted(path: Path, bits: int, exponent: int) -> rsa.RSAPrivateKey | None:
    try:
        # Validation re-checks the primes (0.1 s for 2048 bits, 0.8 s for 4096: as slow as
        # making the key). The file is one this module wrote, atomically, for test use only.
        key = serialization.load_pem_private_key(
            path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != bits:
        return None
    return key if key.public_key().public_numbers().e == exponent else None


def _persist(path: Path, key: rsa.RSAPrivateKey) -> None:
    """Atomically (another process may be writing the same key); failures are not errors."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)  # a full disk must not leave key material behind


def _make(bits: int, exponent: int) -> rsa.RSAPrivateKey:
    if exponent == PUBLIC_EXPONENT:
        return fresh_rsa_key(bits)
    return rsa.generate_private_key(public_exponent=exponent, key_size=bits)


def _cached(
    kind: str, bits: int, name: int | str, exponent: int = PUBLIC_EXPONENT
) -> rsa.RSAPrivateKey:
    entry: _CacheKey = (kind, bits, name, exponent)
    with _cache_lock:
        key = _cache.get(entry)
        if key is None:
            directory = key_cache_dir()
            path = _key_file(directory, entry) if directory is not None else None
            key = _load_persisted(path, bits, exponent) if path is not None else None
            if key is None:
                key = _make(bits, exponent)
                if path is not None:
                    _persist(path, key)
            _cache[entry] = key
        return key


def rsa_key(bits: int, index: int = 0) -> rsa.RSAPrivateKey:
    """The index-th cached RSA key of `bits` bits; the same arguments give the same key."""
    return _cached("indexed", bits, index)


def labelled_rsa_key(label: str, bits: int) -> rsa.RSAPrivateKey:
    """The cached RSA key for `label`: one key per (label, bits), distinct across labels."""
    return _cached("labelled", bits, label)


def exponent3_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """The cached RSA key with public exponent 3 (the Bleichenbacher-2006 CA)."""
    return _cached("e3", bits, 0, exponent=3)


def cached_key_count() -> int:
    """How many keys the cache holds (for timing reports and tests)."""
    return len(_cache)


class CachedRSAKeyType:
    """Stands in for ``trustme.KeyType.RSA``: trustme gets a cached key of any size.

    ``fresh=True`` makes a new key on every call instead (for keys that leave the harness).
    """

    def __init__(self, label: str, bits: int = 2048, *, fresh: bool = False) -> None:
        self.label = label
        self.bits = bits
        self.fresh = fresh

    def _generate_key(self) -> rsa.RSAPrivateKey:
        if self.fresh:
            return fresh_rsa_key(self.bits)
        return labelled_rsa_key(self.label, self.bits)

    def __repr__(self) -> str:
        return f"CachedRSAKeyType({self.label!r}, {self.bits}, fresh={self.fresh})"


@contextmanager
def trustme_key_cache(bits: int = 2048) -> Iterator[None]:
    """Make plain ``trustme`` calls with ``KeyType.RSA`` draw keys from the cache.

    The n-th RSA key trustme asks for inside the block is ``labelled_rsa_key(f"trustme#{n}")``.
    ECDSA keys are generated as usual (they are cheap).
    """
    original = trustme.KeyType._generate_key
    counter = itertools.count()

    def cached_generate_key(self: trustme.KeyType) -> Any:
        if self is trustme.KeyType.RSA:
            return labelled_rsa_key(f"trustme#{next(counter)}", bits)
        return original(self)

    trustme.KeyType._generate_key = cached_generate_key  # type: ignore[method-assign]
    try:
        yield
    finally:
        trustme.KeyType._generate_key = original  # type: ignore[method-assign]
