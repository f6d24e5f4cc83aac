"""Build the simulator's real TLS engines from registry sources, into a cache.

`python -m w24_harness.sim.engines.build wolfssl-5.7.2 mbedtls-2.28.3 tlslite-0.7.3` (no
argument: the default set, DEFAULT_BUILDS). wolfSSL and mbed TLS come from Debian source packages
(`apt-get source`, after adding deb-src lines for bullseye/bookworm/trixie and `apt-get update`);
the upstream tarball is unpacked without Debian's patches, since what is measured is the stack as
its vendor shipped that version. tlslite-ng versions come from PyPI into a separate target
directory. Each build lands in ~/.cache/w24-harness/engines/<name>-<version>/ (or
$W24_ENGINES_CACHE) and is skipped when already there; the build time is printed.

Configured as a firmware author would for the W24: TLS 1.0 at most, SSL 3.0, static RSA, RC4 and
3DES (see /work/shared/notes/real-tls-stacks.md for where the flags come from).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from w24_harness.sim.engines.cache import cache_root

DEFAULT_BUILDS = (
    "wolfssl-5.7.2",
    "wolfssl-4.6.0",
    "mbedtls-2.28.3",
    "tlslite-0.7.3",
    "tlslite-0.7.4",
)
SOURCES_FILE = Path("/etc/apt/sources.list.d/w24-engines-src.sources")
DEB_SRC = """Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bullseye bookworm trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
# Debian's archive keeps buster (mbed TLS 2.16.0, before the CVE-2020-36478 fix) here.
ARCHIVE_SRC = """Types: deb-src
URIs: http://archive.debian.org/debian
Suites: buster
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
ARCHIVE_FILE = Path("/etc/apt/sources.list.d/w24-engines-archive-src.sources")
WOLFSSL_FLAGS = [
    "--enable-shared",
    "--disable-static",
    "--enable-oldtls",
    "--enable-tlsv10",
    "--enable-sslv3",
    "--enable-des3",
    "--enable-arc4",
    "--enable-md5",
    "--enable-sessioncerts",
    "--disable-examples",
    "--disable-crypttests",
    "CFLAGS=-O2 -DWOLFSSL_STATIC_RSA",
]


class BuildError(Exception):
    """A build that cannot go on; the message is one line saying what to do."""


@dataclass(frozen=True)
class Target:
    stack: str  # wolfssl | mbedtls | tlslite
    version: str

    @property
    def name(self) -> str:
        return f"{self.stack}-{self.version}"

    @property
    def prefix(self) -> Path:
        return cache_root() / self.name

    @classmethod
    def parse(cls, text: str) -> Target:
        stack, _, version = text.partition("-")
        if stack not in ("wolfssl", "mbedtls", "tlslite") or not re.fullmatch(r"[\d.]+", version):
            raise BuildError(
                f"unknown build {text!r}: want wolfssl-X.Y.Z, mbedtls-X.Y.Z or tlslite-X.Y.Z"
            )
        return cls(stack, version)


def _run(cmd: list[str], cwd: Path | None = None, log: Path | None = None) -> None:
    with open(log, "a") if log else open(os.devnull, "w") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        where = f"; log: {log}" if log else ""
        raise BuildError(f"`{' '.join(cmd[:3])} ...` failed (exit {done.returncode}){where}")


def _need(tools: dict[str, str]) -> None:
    missing = sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})
    if missing:
        raise BuildError(f"missing toolchain: apt-get install {' '.join(missing)}")


def ensure_deb_src(archive: bool = False) -> None:
    """deb-src lines for the releases that carry the versions, then `apt-get update`."""
    wanted = [(SOURCES_FILE, DEB_SRC)] + ([(ARCHIVE_FILE, ARCHIVE_SRC)] if archive else [])
    todo = [(path, text) for path, text in wanted if not path.exists()]
    if not todo:
        return
    if os.geteuid() != 0:
        raise BuildError(
            f"no deb-src lines: as root, write {todo[0][0]} (see build.py), apt-get update"
        )
    for path, text in todo:
        path.write_text(text)
    _run(["apt-get", "update", "-qq"])


def debian_version(package: str, upstream: str) -> str:
    """The Debian source version of `package` whose upstream part is `upstream`."""
    out = subprocess.run(
        ["apt-cache", "showsrc", package], capture_output=True, text=True, check=False
    ).stdout
    for version in re.findall(r"^Version: (\S+)$", out, re.M):
        if re.sub(r"^\d+:", "", version).split("+")[0].split("-")[0] == upstream:
            return version
    have = sorted(set(re.findall(r"^Version: (\S+)$", out, re.M)))
    raise BuildError(
        f"no Debian source package {package} {upstream} (apt has: {', '.join(have) or 'none'})"
    )


def fetch_source(package: str, upstream: str, work: Path, log: Path) -> Path:
    """Download the source package and unpack its upstream tarball (no Debian patches, and no
    Debian debian/ directory: wolfSSL's own debian/*.in templates are part of its build)."""
    version = debian_version(package, upstream)
    _run(["apt-get", "source", "-q", "--download-only", f"{package}={version}"], work, log)
    orig = next(p for p in work.glob(f"{package}_*.orig.tar.*") if p.suffix != ".asc")
    (work / "src").mkdir()
    _run(["tar", "-xf", orig.name, "-C", "src", "--strip-components=1"], work, log)
    return work / "src"


def build_wolfssl(target: Target, work: Path, log: Path) -> None:
    _need(
        {
            "gcc": "gcc",
            "make": "make",
            "autoreconf": "autoconf",
            "automake": "automake",
            "libtoolize": "libtool",
            "apt-get": "apt",
        }
    )
    src = fetch_source("wolfssl", target.version, work, log)
    flags = list(WOLFSSL_FLAGS)
    if tuple(int(p) for p in target.version.split(".")) >= (5, 7, 0):
        flags.append("--enable-des3-tls-suites")  # 5.7 split 3DES suites off --enable-des3
    _run(["./autogen.sh"], src, log)
    _run(["./configure", f"--prefix={target.prefix}", *flags], src, log)
    _run(["make", f"-j{os.cpu_count() or 1}"], src, log)
    _run(["make", "install"], src, log)


def build_mbedtls(target: Target, work: Path, log: Path) -> None:
    _need({"gcc": "gcc", "make": "make", "apt-get": "apt"})
    src = fetch_source("mbedtls", target.version, work, log)
    config = src / "include" / "mbedtls" / "config.h"
    text = config.read_text()
    # SSL 3.0 (where this version still has it), and RC4/3DES suites, which 2.x removes from
    # the default list by these two defines.
    text = text.replace("//#define MBEDTLS_SSL_PROTO_SSL3", "#define MBEDTLS_SSL_PROTO_SSL3")
    for define in ("MBEDTLS_REMOVE_ARC4_CIPHERSUITES", "MBEDTLS_REMOVE_3DES_CIPHERSUITES"):
        text = re.sub(rf"^#define {define}\b", f"//#define {define}", text, flags=re.M)
    config.write_text(text)
    _run(["make", f"-j{os.cpu_count() or 1}", "SHARED=1", "lib"], src, log)
    lib = target.prefix / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    for so in (src / "library").glob("lib*.so*"):
        shutil.copy2(so, lib / so.name, follow_symlinks=False)
    shutil.copytree(src / "include", target.prefix / "include", dirs_exist_ok=True)


def build_tlslite(target: Target, work: Path, log: Path) -> None:
    # Into its own directory: the harness's own tlslite-ng stays the installed one.
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target.prefix / "site"),
            f"tlslite-ng=={target.version}",
        ],
        work,
        log,
    )


BUILDERS = {"wolfssl": build_wolfssl, "mbedtls": build_mbedtls, "tlslite": build_tlslite}


def build(target: Target, force: bool = False) -> float | None:
    """Build one target into the cache; its seconds, or None when it was cached."""
    stamp = target.prefix / ".built"
    if stamp.exists() and not force:
        return None
    if target.stack != "tlslite":
        if os.geteuid() == 0:
            ensure_deb_src(archive=target.name.startswith("mbedtls-2.16.0"))
        shutil.rmtree(target.prefix, ignore_errors=True)
    target.prefix.mkdir(parents=True, exist_ok=True)
    log = target.prefix / "build.log"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"w24-{target.name}-") as tmp:
        BUILDERS[target.stack](target, Path(tmp), log)
    seconds = time.monotonic() - started
    stamp.write_text(f"{seconds:.1f}\n")
    return seconds


def built(name: str) -> Path | None:
    """The cache directory of a finished build, or None."""
    prefix = cache_root() / name
    return prefix if (prefix / ".built").exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m w24_harness.sim.engines.build")
    parser.add_argument("builds", nargs="*", help=f"default: {' '.join(DEFAULT_BUILDS)}")
    parser.add_argument("--force", action="store_true", help="rebuild even when cached")
    args = parser.parse_args(argv)
    status = 0
    for text in args.builds or DEFAULT_BUILDS:
        started = time.monotonic()
        try:
            target = Target.parse(text)
            seconds = build(target, args.force)
        except BuildError as exc:
            print(f"{text}: {exc}", file=sys.stderr)
            status = 1
            continue
        if seconds is None:
            took = time.monotonic() - started
            print(f"{target.name}: cached in {target.prefix} ({took:.2f} s)")
        else:
            print(f"{target.name}: built in {seconds:.0f} s into {target.prefix}")
    return status


if __name__ == "__main__":
    sys.exit(main())
