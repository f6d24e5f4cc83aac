"""The distribution as a user gets it: a wheel built from this checkout, installed into a fresh
venv in another directory, with no checkout on the path. It installs one import root of its own,
the pytest plugin loads by its `w24` entry point, and the shipped suites run from there against
the simulator and against a port."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a checkout holds beside its source: the venv, build trees, reports, caches, git.
_NOT_SOURCE = (
    ".venv",
    "build",
    "reports",
    ".git",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHONPATH"))}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(venv bin dir, an empty working directory outside the checkout)."""
    base = tmp_path_factory.mktemp("wheel")
    # Built from a copy: pip builds in the source tree (build/, *.egg-info), and with -n N the
    # module's tests may run on two workers, each building at once (seen: "Failed building
    # wheel" on one of them); nor may a build touch the checkout's own build/ link tree.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(base / "dist"),
            str(source),
        ],
        cwd=base,
    )
    assert built.returncode == 0, built.stderr
    wheel = next((base / "dist").glob("w24_harness-*.whl"))
    made = _run([sys.executable, "-m", "venv", str(base / "venv")], cwd=base)
    assert made.returncode == 0, made.stderr
    bin_dir = base / "venv" / "bin"
    pip = _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=base)
    assert pip.returncode == 0, pip.stderr
    work = base / "elsewhere"
    work.mkdir()
    return bin_dir, work


def test_wheel_holds_one_import_root_of_its_own(installed):
    wheel = next(installed[0].parents[1].glob("dist/w24_harness-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"w24_harness"}


@pytest.mark.parametrize("name", ["fixtures", "harness", "suites"])
def test_foreign_names_stay_free(installed, name):
    bin_dir, work = installed
    result = _run([str(bin_dir / "python"), "-c", f"import {name}"], cwd=work)
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_plugin_loads_by_its_entry_point(installed):
    bin_dir, work = installed
    probe = (
        "from importlib.metadata import entry_points; "
        "print([ep.value for ep in entry_points(group='pytest11') if ep.name == 'w24'])"
    )
    result = _run([str(bin_dir / "python"), "-c", probe], cwd=work)
    assert result.stdout.strip() == "['w24_harness.fixtures.plugin']", result.stderr
    helped = _run([str(bin_dir / "python"), "-m", "pytest", "--help"], cwd=work)
    assert "--w24-port" in helped.stdout


# field-interop rows are named field-<daemon>-wrong-ca etc.: not these catalogue scenarios.
SELECTION = "(valid-tls1-aes128-sha or no-ca or wrong-ca or ca-fits) and not field"


def test_shipped_suites_run_against_the_simulator(installed):
    bin_dir, work = installed
    reports = work / "sim-reports"
    result = _run(
        [
            str(bin_dir / "w24"),
            "test",
            "-p",
            "no:cacheprovider",
            "-k",
            SELECTION,
            "--w24-report-dir",
            str(reports),
        ],
        cwd=work,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    ids = {r["id"] for r in json.loads((reports / "results.json").read_text())["results"]}
    assert ids == {"valid-tls1-aes128-sha", "no-ca", "wrong-ca", "ca-fits"}


def test_shipped_suites_run_against_a_port(installed):
    bin_dir, work = installed
    sim = subprocess.Popen(
        [str(bin_dir / "w24"), "sim", "--tcp", "127.0.0.1:0"],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        url = sim.stdout.readline().strip()
        assert url.startswith("socket://127.0.0.1:"), url
        reports = work / "port-reports"
        result = _run(
            [
                str(bin_dir / "python"),
                "-m",
                "pytest",
                "--pyargs",
                "w24_harness.suites",
                "-p",
                "no:cacheprovider",
                "-k",
                SELECTION,
                "--w24-port",
                url,
                "--w24-report-dir",
                str(reports),
            ],
            cwd=work,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert "4 passed" in result.stdout
    finally:
        sim.terminate()
        sim.wait(timeout=10)
