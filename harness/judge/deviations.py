"""A deviations file: the scenarios a firmware build is known to fail, and why (issue 9).

On the model of tlsfuzzer's `-x` and BoGo's shim config, with the three reasons kept apart:

    profile = "w24"            # optional: the file is for this profile only
    [known-bug]
    "wrong-hostname" = "FW-123: the CN is not compared"
    [policy]
    "server-key-*" = "this build refuses keys over 2048 bits"
    [not-applicable]
    "ca-slot-absent" = "our board has four CA slots"

Keys are scenario ids (or field-interop row ids, w24_harness.interop.rows) or fnmatch globs; each
value is the reason, or a table naming the outcome the firmware is known to show as well:

    [known-bug]
    "expired-leaf" = { reason = "FW-77: dates unchecked", outcome = "accept" }

A matching scenario is a strict xfail, and only for the firmware's own wrong answer: with an
`outcome`, only when the row shows exactly that outcome (the words of the report's "actual"
column); a hang, a wedged device, a timeout or a harness error is never absorbed. When the row
passes, it is an XPASS and fails the run. A security-critical scenario may only be a
`known-bug`, and its entry must name the outcome. A declared row that skips (a daemon whose TLS
library has no SSL 3.0) is declared too: a run whose only non-passes are declared is green.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

from w24_harness.scenarios import Scenario
from w24_harness.vocab import Deviation


class DeviationsError(ValueError):
    """A deviations file that cannot be used: one message naming the file and the entry."""


@dataclass(frozen=True)
class DeviationEntry:
    pattern: str
    status: Deviation
    reason: str
    outcome: str | None = None  # the outcome the firmware shows ("reject 220 at ssl"); None: any

    def covers(self, shown: str) -> bool:
        """Whether the entry expects the outcome the row showed."""
        return self.outcome is None or self.outcome == shown

    def __str__(self) -> str:
        said = f"{self.status}: {self.reason}"
        return said if self.outcome is None else f"{said} (shows {self.outcome})"


@dataclass(frozen=True)
class Deviations:
    path: Path
    entries: tuple[DeviationEntry, ...]
    profile: str | None = None

    def find(self, scenario_id: str) -> DeviationEntry | None:
        return next((e for e in self.entries if fnmatch.fnmatchcase(scenario_id, e.pattern)), None)


def load_deviations(
    path: Path, scenarios: list[Scenario], profile: str, row_ids: list[str] | None = None
) -> Deviations:
    """`row_ids`: ids of rows outside the catalogue an entry may name (field-interop rows)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DeviationsError(f"{path}: cannot read the deviations file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DeviationsError(f"{path}: not valid TOML: {exc}") from None
    for_profile = data.pop("profile", None)
    if for_profile is not None and for_profile != profile:
        raise DeviationsError(
            f"{path}: field 'profile': the file is for profile {for_profile!r}, this run tests "
            f"{profile!r}"
        )
    entries = []
    for key, table in data.items():
        if key not in _SECTIONS:
            raise DeviationsError(
                f"{path}: unknown section {key!r}; a deviations file has "
                f"{', '.join(_SECTIONS)} (and 'profile')"
            )
        if not isinstance(table, dict):
            raise DeviationsError(
                f'{path}: [{key}] must be a table of scenario = "reason" or '
                '{ reason = "...", outcome = "..." }'
            )
        entries += [
            _entry(
                f"{path}: [{key}] {pattern!r}",
                pattern,
                _SECTIONS[key],
                reason,
                scenarios,
                row_ids or [],
            )
            for pattern, reason in table.items()
        ]
    return Deviations(path, tuple(entries), for_profile)


_SECTIONS: dict[str, Deviation] = {d.value: d for d in Deviation}


def _entry(
    where: str,
    pattern: str,
    status: Deviation,
    value: object,
    scenarios: list[Scenario],
    row_ids: list[str],
) -> DeviationEntry:
    reason, outcome = _reason_and_outcome(where, value)
    matched = [s for s in scenarios if fnmatch.fnmatchcase(s.id, pattern)]
    if not matched and not fnmatch.filter(row_ids, pattern):
        raise DeviationsError(f"{where}: matches no scenario in the catalogue")
    critical = [s.id for s in matched if s.critical]
    if critical and status != Deviation.KNOWN_BUG:
        raise DeviationsError(
            f"{where}: {', '.join(critical)} is security-critical; it can be marked "
            f"only {Deviation.KNOWN_BUG}, not {status}"
        )
    if critical and outcome is None:
        raise DeviationsError(
            f"{where}: {', '.join(critical)} is security-critical; the entry must name the "
            'outcome the firmware shows: { reason = "...", outcome = "accept" }'
        )
    return DeviationEntry(pattern, status, reason, outcome)


def _reason_and_outcome(where: str, value: object) -> tuple[str, str | None]:
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"reason", "outcome"})
        if unknown:
            raise DeviationsError(
                f"{where}: unknown key(s) {unknown}; an entry has reason, outcome"
            )
        reason, outcome = value.get("reason"), value.get("outcome")
        if outcome is not None and (not isinstance(outcome, str) or not outcome.strip()):
            raise DeviationsError(f"{where}: outcome must be an outcome's words, e.g. 'accept'")
    else:
        reason, outcome = value, None
    if not isinstance(reason, str) or not reason.strip():
        raise DeviationsError(f"{where}: the value must be a reason (a non-empty string)")
    return reason, outcome
