"""The package is type-checked and lint-clean, as CI runs it: mypy over the installed import
root (w24_harness, laid out from harness/, fixtures/ and suites/), and ruff over the tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.timeout(600)]


def _tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return str(found)


def stage_package(into: Path) -> Path:
    """The import root as the wheel lays it out, made of symlinks into the checkout: mypy
    cannot follow setuptools' package-dir mapping of an editable install."""
    package = into / "w24_harness"
    package.mkdir(parents=True)
    for entry in (ROOT / "harness").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    (package / "fixtures").symlink_to(ROOT / "fixtures")
    (package / "suites").symlink_to(ROOT / "suites")
    return package


def test_mypy_is_clean(tmp_path):
    mypy = _tool("mypy")
    stage_package(tmp_path)
    cache = ROOT / ".venv" / ".mypy_cache" if (ROOT / ".venv").is_dir() else tmp_path / "cache"
    result = subprocess.run(
        [
            mypy,
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(cache),
            "-p",
            "w24_harness",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=540,
        env={**os.environ, "MYPYPATH": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean():
    ruff = _tool("ruff")
    result = subprocess.run(
        [ruff, "check", "--no-cache", str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
