"""The run's verdict: what was planned, what each planned scenario produced, and why some
produced nothing.

A run is judged against its plan (the scenario tests pytest collected), not against the results
that happened to be written: a device that dies half-way leaves fewer results, never a greener
report. As LAVA separates an *incomplete* job (the infrastructure failed: device dead, port
lost, harness error, interrupted) from a *failed* one (a test ran and the firmware did the wrong
thing), the verdict says which, with counts, and names every scenario that produced no result.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import pytest

from w24_harness.exitcodes import RunExit
from w24_harness.vocab import ResultClass

if TYPE_CHECKING:  # results.py builds its JSON with judge(): no import cycle at run time
    from w24_harness.report.results import ScenarioResult


class RunState(StrEnum):
    """The run as a whole (report.html's banner, results.json's `verdict.state`)."""

    PASSED = "passed"  # every planned scenario produced an expected or allowed result
    NOTES = "passed with notes"  # nothing failed, but drift, xfail or skipped scenarios
    FAILED = "failed"  # the firmware did something it must not (failed, xpass, regression)
    INCOMPLETE = "incomplete"  # planned scenarios produced no result: infrastructure trouble

    @property
    def colour(self) -> Colour:
        return {RunState.PASSED: Colour.GREEN, RunState.NOTES: Colour.AMBER}.get(self, Colour.RED)


class Colour(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class Tally(StrEnum):
    """What one planned scenario counts as: its result's class, pytest's xfail/xpass, or none."""

    PASSED = ResultClass.PASSED.value
    OBSERVED = ResultClass.OBSERVED.value
    DRIFT = ResultClass.DRIFT.value
    FAILED = ResultClass.FAILED.value
    WEDGED = ResultClass.WEDGED.value  # the device needed a reset after it: a firmware failure
    ERROR = ResultClass.ERROR.value
    NOT_EXERCISED = ResultClass.NOT_EXERCISED.value  # its subject never reached the device
    XFAIL = "xfail"  # a known deviation (deviations file) that still deviates
    XPASS = "xpass"  # a known deviation that no longer deviates: the run fails
    NO_RESULT = "no result"


class NoResult(StrEnum):
    """Why a planned scenario produced no result."""

    DEVICE_DEAD = "device dead"  # the device stopped answering (timeout, garbled framing)
    PORT_LOST = "port lost"  # the serial port closed or vanished
    HARNESS_ERROR = "harness error"  # the harness itself failed (fixture, server, bug)
    SKIPPED = "skipped"  # pytest skipped it (a marker, a missing prerequisite)
    INTERRUPTED = "interrupted"  # the run stopped before it finished
    NOT_RUN = "not run"  # the run stopped on a lost device before this row started

    @property
    def infrastructure(self) -> bool:
        """Trouble that makes a run incomplete (a skip is a choice, not trouble)."""
        return self is not NoResult.SKIPPED


class TestStatus(StrEnum):
    """pytest's outcome for one test, as the controller saw its reports."""

    __test__ = False  # not a pytest test class

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # setup or teardown failed
    SKIPPED = "skipped"
    XFAIL = "xfail"
    XPASS = "xpass"
    STARTED = "started"  # set up, but no call or teardown report arrived


NO_FAMILY = "other"  # the report's group for recording tests outside the catalogue


@dataclass
class PlannedScenario:
    """One collected scenario test (a parametrized item of the suites)."""

    nodeid: str
    id: str  # the scenario or throughput-case id (the item's parameter id otherwise)
    family: str = ""  # Family value, NO_FAMILY for a test that is no catalogue entry; "" in
    # a results.json older than that distinction (the report then asks the catalogue)
    kind: str = ""  # Kind value
    basis: str = ""  # Basis value
    measures: str | None = None  # the profile field a characterization measures
    version: str = ""  # single protocol version of an acceptance case (the report's grid)
    suite: str = ""  # single cipher suite of an acceptance case
    direction: str = ""  # DataDirection of a throughput case
    deviation: str = ""  # the deviations-file entry naming this row ("not-applicable: why")


@dataclass
class TestOutcome:
    """pytest's word on one test, and the infrastructure trouble it met, if any."""

    __test__ = False

    nodeid: str
    status: TestStatus = TestStatus.STARTED
    trouble: NoResult | None = None  # device dead / port lost / harness error in any phase
    detail: str = ""  # the first line of the error that made the trouble
    finished: bool = False  # the teardown report arrived


@dataclass
class Missing:
    """A planned scenario that produced no result."""

    nodeid: str
    id: str
    why: NoResult
    detail: str = ""


@dataclass
class Entry:
    """One planned scenario as the verdict counted it."""

    planned: PlannedScenario
    tally: Tally
    result: ScenarioResult | None = None  # the last result it recorded
    missing: Missing | None = None  # set when tally is NO_RESULT


@dataclass
class Counts:
    planned: int = 0
    passed: int = 0
    failed: int = 0
    wedged: int = 0  # the sanity check after the scenario found the device wedged
    observed: int = 0
    drift: int = 0
    error: int = 0  # results recorded as ResultClass.ERROR
    xfail: int = 0
    xpass: int = 0
    no_result: int = 0
    no_result_why: dict[str, int] = field(default_factory=dict)
    other_failed: int = 0  # tests outside the plan (no scenario recorded) that failed
    not_exercised: int = 0  # rows whose subject never reached the device (amber)
    # Characterizations that observed the weaker choice (an expired leaf accepted ...), and of
    # those, on fields the profile has not characterized (amber).
    security: int = 0
    security_uncharacterized: int = 0
    declared: int = 0  # xfail or skipped rows a deviations file declares: they keep a run green


@dataclass
class RunVerdict:
    state: RunState
    headline: str
    counts: Counts
    missing: list[Missing]
    troubles: list[TestOutcome]  # tests (planned or not) that met infrastructure trouble
    exit_status: int | None = None
    other_failures: list[TestOutcome] = field(default_factory=list)  # see Counts.other_failed
    # "id: what it accepts" for every security observation (judge.security), in plan order.
    security: list[str] = field(default_factory=list)
    # Critical rows a deviations entry turned into xfail: security holes known and accepted.
    critical_xfails: list[str] = field(default_factory=list)

    @property
    def colour(self) -> Colour:
        return self.state.colour

    def to_json(self) -> dict[str, object]:
        return {
            "state": str(self.state),
            "colour": str(self.colour),
            "headline": self.headline,
            "missing": [asdict(m) for m in self.missing],
            "troubles": [asdict(t) for t in self.troubles],
            "other_failures": [asdict(t) for t in self.other_failures],
            "security_observations": list(self.security),
            "critical_xfails": list(self.critical_xfails),
        }


def result_class_of(result: ScenarioResult) -> ResultClass:
    """The result's class as recorded, else (a record without one) from `passed`."""
    try:
        return ResultClass(getattr(result, "result_class", ""))
    except ValueError:
        return ResultClass.PASSED if result.passed else ResultClass.FAILED


def _why_missing(
    outcome: TestOutcome | None, interrupted: bool, stopped: str | None = None
) -> NoResult:
    if outcome is None and stopped:
        return NoResult.NOT_RUN
    if outcome is None or not outcome.finished:
        return outcome.trouble if outcome and outcome.trouble else NoResult.INTERRUPTED
    if outcome.trouble is not None:
        return outcome.trouble
    if outcome.status == TestStatus.SKIPPED:
        return NoResult.SKIPPED
    # It ran to the end and wrote nothing: the test or the harness is at fault, not the device.
    return NoResult.INTERRUPTED if interrupted else NoResult.HARNESS_ERROR


def entries(
    planned: list[PlannedScenario],
    results: list[ScenarioResult],
    outcomes: list[TestOutcome],
    exit_status: int | None,
    stopped: str | None = None,
) -> list[Entry]:
    """Every planned scenario once, by node id: counted by pytest's xfail/xpass, else by its
    result, else as no result with the reason. Results outside the plan (a plan-less
    results.json from an older harness) count as planned too. `stopped`: why the run stopped
    early (a lost device); rows that never started are "not run" with that cause."""
    by_status = {o.nodeid: o for o in outcomes}
    last_result = {r.nodeid: r for r in results}
    plan = {p.nodeid: p for p in planned}
    for r in results:
        plan.setdefault(r.nodeid, PlannedScenario(r.nodeid, r.id))
    interrupted = exit_status == pytest.ExitCode.INTERRUPTED
    out: list[Entry] = []
    for nodeid in sorted(plan):
        outcome, result = by_status.get(nodeid), last_result.get(nodeid)
        if outcome is not None and outcome.status in (TestStatus.XFAIL, TestStatus.XPASS):
            out.append(Entry(plan[nodeid], Tally(outcome.status.value), result))
        elif result is not None:
            out.append(Entry(plan[nodeid], Tally(result_class_of(result).value), result))
        else:
            why = _why_missing(outcome, interrupted, stopped)
            detail = outcome.detail if outcome else (stopped or "")
            if why == NoResult.SKIPPED and plan[nodeid].deviation:
                detail = f"{detail} [declared: {plan[nodeid].deviation}]".lstrip()
            missing = Missing(nodeid, plan[nodeid].id, why, detail)
            out.append(Entry(plan[nodeid], Tally.NO_RESULT, None, missing))
    return out


def judge(
    planned: list[PlannedScenario],
    results: list[ScenarioResult],
    outcomes: list[TestOutcome],
    exit_status: int | None,
    stopped: str | None = None,
) -> RunVerdict:
    """Count every planned scenario once (see `entries`) and judge the run from the counts,
    the infrastructure trouble any test met, and pytest's exit status."""
    counted = entries(planned, results, outcomes, exit_status, stopped)
    tally = Counter(e.tally for e in counted)
    missing = [e.missing for e in counted if e.missing is not None]
    troubles = [o for o in outcomes if o.trouble is not None and o.trouble.infrastructure]
    planned_ids = {e.planned.nodeid for e in counted}
    failing = (TestStatus.FAILED, TestStatus.ERROR, TestStatus.XPASS)
    # A test outside the plan that failed on its own (its port lost: a trouble, counted there).
    others = [
        o
        for o in outcomes
        if o.nodeid not in planned_ids and o.status in failing and o.trouble is None
    ]
    why_counts = Counter(str(m.why) for m in missing)
    declared = sum(
        bool(e.planned.deviation)
        and (
            e.tally == Tally.XFAIL or (e.missing is not None and e.missing.why == NoResult.SKIPPED)
        )
        for e in counted
    )
    counts = Counts(
        planned=len(counted),
        passed=tally[Tally.PASSED],
        failed=tally[Tally.FAILED],
        wedged=tally[Tally.WEDGED],
        observed=tally[Tally.OBSERVED],
        drift=tally[Tally.DRIFT],
        error=tally[Tally.ERROR],
        xfail=tally[Tally.XFAIL],
        xpass=tally[Tally.XPASS],
        no_result=len(missing),
        no_result_why=dict(sorted(why_counts.items())),
        other_failed=len(others),
        not_exercised=tally[Tally.NOT_EXERCISED],
        declared=declared,
    )
    weaker = [e.result for e in counted if e.result is not None and e.result.security]
    counts.security = len(weaker)
    counts.security_uncharacterized = sum(r.security_uncharacterized for r in weaker)
    critical_xfails = [
        e.planned.id
        for e in counted
        if e.tally == Tally.XFAIL and e.result is not None and e.result.critical
    ]
    state = _state(counts, troubles, exit_status)
    return RunVerdict(
        state,
        _headline(state, counts),
        counts,
        missing,
        troubles,
        exit_status,
        others,
        [f"{r.id}: {r.security}" for r in weaker],
        critical_xfails,
    )


def _state(counts: Counts, troubles: list[TestOutcome], exit_status: int | None) -> RunState:
    skipped = counts.no_result_why.get(NoResult.SKIPPED, 0)
    if (
        counts.no_result > skipped
        or counts.error
        or troubles
        or exit_status in (pytest.ExitCode.INTERRUPTED, RunExit.INCOMPLETE, RunExit.UNREACHABLE)
    ):
        return RunState.INCOMPLETE
    if (
        counts.failed
        or counts.wedged
        or counts.xpass
        or counts.other_failed
        or exit_status not in (None, pytest.ExitCode.OK)
    ):
        return RunState.FAILED
    # Declared rows (a deviations file says why) are not notes: the user decided them.
    if (
        counts.drift
        or counts.xfail + skipped > counts.declared
        or not counts.planned
        or counts.not_exercised
        or counts.security_uncharacterized
    ):
        return RunState.NOTES
    return RunState.PASSED


def _headline(state: RunState, c: Counts) -> str:
    as_expected = c.passed + c.observed
    parts = [f"{as_expected} of {c.planned} planned scenarios as expected"]
    if c.observed:
        parts[0] += f" ({c.observed} observed)"
    if c.no_result:
        why = ", ".join(f"{n} {reason}" for reason, n in c.no_result_why.items())
        parts.append(f"{c.no_result} produced no result ({why})")
    for n, word in (
        (c.failed, "failed"),
        (c.wedged, "wedged"),
        (c.xpass, "xpass"),
        (c.drift, "drift"),
        (c.xfail, "xfail"),
        (c.error, "error"),
        (c.not_exercised, "not exercised"),
        (c.security, "security observation" + ("s" if c.security != 1 else "")),
    ):
        if n:
            parts.append(f"{n} {word}")
    if c.declared:
        parts.append(f"{c.declared} declared in the deviations file")
    if c.other_failed:
        parts.append(f"{c.other_failed} other test{'s' if c.other_failed != 1 else ''} failed")
    return f"{str(state).upper()}: " + "; ".join(parts)


@dataclass
class Cause:
    """Planned scenarios that produced no result for one reason (the report's grouping)."""

    why: NoResult
    detail: str
    rows: list[Missing]


def by_cause(missing: list[Missing]) -> list[Cause]:
    """The no-result rows grouped by (why, detail), the largest group first: a device lost
    half-way is one cause for every row after it, not one line each."""
    groups: dict[tuple[str, str], Cause] = {}
    for m in missing:
        key = (str(m.why), m.detail)
        groups.setdefault(key, Cause(m.why, m.detail, [])).rows.append(m)
    return sorted(groups.values(), key=lambda c: (-len(c.rows), str(c.why), c.detail))


def cause_lines(missing: list[Missing], shown: int = 3) -> list[str]:
    """One line per cause: count, reason, detail, and the first few rows."""
    lines = []
    for cause in by_cause(missing):
        ids = [m.id for m in cause.rows]
        rows = ", ".join(ids[:shown]) + (f" (+{len(ids) - shown} more)" if len(ids) > shown else "")
        detail = f": {cause.detail}" if cause.detail else ""
        lines.append(f"{len(ids)} {cause.why}{detail} [{rows}]")
    return lines
