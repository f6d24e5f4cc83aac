"""A child pytest run with the harness plugin, for the tests of how the plugin schedules,
pins and starts things: the checkout as rootdir, no cache, reports under pytester's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
