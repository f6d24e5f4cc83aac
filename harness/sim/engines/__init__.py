"""The simulator's TLS client engines: which stack runs behind the AT front end.

`tlslite` (the default) is the simulator's own engine, w24_harness.sim.tls_engine. The others are
real stacks behind w24_harness.sim.engines.channel.EngineChannel:
- `openssl`: the system OpenSSL through Python's `ssl` (always there);
- `wolfssl[-VERSION]`, `mbedtls[-VERSION]`: shared libraries built by
  `python -m w24_harness.sim.engines.build` into ~/.cache/w24-harness/engines, through ctypes;
- `tlslite-VERSION`: an older tlslite-ng from PyPI, as a plain memory-BIO client (no simulator
  record checks: what that version does is what is measured).
A bare stack name takes the newest cached build of it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from w24_harness.profiles.table import DeviceProfile
from w24_harness.sim.engines.base import EngineFactory
from w24_harness.sim.engines.cache import cache_root

DEFAULT_ENGINE = "tlslite"
STACKS = ("tlslite", "openssl", "wolfssl", "mbedtls")


class EngineUnavailable(Exception):
    """The engine is not built (or not known); the message says how to get it."""


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", name.partition("-")[2]))


def cached_builds(stack: str | None = None) -> list[str]:
    """Finished builds in the cache, e.g. ['wolfssl-4.6.0', 'wolfssl-5.7.2'], oldest first."""
    root = cache_root()
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if (p / ".built").exists()]
    if stack is not None:
        names = [n for n in names if n.partition("-")[0] == stack]
    return sorted(names, key=lambda n: (n.partition("-")[0], _version_key(n)))


def resolve(name: str) -> str:
    """The full engine name: 'wolfssl' -> 'wolfssl-5.7.2' (newest cached build)."""
    if name in (DEFAULT_ENGINE, "openssl"):
        return name
    stack = name.partition("-")[0]
    if stack not in STACKS:
        raise EngineUnavailable(f"unknown engine {name!r}; known: {', '.join(STACKS)}[-VERSION]")
    if "-" in name:
        if name not in cached_builds(stack):
            raise EngineUnavailable(
                f"engine {name} is not built: python -m w24_harness.sim.engines.build {name}"
            )
        return name
    builds = cached_builds(stack)
    if not builds:
        raise EngineUnavailable(
            f"no {stack} build in {cache_root()}: python -m w24_harness.sim.engines.build "
            f"{stack}-VERSION (or ./w24-test engines)"
        )
    return builds[-1]


def factory(name: str) -> EngineFactory | None:
    """The engine's factory; None for the built-in tlslite engine."""
    name = resolve(name)
    if name == DEFAULT_ENGINE:
        return None
    if name == "openssl":
        from w24_harness.sim.engines.openssl import OpenSSLFactory

        return OpenSSLFactory()
    prefix = cache_root() / name
    stack = name.partition("-")[0]
    if stack == "wolfssl":
        from w24_harness.sim.engines.wolfssl import WolfSSLFactory

        return WolfSSLFactory(name, prefix)
    if stack == "mbedtls":
        from w24_harness.sim.engines.mbedtls import MbedTLSFactory

        return MbedTLSFactory(name, prefix)
    from w24_harness.sim.engines.tlslite_bio import TlsliteFactory

    return TlsliteFactory(name, prefix)


def profile_for(profile: DeviceProfile, name: str) -> DeviceProfile:
    """`profile` limited to the versions and suites the engine really has, so a row needing
    what the build lacks is judged as unsupported (220 expected), not as a wedged device."""
    made = factory(name)
    if made is None:
        return profile
    protocols = tuple(v for v in profile.protocols if v in made.versions)
    suites = tuple(s for s in profile.cipher_suites if s in made.suites)
    hello = max(protocols, key=lambda v: v.wire) if protocols else profile.hello_version
    extras = dict(profile.extras, engine=made.name)
    return replace(
        profile, protocols=protocols, cipher_suites=suites, hello_version=hello, extras=extras
    )


def deviations_file(name: str) -> Path | None:
    """The shipped deviations file of an engine (what the stack itself fails, with the RFC
    section and evidence), for `--w24-deviations`; None when it has none."""
    path = Path(__file__).parent / "deviations" / f"{resolve(name)}.toml"
    return path if path.is_file() else None
