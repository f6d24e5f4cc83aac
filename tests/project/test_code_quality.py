"""The package is type-checked and lint-clean, as CI runs it: mypy over the installed import
root (w24_harness, laid out from harness/, fixtures/ and suites/), and ruff over the tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.timeout(600)]


def _tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return str(found)


def test_mypy_is_clean_on_the_package_itself(tmp_path):
    """mypy resolves w24_harness as static tools do: through the strict editable install's
    link tree and the package's py.typed, no staging copy; run outside the checkout so the
    folders harness/ and fixtures/ cannot stand in for it."""
    mypy = _tool("mypy")
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
    checked = int(result.stdout.rsplit("in ", 1)[1].split()[0])
    assert checked >= len(list((ROOT / "harness").rglob("*.py"))), result.stdout


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
