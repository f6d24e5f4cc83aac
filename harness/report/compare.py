"""Regression check of one run's results.json against a baseline (a firmware release's run).

Scenarios are matched by id. A scenario is flagged when its outcome changed (passed, actual or
code), when its throughput dropped, or its handshake time grew, by more than the threshold.
What counts as a regression (the exit status of `w24 report compare`, and a failed session with
`--w24-baseline`):

- a scenario that passed in the baseline and fails now;
- a scenario that failed in the baseline and now fails differently;
- throughput down by more than `threshold`, compared only between runs at the same known line
  rate: on an unthrottled simulator the rate measures the machine (another process, -n 2 on two
  cores), which moves it by +-50 %;
- handshake time up by more than `threshold`, by more than `min_handshake_delta_ms` (default
  500 ms, see DEFAULT_MIN_HANDSHAKE_DELTA_MS), and by
  more than the run's own noise (_noise_ms: the median change of every compared handshake
  plus NOISE_FACTOR median absolute deviations: CPU contention moves all rows, a slower code
  path moves its rows beyond that). Compared only between runs through the same kind of port path
  (RunInfo.path: pty, tty, socket, rfc2217, labgrid) at the same known line rate
  (RunInfo.baud): on an unthrottled simulator (baud 0) a handshake takes ~10 ms and measures
  the machine (two healthy runs minutes apart differed by +1013 %), so it is not compared.

Gate blockers (exit 3 of `w24 report compare`, before any regression): the current run is
incomplete (planned scenarios produced no result, or it never started), or scenarios the
baseline ran are missing from it (unless `allow_subset`, for a `-k` selection).

Flagged but not regressions: a failure that is fixed, an outcome text that changed while both
pass, scenarios new in this run, and scenarios missing from it (a blocker instead, above).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from w24_harness.report.results import RunResults, ScenarioResult
from w24_harness.report.verdict import RunState
from w24_harness.runner.linerate import format_rate

DEFAULT_THRESHOLD = 0.15
# A module's handshake takes seconds (RSA on a 2008 MCU); on a simulator the TLS bytes never
# cross the serial line, so its handshake time is the host's CPU, at any --w24-baud: between
# healthy runs of one commit (-n 2 at 115200 baud, this 2-core VM) single rows moved by up to
# +141 ms (7 -> 50 ms, 12 -> 129 ms), one measurement each. Half a second hides that noise and
# no regression worth the name on a module.
DEFAULT_MIN_HANDSHAKE_DELTA_MS = 500.0
NOISE_FACTOR = 3.0  # a handshake change must exceed this many MADs of the run's changes


@dataclass(frozen=True)
class Change:
    id: str
    aspect: str  # "outcome", "throughput", "handshake", "presence"
    kind: str  # "regressed", "changed", "fixed", "slower", "faster", "new", "missing"
    baseline: str
    current: str
    regression: bool
    note: str = ""


@dataclass
class Comparison:
    baseline: str
    current: str
    threshold: float
    min_handshake_delta_ms: float
    compared: int = 0  # scenarios present in both runs
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Why the current run cannot be judged against the baseline at all (incomplete, rows
    # missing): the gate fails whatever the regressions say.
    blockers: list[str] = field(default_factory=list)
    noise_ms: float = 0.0  # the handshake noise floor this comparison used

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    @property
    def passed_gate(self) -> bool:
        return not self.blockers and not self.regressed

    def to_json(self) -> dict[str, object]:
        return {
            **{k: v for k, v in asdict(self).items() if k != "changes"},
            "regressed": self.regressed,
            "passed_gate": self.passed_gate,
            "regressions": len(self.regressions),
            "changes": [asdict(c) for c in self.changes],
        }


def _keyed(results: list[ScenarioResult]) -> dict[str, ScenarioResult]:
    """Results by scenario id; an id that occurs twice in a run is keyed by its nodeid."""
    counts = Counter(r.id for r in results)
    return {(r.id if counts[r.id] == 1 else r.nodeid): r for r in results}


def _outcome(r: ScenarioResult) -> str:
    code = "" if r.code is None else f", code {r.code}"
    return f"{'PASS' if r.passed else 'FAIL'}: {r.actual}{code}"


def _compare_outcome(key: str, base: ScenarioResult, cur: ScenarioResult) -> Change | None:
    if (base.passed, base.actual, base.code) == (cur.passed, cur.actual, cur.code):
        return None
    if base.passed and not cur.passed:
        kind, regression = "regressed", True
    elif not base.passed and cur.passed:
        kind, regression = "fixed", False
    else:  # same verdict, other outcome: a known failure that changed is worth a look
        kind, regression = "changed", not cur.passed
    return Change(key, "outcome", kind, _outcome(base), _outcome(cur), regression)


def _compare_throughput(
    key: str, base: ScenarioResult, cur: ScenarioResult, threshold: float
) -> Change | None:
    if not base.throughput_bps or cur.throughput_bps is None:
        return None
    if not base.line_rate_bps or base.line_rate_bps != cur.line_rate_bps:
        return None  # unknown or different line rates: not comparable (noted once per run)
    change = (cur.throughput_bps - base.throughput_bps) / base.throughput_bps
    if abs(change) <= threshold:
        return None
    return Change(
        key,
        "throughput",
        "slower" if change < 0 else "faster",
        format_rate(base.throughput_bps),
        format_rate(cur.throughput_bps),
        regression=change < 0,
        note=f"{change:+.0%}",
    )


def _compare_handshake(
    key: str, base: ScenarioResult, cur: ScenarioResult, threshold: float, min_delta: float
) -> Change | None:
    """`min_delta`: the larger of the asked-for minimum and the run's noise floor."""
    if not base.handshake_ms or cur.handshake_ms is None:
        return None
    delta = cur.handshake_ms - base.handshake_ms
    change = delta / base.handshake_ms
    if abs(change) <= threshold or abs(delta) <= min_delta:
        return None
    return Change(
        key,
        "handshake",
        "slower" if delta > 0 else "faster",
        f"{base.handshake_ms:.1f} ms",
        f"{cur.handshake_ms:.1f} ms",
        regression=delta > 0,
        note=f"{change:+.0%}",
    )


def compare(  # noqa: C901 - one pass over the keyed results, one branch per aspect compared
    baseline: RunResults,
    current: RunResults,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_handshake_delta_ms: float = DEFAULT_MIN_HANDSHAKE_DELTA_MS,
    baseline_name: str = "baseline",
    current_name: str = "current",
    allow_subset: bool = False,
) -> Comparison:
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    out = Comparison(baseline_name, current_name, threshold, min_handshake_delta_ms)
    base_profiles = {i.profile for i in baseline.info}
    cur_profiles = {i.profile for i in current.info}
    if base_profiles and cur_profiles and base_profiles != cur_profiles:
        out.notes.append(
            f"profiles differ: baseline {sorted(base_profiles)}, current {sorted(cur_profiles)}"
        )
    # Handshake times only compare through the same kind of port path: ser2net or a labgrid
    # place adds tens of ms to a handshake that takes ~10 ms on a pty.
    base_paths = {i.path for i in baseline.info}
    cur_paths = {i.path for i in current.info}
    same_path = base_paths == cur_paths and len(base_paths) <= 1
    # ... and at one known line rate: unthrottled, a simulator handshake measures the machine.
    bauds = {i.baud for i in baseline.info} | {i.baud for i in current.info}
    same_rate = len(bauds) == 1 and 0 not in bauds
    timed = same_path and same_rate
    base, cur = _keyed(baseline.results), _keyed(current.results)
    out.noise_ms = _noise_ms(base, cur)
    floor = max(min_handshake_delta_ms, out.noise_ms)
    skipped_rates = unthrottled = skipped_handshakes = untimed = 0
    for key, b in base.items():
        c = cur.get(key)
        if c is None:
            out.changes.append(Change(key, "presence", "missing", _outcome(b), "not run", False))
            continue
        out.compared += 1
        if b.throughput_bps and c.throughput_bps is not None:
            if not b.line_rate_bps and not c.line_rate_bps:
                unthrottled += 1
            elif b.line_rate_bps != c.line_rate_bps:
                skipped_rates += 1
        handshake = None
        if timed:
            handshake = _compare_handshake(key, b, c, threshold, floor)
        elif b.handshake_ms and c.handshake_ms is not None:
            if same_path:
                untimed += 1
            else:
                skipped_handshakes += 1
        for change in (
            _compare_outcome(key, b, c),
            _compare_throughput(key, b, c, threshold),
            handshake,
        ):
            if change is not None:
                out.changes.append(change)
    for key, c in cur.items():
        if key not in base:
            out.changes.append(Change(key, "presence", "new", "not run", _outcome(c), False))
    if skipped_rates:
        out.notes.append(
            f"throughput of {skipped_rates} case(s) not compared: the runs used different "
            "line rates (--w24-baud)"
        )
    if skipped_handshakes:
        out.notes.append(
            f"handshake time of {skipped_handshakes} case(s) not compared: the runs reached "
            f"the device through different paths (baseline {_paths(base_paths)}, current "
            f"{_paths(cur_paths)})"
        )
    if untimed:
        out.notes.append(
            f"handshake time of {untimed} case(s) not compared: "
            + (
                f"the runs used different line rates ({_bauds(bauds)} baud)"
                if len(bauds) > 1
                else "unthrottled simulator (the time measures the machine; run both with "
                "--w24-baud to compare)"
                if 0 in bauds
                else "no line rate recorded"
            )
        )
    if unthrottled:
        out.notes.append(
            f"throughput of {unthrottled} case(s) not compared: unthrottled simulator (the rate "
            "measures the machine; run both with --w24-baud to compare)"
        )
    out.changes.sort(key=lambda c: (not c.regression, c.aspect == "presence", c.id, c.aspect))
    out.blockers = blockers(baseline, current, allow_subset=allow_subset)
    _verdict_regression(baseline, current, out)
    return out


def _noise_ms(base: dict[str, ScenarioResult], cur: dict[str, ScenarioResult]) -> float:
    """The handshake change no row is judged by: the run-wide shift (the median change of
    every row both runs timed: a busier host moves them all) plus NOISE_FACTOR median absolute
    deviations around it (the jitter). A row regresses only beyond that. Zero with fewer than
    5 such rows (nothing to estimate from). A uniform slowdown of every handshake is hidden
    by this, on purpose: on one row it cannot be told from a busier host."""
    deltas = [
        c.handshake_ms - b.handshake_ms
        for key, b in base.items()
        if b.handshake_ms and (c := cur.get(key)) is not None and c.handshake_ms is not None
    ]
    if len(deltas) < 5:
        return 0.0
    mid = statistics.median(deltas)
    return abs(mid) + NOISE_FACTOR * statistics.median(abs(d - mid) for d in deltas)


def blockers(baseline: RunResults, current: RunResults, *, allow_subset: bool = False) -> list[str]:
    """Why `current` cannot pass the gate whatever its regressions: it is incomplete, or rows
    the baseline planned are not in it."""
    out = []
    verdict = current.verdict()
    if verdict.state == RunState.INCOMPLETE:
        out.append(f"the current run is incomplete: {verdict.headline}")
    if not allow_subset:
        have = {p.id for p in current.planned} | {r.id for r in current.results}
        wanted = {p.id for p in baseline.planned} | {r.id for r in baseline.results}
        gone = sorted(wanted - have)
        if gone:
            shown = ", ".join(gone[:10]) + (f" (+{len(gone) - 10} more)" if len(gone) > 10 else "")
            out.append(
                f"{len(gone)} scenario(s) of the baseline are not planned in the current run "
                f"(a -k selection? --allow-subset): {shown}"
            )
    return out


def _verdict_regression(baseline: RunResults, current: RunResults, out: Comparison) -> None:
    """The run as a whole went from passing to failing (a failing test outside the plan, an
    xpass): a regression even where no single result says so."""
    base, cur = baseline.verdict().state, current.verdict().state
    if base in (RunState.PASSED, RunState.NOTES) and cur == RunState.FAILED and not out.regressed:
        out.changes.insert(0, Change("(run)", "verdict", "regressed", str(base), str(cur), True))


def _bauds(bauds: set[int]) -> str:
    return "/".join(str(b) if b else "unthrottled" for b in sorted(bauds))


def _paths(paths: set[str]) -> str:
    return "/".join(sorted(p or "unrecorded" for p in paths)) or "none"


def compare_files(
    baseline: Path,
    current: Path,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_handshake_delta_ms: float = DEFAULT_MIN_HANDSHAKE_DELTA_MS,
    allow_subset: bool = False,
) -> Comparison:
    """compare() of two results.json files; ValueError names the file that cannot be read."""
    return compare(
        RunResults.load(baseline),
        RunResults.load(current),
        threshold=threshold,
        min_handshake_delta_ms=min_handshake_delta_ms,
        baseline_name=str(baseline),
        current_name=str(current),
        allow_subset=allow_subset,
    )


def presence_summary(comparison: Comparison) -> list[str]:
    """One line per kind of presence change: 'new (3): a, b, c'."""
    lines = []
    for kind in ("missing", "new"):
        ids = [c.id for c in comparison.changes if c.aspect == "presence" and c.kind == kind]
        if ids:
            lines.append(f"{kind} ({len(ids)}): {', '.join(ids)}")
    return lines


def format_table(comparison: Comparison) -> str:
    """The comparison as plain text: a verdict line, notes, one row per flagged change, and
    the scenarios only one of the runs has."""
    cmp = comparison
    n = len(cmp.regressions)
    verdict = f"{n} regression(s)" if n else "no regressions"
    if cmp.blockers:
        verdict = "GATE FAILS: " + verdict
    lines = [
        f"{verdict}: {cmp.current} against {cmp.baseline} "
        f"({cmp.compared} scenarios compared, threshold {cmp.threshold:.0%}"
        + (f", handshake noise floor {cmp.noise_ms:.0f} ms" if cmp.noise_ms else "")
        + ")"
    ]
    lines += [f"blocker: {b}" for b in cmp.blockers]
    lines += [f"note: {note}" for note in cmp.notes]
    changes = [c for c in cmp.changes if c.aspect != "presence"]
    if changes:
        head = ("", "scenario", "aspect", "change", "baseline", "current", "")
        rows = [
            ("!!" if c.regression else "", c.id, c.aspect, c.kind, c.baseline, c.current, c.note)
            for c in changes
        ]
        widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
        for row in [head, *rows]:
            cells = zip(row, widths, strict=True)
            lines.append("  ".join(str(v).ljust(w) for v, w in cells).rstrip())
    lines += presence_summary(cmp)
    return "\n".join(lines) + "\n"


def write_json(path: Path, comparison: Comparison) -> Path:
    path.write_text(json.dumps(comparison.to_json(), indent=1), encoding="utf-8")
    return path
