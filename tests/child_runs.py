"""A child pytest run with the harness plugin, for the tests of how the plugin schedules,
pins and starts things: the checkout as rootdir, no cache, reports under pytester's folder."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
W24_CLI = Path(sys.executable).with_name("w24")


def run_child(
    pytester: pytest.Pytester,
    *args: str,
    env: dict[str, str] | None = None,
    unset: tuple[str, ...] = (),
    timeout: float = 100,
) -> pytest.RunResult:
    """`pytest *args` in a subprocess, with `env` set and the `unset` variables removed."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (env or {}).items():
            mp.setenv(name, value)
        for name in unset:
            mp.delenv(name, raising=False)
        return pytester.runpytest_subprocess(
            f"--rootdir={ROOT}",
            "-p",
            "no:cacheprovider",
            "--w24-report-dir",
            str(pytester.path / "reports"),
            *args,
            timeout=timeout,
        )


def run_suites(
    pytester: pytest.Pytester, report_dir: Path, *extra: str, timeout: float = 280
) -> tuple[pytest.RunResult, dict]:
    """The device suites in a subprocess, without the slow rows and the field-interop daemons
    (tests/interop/test_field_interop_faults.py runs those), reports to `report_dir`: the
    run's result and its results.json."""
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites"),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow and not field_interop",
        "--w24-report-dir",
        str(report_dir),
        *extra,
        timeout=timeout,
    )
    return result, json.loads((report_dir / "results.json").read_text())


@contextmanager
def tcp_simulator(profile: str = "w24") -> Iterator[str]:
    """`w24 sim --tcp` on a free loopback port, as a networked module is reached: its
    socket:// URL. It must exit cleanly (0: no internal errors) when stopped."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sim = subprocess.Popen(
        [str(W24_CLI), "sim", "--tcp", f"127.0.0.1:{port}", "--profile", profile],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sim.stdout is not None
        url = f"socket://127.0.0.1:{port}"
        assert sim.stdout.readline().strip() == url
        yield url
    finally:
        sim.terminate()
    assert sim.wait(timeout=10) == 0
