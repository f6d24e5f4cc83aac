"""`w24 ca load|show|clear --port P` against an in-process simulator on a pty.

The simulator writes its side of the line to a log file, so "nothing was sent" is checked on
what the device received, not on what the CLI says it did.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from w24_harness.cli.main import main
from w24_harness.device.w24 import W24
from w24_harness.pki import CertFactory
from w24_harness.sim.server import Simulator

pytestmark = pytest.mark.timeout(60)

W24_SCRIPT = Path(sys.executable).parent / "w24"


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class LoggedSim:
    url: str
    log: Path

    def received(self) -> str:
        """Everything the device has read from the host so far (the log's "<-" lines)."""
        if not self.log.exists():
            return ""
        lines = self.log.read_text().splitlines()
        return "".join(ln.split(" <- ", 1)[1] for ln in lines if " <- " in ln)


@pytest.fixture
def sim(sim_start: Callable[..., Simulator], tmp_path: Path) -> LoggedSim:
    log = tmp_path / "line.log"
    return LoggedSim(sim_start(log=log).url, log)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """`w24 ...` in this process (w24_harness.cli.main); returns exit code, stdout, stderr."""

    def run_(*argv: str) -> CliRun:
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run_


def run_script(*argv: str) -> CliRun:
    """The installed `w24` console script as a child process."""
    done = subprocess.run([str(W24_SCRIPT), *argv], capture_output=True, text=True, timeout=30)
    return CliRun(done.returncode, done.stdout, done.stderr)


def write_pem(path: Path, pem: bytes) -> Path:
    path.write_bytes(pem)
    return path


def stored_pem(url: str) -> str:
    device = W24.open(url)
    try:
        return device.get_ca().pem
    finally:
        device.close_port()


def test_load_pem_then_show_with_the_console_script(
    sim: LoggedSim, sim_ca_pem: bytes, tmp_path: Path
) -> None:
    ca_file = write_pem(tmp_path / "ca.pem", sim_ca_pem)
    loaded = run_script("ca", "load", str(ca_file), "--port", sim.url)
    assert (loaded.code, loaded.err) == (0, "")
    assert loaded.out.strip() == f"CA loaded ({len(sim_ca_pem.decode().strip()) + 1} characters)"

    shown = run_script("ca", "show", "--port", sim.url)
    assert shown.code == 0, shown.err
    cert = x509.load_pem_x509_certificate(sim_ca_pem)
    name, validity, *pem_lines = shown.out.splitlines()
    assert name == cert.subject.rfc4514_string()  # no CN: the simulator prints the whole name
    assert validity == (
        f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} - "
        f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S}"
    )
    assert "\n".join(pem_lines) == sim_ca_pem.decode().strip()


def test_load_der_stores_the_same_certificate_as_pem(
    sim: LoggedSim, sim_other_ca_pem: bytes, tmp_path: Path, run: Callable[..., CliRun]
) -> None:
    der = x509.load_pem_x509_certificate(sim_other_ca_pem).public_bytes(Encoding.DER)
    der_file = tmp_path / "ca.der"
    der_file.write_bytes(der)
    assert run("ca", "load", str(der_file), "--port", sim.url).code == 0
    assert stored_pem(sim.url) == sim_other_ca_pem.decode()


def test_text_around_the_pem_block_is_not_sent(
    sim: LoggedSim, sim_ca_pem: bytes, tmp_path: Path, run: Callable[..., CliRun]
) -> None:
    # As `openssl x509 -text` writes it: a long dump, then the PEM.
    dump = "Certificate:\n    Data:\n" + "        Modulus: 00:ab:cd:ef\n" * 80
    ca_file = write_pem(tmp_path / "ca-text.pem", dump.encode() + sim_ca_pem)
    loaded = run("ca", "load", str(ca_file), "--port", sim.url)
    assert loaded.code == 0, loaded.err
    assert stored_pem(sim.url) == sim_ca_pem.decode()
    assert "Modulus" not in sim.received()


def test_clear_empties_the_ca(
    sim: LoggedSim, sim_ca_pem: bytes, tmp_path: Path, run: Callable[..., CliRun]
) -> None:
    ca_file = write_pem(tmp_path / "ca.pem", sim_ca_pem)
    assert run("ca", "load", str(ca_file), "--port", sim.url).code == 0
    cleared = run("ca", "clear", "--port", sim.url)
    assert (cleared.code, cleared.out.strip()) == (0, "CA cleared")
    shown = run("ca", "show", "--port", sim.url)
    assert (shown.code, shown.out.strip()) == (0, "(empty: no trusted CA)")
    assert stored_pem(sim.url) == ""


def test_ca_over_the_w24_limit_exits_1_and_sends_nothing(
    sim: LoggedSim, sim_ca_pem: bytes, tmp_path: Path, run: Callable[..., CliRun]
) -> None:
    big_pem = CertFactory().ca("w24 cli test CA with a long name " * 10).cert_pem
    assert len(big_pem) > 1300
    good_file = write_pem(tmp_path / "ca.pem", sim_ca_pem)
    assert run("ca", "load", str(good_file), "--port", sim.url).code == 0
    before = sim.received()
    assert "AT+iCA=-----BEGIN CERTIFICATE-----" in before  # the log does see what is sent

    refused = run("ca", "load", str(write_pem(tmp_path / "big.pem", big_pem)), "--port", sim.url)
    assert refused.code == 1
    assert "1300" in refused.err and "nothing was sent" in refused.err
    assert "Traceback" not in refused.err
    assert sim.received() == before  # not one byte reached the device
    assert stored_pem(sim.url) == sim_ca_pem.decode()  # the old CA is still there


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"just some notes, not a certificate\n", "neither a PEM nor a DER"),
        (b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", "neither"),
        (b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
         "not a certificate"),
    ],
    ids=["text", "key", "garbage-pem"],
)  # fmt: skip
def test_non_certificate_file_exits_2_and_sends_nothing(
    sim: LoggedSim, tmp_path: Path, run: Callable[..., CliRun], content: bytes, why: str
) -> None:
    bad = write_pem(tmp_path / "bad.pem", content)
    result = run("ca", "load", str(bad), "--port", sim.url)
    assert result.code == 2
    assert str(bad) in result.err and why in result.err
    assert sim.received() == ""


def test_two_certificates_in_one_file_exit_2(
    sim: LoggedSim,
    sim_ca_pem: bytes,
    sim_other_ca_pem: bytes,
    tmp_path: Path,
    run: Callable[..., CliRun],
) -> None:
    bundle = write_pem(tmp_path / "bundle.pem", sim_ca_pem + sim_other_ca_pem)
    result = run("ca", "load", str(bundle), "--port", sim.url)
    assert result.code == 2 and "2 certificates" in result.err
    assert sim.received() == ""


def test_missing_file_exits_2_naming_it(
    sim: LoggedSim, tmp_path: Path, run: Callable[..., CliRun]
) -> None:
    missing = tmp_path / "nope.pem"
    result = run("ca", "load", str(missing), "--port", sim.url)
    assert result.code == 2 and str(missing) in result.err


# A devpts name is a number, so this path can never exist; port 1 on loopback refuses.
DEAD_PORTS = ["/dev/pts/w24-no-such-pty", "socket://127.0.0.1:1"]


@pytest.mark.parametrize("port", DEAD_PORTS)
@pytest.mark.parametrize("command", ["show", "clear"])
def test_dead_port_exits_2_naming_it(port: str, command: str, run: Callable[..., CliRun]) -> None:
    result = run("ca", command, "--port", port)
    assert result.code == 2
    assert port in result.err and result.out == ""


def test_dead_port_from_the_console_script_has_no_traceback(
    sim_ca_pem: bytes, tmp_path: Path
) -> None:
    ca_file = write_pem(tmp_path / "ca.pem", sim_ca_pem)
    result = run_script("ca", "load", str(ca_file), "--port", DEAD_PORTS[0])
    assert result.code == 2
    assert DEAD_PORTS[0] in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
