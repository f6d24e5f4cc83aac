"""The README says what it does: its test commands, and "Talk to it by hand" run as written.

The tests read the commands out of the README itself and run them as written: `./w24` is the
checkout's wrapper, `examples/talk_by_hand.py` runs through its own shebang, openssl is
/usr/bin/openssl; only ports are swapped for free ones, and a module's port (/dev/ttyUSB0) for
a simulator's pty.
"""

from __future__ import annotations

import re
import select
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "talk_by_hand.py"
BIN = {"./w24": str(ROOT / "w24"), "openssl": "/usr/bin/openssl"}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The README text under `## title`, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", readme(), re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def shell_commands(block: str) -> list[list[str]]:
    """Each command of a sh block as argv: continuations joined, comments dropped, && split."""
    commands: list[list[str]] = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            commands.append(words[:cut])
            words = words[cut + 1 :]
    return commands


def test_first_code_block_is_the_two_test_commands() -> None:
    language, body = FENCE.findall(readme())[0]
    assert language == "sh"
    assert shell_commands(body) == [["./w24-test", "suites"], ["./w24-test", "all"]]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert any(argv[:2] == ["./w24-test", "all"] for argv in shell_commands(ci))


def test_talk_by_hand_block_is_the_example_file() -> None:
    match = re.search(
        r"<!-- talk-by-hand:start -->\n```python\n(.*?)```\n<!-- talk-by-hand:end -->",
        readme(),
        re.S,
    )
    assert match, "README has no talk-by-hand python block between its markers"
    assert match.group(1) == EXAMPLE.read_text(encoding="utf-8")


# ------------------------------------------------------------------ works as written


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s: {process.args}")


@contextmanager
def background(argv: list[str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A long-running command, stdout piped, stderr to `log`; always terminated."""
    with log.open("wb") as err:
        process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=err)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            assert process.stdout is not None
            process.stdout.close()


def first_line(process: subprocess.Popen[bytes], timeout: float = 20.0) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"{process.args} printed nothing in {timeout}s"
    return process.stdout.readline().decode().strip()


def test_talk_by_hand_works_as_written(tmp_path: Path) -> None:
    text = section("Talk to it by hand")
    sh_block = next(body for lang, body in FENCE.findall(text) if lang == "sh")
    commands = shell_commands(sh_block)
    sim_argv = next(c for c in commands if c[:2] == ["./w24", "sim"])
    server_argv = next(c for c in commands if c[:2] == ["openssl", "s_server"])
    setup = [c for c in commands if c not in (sim_argv, server_argv)]
    assert sim_argv == ["./w24", "sim", "--pty"] and setup, commands

    usage = re.search(r"`examples/talk_by_hand\.py (\S+) (\S+) (\d+)`", text)
    assert usage, "README does not show how to run examples/talk_by_hand.py"
    _, ca_arg, readme_port = usage.groups()
    accept = server_argv.index("-accept") + 1
    assert server_argv[accept] == readme_port, "the example dials another port than s_server's"
    port = free_port()
    server_argv[accept] = str(port)

    with ExitStack() as stack:
        sim = stack.enter_context(
            background([BIN["./w24"], *sim_argv[1:]], tmp_path, tmp_path / "sim.log")
        )
        pty = first_line(sim)
        assert pty.startswith("/dev/"), pty
        for argv in setup:
            done = subprocess.run(
                [BIN[argv[0]], *argv[1:]], cwd=tmp_path, capture_output=True, text=True,
                timeout=30,
            )  # fmt: skip
            assert done.returncode == 0, f"{shlex.join(argv)}:\n{done.stderr}"
        server = stack.enter_context(
            background([BIN["openssl"], *server_argv[1:]], tmp_path, tmp_path / "s_server.log")
        )
        wait_listening(server, port)

        started = time.monotonic()
        talk = subprocess.run(
            [str(EXAMPLE), pty, ca_arg, str(port)],  # as written: its shebang, no python
            cwd=tmp_path, capture_output=True, text=True, timeout=45,
        )  # fmt: skip
        took = time.monotonic() - started

    assert talk.returncode == 0, talk.stderr
    lines = talk.stdout.splitlines()
    assert lines[:2] == ["I/OK", "I/OK"], talk.stdout  # AT+i, then AT+iCA=
    assert re.fullmatch(r"socket \d I/OK", lines[2]), talk.stdout  # STCP handle, AT+iSSL
    assert lines[3] == "I/OK", talk.stdout  # AT+iSSND%
    assert lines[4] == "HTTP/1.0 200 ok", talk.stdout
    assert "Cipher is AES128-SHA" in talk.stdout
    assert lines[-1] == "I/OK I/DONE", talk.stdout  # AT+iSCLS: OK, then DONE
    assert took < 15, f"the example took {took:.1f}s"


# ------------------------------------------------------------------ every other block


def sh_commands(title: str) -> list[list[str]]:
    """The section's sh commands; a trailing `&` (run in the background) dropped."""
    blocks = [body for lang, body in FENCE.findall(section(title)) if lang == "sh"]
    return [[a for a in c if a != "&"] for body in blocks for c in shell_commands(body)]


def run(argv: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    exe = BIN.get(argv[0], argv[0])
    return subprocess.run(
        [exe, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_w24_test_help_needs_no_set_up_and_says_what_it_installs(tmp_path: Path) -> None:
    # PYTHON pointing nowhere: any set-up step would fail; --help must not reach one.
    env = {"PATH": "/usr/bin:/bin", "PYTHON": str(tmp_path / "no-python")}
    done = subprocess.run(
        [str(ROOT / "w24-test"), "--help"], capture_output=True, text=True, timeout=10, env=env
    )
    assert done.returncode == 0, done.stderr
    for word in ("asks nothing", "nginx-light", "disable", "ser2net", "chromium", "shell"):
        assert word in done.stdout, word


def test_the_simulator_commands_run_as_written(tmp_path: Path) -> None:
    commands = [c for c in sh_commands("The simulator") if c[:2] == ["./w24", "sim"]]
    assert len(commands) >= 3, commands
    for argv in commands:
        if "--tcp" in argv:
            at = argv.index("--tcp") + 1
            port = free_port()
            argv = [*argv[:at], f"127.0.0.1:{port}", *argv[at + 1 :]]
            with background([BIN["./w24"], *argv[1:]], tmp_path, tmp_path / "sim.log") as sim:
                wait_listening(sim, port, timeout=20)
        else:
            with background([BIN["./w24"], *argv[1:]], tmp_path, tmp_path / "sim.log") as sim:
                assert first_line(sim).startswith("/dev/pts/"), argv


def test_the_certificate_commands_run_as_written(tmp_path: Path) -> None:
    commands = sh_commands("Certificates for real servers")
    assert [c[:3] for c in commands][:2] == [["./w24", "certs", "ca"], ["./w24", "certs", "issue"]]
    (tmp_path / "my-fw.toml").write_text('from = "w24"\n')  # the user's profile file
    with background([BIN["./w24"], "sim", "--pty"], tmp_path, tmp_path / "sim.log") as sim:
        pty = first_line(sim)
        for argv in commands:
            argv = [pty if a == "/dev/ttyUSB0" else a for a in argv]  # the module's port
            if "root.cer" in argv and not (tmp_path / "root.cer").exists():
                (tmp_path / "root.cer").write_bytes((tmp_path / "ca" / "ca.pem").read_bytes())
            done = run(argv, tmp_path)
            assert done.returncode == 0, f"{shlex.join(argv)}:\n{done.stdout}{done.stderr}"
    assert "trustme" not in (tmp_path / "ca" / "ca.pem").read_text()


def test_a_separately_started_simulator_runs_the_suites_as_written(tmp_path: Path) -> None:
    text = section("The simulator")
    block = [body for lang, body in FENCE.findall(text) if lang == "sh"][-1]
    lines = [ln for ln in block.splitlines() if ln.strip()]
    assert lines[0].endswith("&"), "the block starts the simulator in the background"
    sim_argv, suites_argv = shell_commands(lines[0].rstrip("& ")), shell_commands(lines[1])
    [sim_argv], [suites_argv] = sim_argv, suites_argv
    readme_url = next(a for a in suites_argv if a.startswith("socket://"))
    assert readme_url == "socket://" + sim_argv[sim_argv.index("--tcp") + 1]
    port = free_port()
    sim_argv = [a.replace(":7000", f":{port}") for a in sim_argv]
    suites_argv = [a.replace(":7000", f":{port}") for a in suites_argv]
    with background([BIN["./w24"], *sim_argv[1:]], tmp_path, tmp_path / "sim.log") as sim:
        wait_listening(sim, port, timeout=20)
        extra = ["-k", "valid-tls1-aes128-sha", "-p", "no:cacheprovider"]
        extra += ["--w24-report-dir", str(tmp_path / "r")]  # one scenario: the command works
        done = subprocess.run(
            [str(ROOT / "w24-test"), *suites_argv[1:], *extra],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("w24 verdict: PASSED")
