"""Field interop: the device against the real servers it will meet, configured the way their
administrators configure them: nginx (HTTPS), stunnel in front of a plain banner-and-echo service,
gnutls-serv (echo), vsftpd with implicit FTPS, and `openssl s_server -www`.

Every daemon runs from a generated config in a temporary directory, in the foreground, and is
stopped by its process id. The device dials a record relay (on --w24-bind) that forwards to the
daemon and records what the daemon does on the wire; that goes into each result's `server`
field (results.json, report.html). A daemon that is not installed skips, naming its package.

Rows per daemon:
- one per (version, W24 suite) the daemon's TLS library can offer, as decided by a reference
  client (tlslite-ng): the device must accept exactly what its profile supports, and the wire
  must show that suite chosen. What the library cannot offer (SSL 3.0 in OpenSSL 3 and GnuTLS
  3.7 builds, RC4/3DES in this OpenSSL) skips with the reference client's reason.
- data both ways (checked by SHA-256 where the daemon echoes), at TLS 1.0 with the W24 suites;
- a wrong CA loaded: refused with 220 at AT+iSSL (and what the daemon logged);
- the seed's workflow: the daemon's own self-signed certificate made with `openssl req -x509`,
  loaded with `w24 ca load`: accepted; another daemon's certificate loaded instead: 220.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from w24_harness.at.codes import ResultCode
from w24_harness.interop.daemon_session import Stage, attempt, probe
from w24_harness.interop.daemons import (
    SPECS,
    Daemon,
    DaemonError,
    DaemonKind,
    ServerFiles,
    TLSSettings,
)
from w24_harness.interop.relay import RecordRelay, WireLog
from w24_harness.interop.rows import (
    ADMIN_LOADED,
    KINDS,
    VERSIONS,
    admin_row,
    data_row,
    suite_row,
    wrong_ca_row,
)
from w24_harness.judge.judgement import judge_expectation
from w24_harness.pki.certset import CertSetName
from w24_harness.pki.factory import hash_for_profile, write_key_file
from w24_harness.pki.fit import check_ca_fit
from w24_harness.pki.keys import labelled_rsa_key
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import PROFILES, DeviceProfile
from w24_harness.runner.scenario import Outcome, ca_loaded, restore_ca
from w24_harness.scenarios import ACCEPT, Expect, reject
from w24_harness.tlsfacts import W24_SUITES, ProtocolVersion

SSL3, TLS1 = ProtocolVersion.SSL3, ProtocolVersion.TLS1

pytestmark = [pytest.mark.field_interop, pytest.mark.timeout(120)]
# What a daemon's log says about a refused handshake (the line worth quoting in the report).
LOG_WORDS = ("alert", "unknown ca", "error", "fail")


@dataclass
class Field:
    daemon: Daemon
    relay: RecordRelay

    def wire(self) -> WireLog | None:
        """The relay's log of the device's connection, once both sides have closed."""
        self.relay.wait_closed(timeout=5.0)
        return self.relay.connections[-1] if self.relay.connections else None


@pytest.fixture
def field_daemon(tmp_path: Path, w24_options) -> Iterator[Callable[..., Field]]:
    """field_daemon(kind, files, tls, characterize=False): the daemon running behind a relay;
    both stop after the test. A missing daemon skips; one that refuses the configuration skips
    only when `characterize` (asking it for something its build may lack)."""
    with ExitStack() as stack:
        started: list[Daemon] = []

        def start(
            kind: DaemonKind, files: ServerFiles, tls: TLSSettings, characterize: bool = False
        ) -> Field:
            spec = SPECS[kind]
            missing = spec.missing()
            if missing:
                pytest.skip(missing)
            workdir = tmp_path / f"{kind}-{len(started)}"
            try:
                daemon = stack.enter_context(Daemon(spec, workdir, files, tls))
            except DaemonError as exc:
                if characterize:
                    names = ", ".join(tls.suites)
                    pytest.skip(f"{kind} ({spec.library}) refuses {tls.version} {names}: {exc}")
                raise
            started.append(daemon)
            relay = stack.enter_context(RecordRelay(daemon.connect, bind=w24_options.bind))
            return Field(daemon, relay)

        yield start


@pytest.fixture(scope="session")
def server_files(pki: CertSets) -> ServerFiles:
    """The daemons' certificate: our PKI's valid leaf for the profile (signed by pki.root)."""
    leaf = pki.get(CertSetName.VALID).server
    assert leaf is not None
    return ServerFiles(leaf.cert_pem + leaf.chain_pem, leaf.key_pem)


def _record(
    w24_record,
    w24_options,
    *,
    row: str,
    description: str,
    expect: Expect,
    outcome: Outcome,
    wire: WireLog | None,
    problems: list[str] | None = None,
    extra: dict | None = None,
    why: str = "",
) -> None:
    """Judge the row (the one judge: w24_harness.judge.judgement), record it, assert it."""
    verdict = judge_expectation(expect, outcome, problems or [])
    passed = not verdict.fails(strict=False)
    server = wire.summary() if wire else {}
    server.update(extra or {})
    parts = (verdict.reason, why, outcome.detail, wire.describe() if wire else "")
    detail = "; ".join(dict.fromkeys(p for p in parts if p))
    w24_record(
        id=row,
        description=description,
        expected=str(expect),
        actual=str(outcome),
        passed=passed,
        result_class=verdict.result,
        code=outcome.code,
        expected_code=expect.code,
        stage=outcome.stage,
        handshake_ms=outcome.handshake_ms,
        bytes_sent=outcome.bytes_sent,
        bytes_received=outcome.bytes_received,
        detail=detail,
        server=server,
    )
    if not passed:
        pytest.fail(
            f"{row} on profile {w24_options.profile.name}: expected {expect}, got "
            f"{outcome}"
            + (f"; device code {outcome.code}" if outcome.code else "")
            + f"\n{detail}",
            pytrace=False,
        )


def _suite_expect(profile: DeviceProfile, version: str, suite: str) -> Expect:
    supported = version in profile.protocols and suite in profile.cipher_suites
    return ACCEPT if supported else reject(ResultCode.SSL_NEGOTIATION)


def _wire_agrees(wire: WireLog | None, version: str, suite: str) -> str:
    """'' if the wire shows the server chose (version, suite); else what it shows."""
    if wire is None or not wire.server_version:
        return "the relay saw no ServerHello"
    if (wire.server_version, wire.server_suite) != (version, suite):
        return f"the server chose {wire.server_version} {wire.server_suite} on the wire"
    return ""


# Each row's parameter id is its row id (w24_harness.interop.rows): one name in the node id, the
# plan, results.json, the report and a deviations file.
@pytest.mark.parametrize(
    ("kind", "version", "suite"),
    [
        pytest.param(k, v, s, id=suite_row(k, v, s))
        for k in KINDS
        for v in VERSIONS
        for s in W24_SUITES
    ],
)
def test_suite_offered(
    kind, version, suite, field_daemon, server_files, pki, w24, w24_options, w24_record
):
    field = field_daemon(kind, server_files, TLSSettings(version, (suite,)), characterize=True)
    spec = field.daemon.spec
    cannot = probe(field.daemon, version, suite)
    if cannot:
        pytest.skip(f"{kind} ({spec.library}) does not offer {version} {suite}: {cannot}")
    expect = _suite_expect(w24_options.profile, version, suite)
    with ca_loaded(w24, pki.root.cert_pem):
        outcome = attempt(w24, w24_options.host, field.relay.port, field.daemon)
    wire = field.wire()
    why = _wire_agrees(wire, version, suite) if outcome.accepted else ""
    _record(
        w24_record,
        w24_options,
        row=suite_row(kind, version, suite),
        description=f"{kind} ({spec.library}) configured for {version} {suite} only",
        expect=expect,
        outcome=outcome,
        wire=wire,
        problems=[why] if why else [],
    )


@pytest.mark.parametrize("kind", KINDS, ids=data_row)
def test_data_both_ways(kind, field_daemon, server_files, pki, w24, w24_options, w24_record):
    field = field_daemon(kind, server_files, TLSSettings(TLS1, W24_SUITES))
    with ca_loaded(w24, pki.root.cert_pem):
        outcome = attempt(w24, w24_options.host, field.relay.port, field.daemon)
    wire = field.wire()
    why = ""
    if outcome.accepted and (wire is None or not wire.server_version):
        why = "the relay saw no ServerHello"
    elif outcome.accepted and wire.server_suite not in w24_options.profile.cipher_suites:
        why = f"the server chose {wire.server_suite}, which the device does not offer"
    _record(
        w24_record,
        w24_options,
        row=data_row(kind),
        description=f"{kind}: {field.daemon.spec.app} (TLS 1.0, the W24 suites)",
        expect=ACCEPT,
        outcome=outcome,
        wire=wire,
        problems=[why] if why else [],
    )


def _new_log_lines(daemon: Daemon, mark: tuple[int, ...], timeout: float = 2.0) -> list[str]:
    """Lines the daemon logged after `mark` that speak of the refusal (it may log a moment
    after the device has given up, so wait a little for one)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [ln.strip() for ln in daemon.log_text(since=mark).splitlines()]
        hits = [ln for ln in lines if any(w in ln.lower() for w in LOG_WORDS)]
        if hits or time.monotonic() > deadline:
            return hits[-3:]
        time.sleep(0.05)


@pytest.mark.w24_certs("wrong_ca")  # run with the wrong-ca scenario: one CA write for both
@pytest.mark.parametrize("kind", KINDS, ids=wrong_ca_row)
def test_wrong_ca_refused(kind, field_daemon, server_files, pki, w24, w24_options, w24_record):
    field = field_daemon(kind, server_files, TLSSettings(TLS1, W24_SUITES))
    expect = reject(ResultCode.SSL_NEGOTIATION, Stage.SSL)
    before = field.daemon.log_mark()
    with ca_loaded(w24, pki.get("wrong_ca").ca_pem):
        outcome = attempt(w24, w24_options.host, field.relay.port, field.daemon, data=False)
    wire = field.wire()
    logged = _new_log_lines(field.daemon, before)
    _record(
        w24_record,
        w24_options,
        row=wrong_ca_row(kind),
        description=f"{kind} presents a certificate the loaded CA did not sign",
        expect=expect,
        outcome=outcome,
        wire=wire,
        extra={"daemon_log": logged},
        why=f"{kind} logged: {' | '.join(logged)}" if logged else f"{kind} logged nothing",
    )


# -- the seed's workflow: an administrator's self-signed certificate, loaded with `w24 ca load` --


@dataclass(frozen=True)
class AdminCert:
    cert: Path
    key: Path

    def files(self) -> ServerFiles:
        return ServerFiles(self.cert.read_bytes(), self.key.read_bytes())


def _openssl_req(directory: Path, kind: DaemonKind, host: str, bits: int, digest: str) -> AdminCert:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{kind}.crt", directory / f"{kind}.key"
    # The key is one this administrator made earlier (`-key`; cached across runs, one per
    # daemon), not a new one (`-newkey rsa:N`: 0.6 s of openssl's prime search per daemon).
    # The certificate is what `openssl req -x509` makes either way.
    write_key_file(
        key,
        labelled_rsa_key(f"field-admin-{kind}", bits).private_bytes(
            Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()
        ),
    )
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-key",
            str(key),
            f"-{digest}",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            f"/O=w24 field interop/OU={kind} administrator/CN={host}",
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return AdminCert(cert, key)


@pytest.fixture(scope="session")
def admin_cert(tmp_path_factory, w24_options) -> Callable[[DaemonKind], AdminCert]:
    """admin_cert(kind): that daemon's own self-signed certificate, as its administrator makes
    it (`openssl req -x509`), with the largest RSA key and the hash that fit the profile."""
    profile = w24_options.profile
    digest = hash_for_profile(profile)
    directory = tmp_path_factory.mktemp("admin-certs")
    made: dict[DaemonKind, AdminCert] = {}

    def get(kind: DaemonKind) -> AdminCert:
        if kind not in made:
            for bits in sorted(profile.ca_key_bits, reverse=True):
                cert = _openssl_req(directory / str(bits), kind, w24_options.host, bits, digest)
                if check_ca_fit(cert.cert.read_bytes(), profile).fits:
                    made[kind] = cert
                    break
            else:
                pytest.fail(f"no `openssl req -x509` certificate fits profile {profile.name}")
        return made[kind]

    return get


def _cli_ca_load(w24_session, w24_options, cert: Path) -> subprocess.CompletedProcess[str]:
    """`w24 ca load FILE --port ...` as its own process, with the session's port released
    for it; the session reconnects afterwards (w24_session.device is then the live driver)."""
    w24_session.device.close_port()
    try:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "w24_harness.cli.main",
                "ca",
                "load",
                str(cert),
                "--port",
                w24_session.url,
                # A profile read from a file has no built-in name: the CLI's own w24 then.
                *(
                    ["--profile", w24_options.profile.name]
                    if w24_options.profile.name in PROFILES
                    else []
                ),
                "--baud",
                str(w24_options.baud or 115200),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        w24_session.connect()


@pytest.mark.parametrize(
    ("kind", "loaded"),
    [pytest.param(k, loaded, id=admin_row(k, loaded)) for k in KINDS for loaded in ADMIN_LOADED],
)
def test_admin_self_signed(
    kind, loaded, field_daemon, admin_cert, w24, w24_session, w24_options, w24_record
):
    other_kind = KINDS[(KINDS.index(kind) + 1) % len(KINDS)]
    own = admin_cert(kind)
    cert = own if loaded == "own" else admin_cert(other_kind)
    field = field_daemon(kind, own.files(), TLSSettings(TLS1, W24_SUITES))
    previous = w24.get_ca().pem
    try:
        cli = _cli_ca_load(w24_session, w24_options, cert.cert)
        assert cli.returncode == 0, f"w24 ca load {cert.cert} failed: {cli.stderr.strip()}"
        outcome = attempt(w24_session.device, w24_options.host, field.relay.port, field.daemon)
    finally:
        restore_ca(w24_session.device, previous)
    wire = field.wire()
    expect = ACCEPT if loaded == "own" else reject(ResultCode.SSL_NEGOTIATION, Stage.SSL)
    whose = "its own" if loaded == "own" else f"{other_kind}'s"
    _record(
        w24_record,
        w24_options,
        row=admin_row(kind, loaded),
        description=f"{kind} with its administrator's self-signed certificate; "
        f"`w24 ca load` of {whose} certificate",
        expect=expect,
        outcome=outcome,
        wire=wire,
        why=cli.stdout.strip(),
    )
