"""The exit status of a w24 run (`w24 test`, `./w24-test suites`, pytest with the plugin).

pytest's own codes keep their meaning (0-6); the harness adds two above them, so a script can
tell a run that found a firmware failure from one that could not finish or could not start:

| code | meaning |
|------|---------|
| 0 | passed (or passed with notes: declared deviations, drift, skips with reasons) |
| 1 | failed: the firmware did something it must not (or a regression against a baseline) |
| 2 | interrupted (Ctrl-C) |
| 3 | internal error of pytest or a plugin |
| 4 | usage error: a bad option, an unreadable profile/deviations/baseline file |
| 5 | no tests collected (a `-k` that matches nothing) |
| 6 | pytest's --max-warnings exceeded (pytest >= 9) |
| 10 | incomplete: planned rows produced no result (the device was lost mid-run, harness error) |
| 11 | device unreachable: the port cannot be opened, or the device is silent, before any test |
"""

from __future__ import annotations

from enum import IntEnum


class RunExit(IntEnum):
    OK = 0
    FAILED = 1
    INTERRUPTED = 2
    INTERNAL_ERROR = 3
    USAGE_ERROR = 4
    NO_TESTS = 5
    MAX_WARNINGS = 6
    INCOMPLETE = 10
    UNREACHABLE = 11
