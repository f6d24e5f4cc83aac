"""The README says what it does: its test commands, and "Talk to it by hand" run as written.

The by-hand test reads the commands out of the README itself (the sh block of that section and
the `examples/talk_by_hand.py ...` invocation) and runs them with the installed `w24` console
script and /usr/bin/openssl; only the server port is swapped for a free one.
"""

from __future__ import annotations

import re
import select
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "talk_by_hand.py"
BIN = {"w24": str(Path(sys.executable).parent / "w24"), "openssl": "/usr/bin/openssl"}
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
    sim_argv = next(c for c in commands if c[:2] == ["w24", "sim"])
    server_argv = next(c for c in commands if c[:2] == ["openssl", "s_server"])
    setup = [c for c in commands if c not in (sim_argv, server_argv)]
    assert sim_argv == ["w24", "sim", "--pty"] and setup, commands

    usage = re.search(r"`examples/talk_by_hand\.py (\S+) (\S+) (\d+)`", text)
    assert usage, "README does not show how to run examples/talk_by_hand.py"
    _, ca_arg, readme_port = usage.groups()
    accept = server_argv.index("-accept") + 1
    assert server_argv[accept] == readme_port, "the example dials another port than s_server's"
    port = free_port()
    server_argv[accept] = str(port)

    with ExitStack() as stack:
        sim = stack.enter_context(
            background([BIN["w24"], *sim_argv[1:]], tmp_path, tmp_path / "sim.log")
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
            [sys.executable, str(EXAMPLE), pty, ca_arg, str(port)],
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
