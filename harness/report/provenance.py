"""When, by what, on what: the provenance of a run (results.json "provenance", the top of
report.html) and of `w24 --version`.

The harness version is the installed distribution's; the git commit is the checkout's the
package runs from (with "-dirty" when it has uncommitted changes), empty for an installed
wheel. A profile given as a file is named with the SHA-256 of its bytes: two runs "on profile
x" that used different files can be told apart.
"""

from __future__ import annotations

import hashlib
import platform
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path

DIST = "w24-harness"
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass
class Provenance:
    started: str  # ISO 8601, UTC
    finished: str = ""
    duration_s: float | None = None
    harness_version: str = ""
    git_commit: str = ""
    python: str = ""
    openssl: str = ""  # the library Python's ssl module links (the OpenSSL servers use it)
    tlslite: str = ""
    host: str = ""
    platform: str = ""
    command: str = ""
    port: str = ""  # the --w24-port, or "built-in simulator"
    path: str = ""  # the port path kind(s) the workers used (transport.PortPath)
    baud: int = 0  # the line rate (0: an unthrottled simulator)
    profile: str = ""
    profile_file: str = ""
    profile_sha256: str = ""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


@cache
def git_commit(where: Path = PACKAGE_DIR) -> str:
    """The checkout's commit (12 hex digits, "-dirty" if modified), or "" outside one."""
    try:
        out = subprocess.run(
            ["git", "-C", str(where), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def versions() -> dict[str, str]:
    return {
        "harness_version": _version(DIST),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "tlslite": _version("tlslite-ng"),
    }


def file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def start(*, port: str, baud: int, profile: str, profile_file: Path | None = None) -> Provenance:
    """What can be known as the run starts (the controller's configure)."""
    v = versions()
    return Provenance(
        started=now(),
        harness_version=v["harness_version"],
        git_commit=v["git_commit"],
        python=v["python"],
        openssl=v["openssl"],
        tlslite=v["tlslite"],
        host=socket.gethostname(),
        platform=platform.platform(terse=True),
        command=" ".join(sys.argv),
        port=port,
        baud=baud,
        profile=profile,
        profile_file=str(profile_file) if profile_file else "",
        profile_sha256=file_sha256(profile_file) if profile_file else "",
    )


def finish(prov: Provenance, paths: set[str]) -> Provenance:
    """At the end: the finish time, the duration, and the path kinds the workers reported."""
    prov.finished = now()
    begun = datetime.fromisoformat(prov.started)
    prov.duration_s = round((datetime.fromisoformat(prov.finished) - begun).total_seconds(), 1)
    prov.path = "/".join(sorted(p for p in paths if p)) or prov.path
    return prov


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def version_line() -> str:
    """`w24 --version`."""
    v = versions()
    commit = f" (git {v['git_commit']})" if v["git_commit"] else ""
    return (
        f"w24 {v['harness_version'] or '(not installed)'}{commit}; Python {v['python']}, "
        f"{v['openssl']}, tlslite-ng {v['tlslite'] or '?'}"
    )
