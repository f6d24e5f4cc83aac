"""The one judge: a scenario, the profile, the deviations and the full evidence in, one result out.

Pure: no I/O, no pytest. Every suite's verdict comes from `judge` (the check_scenario fixture
only records what it returns and asserts), in this order:

1. The outcome against what the documents allow. A row with an allowed set (the outcomes a
   correct firmware may show) passes inside it, whatever its kind; a characterization inside it
   is *observed*, or *drift* when the profile holds a value for the measured field that
   predicts another outcome. Without a set, the predicted outcome must be the one shown.
2. The row's subject must have reached the device: a conformance row that ended at AT+iCA=
   (the CA refused) never presented its server, so it is *not exercised*, never passed.
3. The evidence besides the code: the bytes delivered before an error against the record plan,
   what the server saw of the client (ClientKeyExchange, the premaster's key, the ClientHello),
   and the wire invariants every handshake is checked against (servers.invariants). A
   contradiction fails the row.
4. A device that hung on the row (the driver timed out, then it answered AT again) failed it;
   one the sanity check found wedged is *wedged*.
5. A deviations entry turns a firmware failure into *xfail* when the entry names no outcome or
   names the one shown; a row that passes against an entry is *xpass*. Hangs, wedges and
   harness errors are never absorbed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from w24_harness.judge.deviations import DeviationEntry, Deviations
from w24_harness.judge.evidence import delivered_data, hello_signals, server_evidence
from w24_harness.judge.security import weaker_choice
from w24_harness.profiles.table import DeviceProfile
from w24_harness.runner.scenario import Outcome
from w24_harness.scenarios import Expect, Scenario, describe_expectation
from w24_harness.vocab import Action, Family, Kind, ResultClass, Stage

# Result classes that fail the test whatever else holds.
FAILING = frozenset({ResultClass.FAILED, ResultClass.WEDGED, ResultClass.ERROR, ResultClass.XPASS})
# Failures a deviations entry may absorb: the firmware's answer was wrong. A hang, a wedge or a
# harness error is not an answer.
ABSORBABLE = frozenset({ResultClass.FAILED})


@dataclass(frozen=True)
class Judgement:
    result: ResultClass
    expected: str  # the expectation as the reports show it
    predicted: Expect | None  # what the profile predicts (None: it does not say)
    reason: str  # why this class, one sentence
    notes: tuple[str, ...] = ()  # the evidence behind it (server, data, wedge, signals)
    # A characterization that observed the weaker choice (an expired leaf accepted ...).
    security: str | None = None
    # The security observation is on a field the profile has not characterized: amber.
    security_uncharacterized: bool = False
    deviation: DeviationEntry | None = None
    absorbable: bool = False  # a deviations entry may turn this failure into an xfail

    def fails(self, strict: bool) -> bool:
        """Whether the test fails: a failure always, drift only in a strict run."""
        return self.result in FAILING or (strict and self.result == ResultClass.DRIFT)


@dataclass
class _Draft:
    result: ResultClass
    reason: str
    notes: list[str] = field(default_factory=list)


def _against_expectation(
    scenario: Scenario, profile: DeviceProfile, outcome: Outcome, predicted: Expect | None
) -> _Draft:
    allowed = scenario.allowed(profile) if scenario.allowed is not None else None
    if allowed is not None:
        if not any(outcome.matches(e) for e in allowed):
            options = " | ".join(sorted(str(e) for e in allowed))
            return _Draft(
                ResultClass.FAILED,
                f"{outcome} is outside what a correct firmware may show ({options})",
            )
        if scenario.kind != Kind.CHARACTERIZATION:
            return _Draft(ResultClass.PASSED, f"{outcome}: within the allowed set")
        if predicted is not None and not outcome.matches(predicted):
            held = getattr(profile, scenario.measures) if scenario.measures else None
            return _Draft(
                ResultClass.DRIFT,
                f"profile {profile.name} says {scenario.measures} = {held!r}, which predicts "
                f"{predicted}; the firmware showed {outcome}",
            )
        return _Draft(ResultClass.OBSERVED, f"observed {outcome}")
    if predicted is None:
        # A row over a field the profile does not know, with no set: nothing to conclude.
        return _Draft(
            ResultClass.ERROR,
            f"profile {profile.name} holds {scenario.measures} as unknown, and the "
            "scenario names no allowed set",
        )
    if outcome.matches(predicted):
        return _Draft(ResultClass.PASSED, f"{outcome} as expected")
    return _Draft(ResultClass.FAILED, f"expected {predicted}, got {outcome}")


def _not_exercised(scenario: Scenario, outcome: Outcome, predicted: Expect | None) -> str | None:
    """Why a conformance row's subject never reached the device (None: it did). An identity
    row is about the server's certificate: a CA refused at AT+iCA= means the certificate was
    never presented, whatever the profile predicts. Another row refused there is exercised when
    the refusal is what the profile predicts (a SHA-256 CA on a SHA-1 firmware)."""
    if scenario.kind != Kind.CONFORMANCE or scenario.family == Family.CA:
        return None
    if scenario.action in (Action.LOAD_CA, Action.QUERY_CA_SLOT):
        return None
    if outcome.accepted or outcome.stage != Stage.CA:
        return None
    if scenario.family != Family.IDENTITY and predicted is not None and outcome.matches(predicted):
        return None
    return (
        f"AT+iCA= refused the row's CA ({outcome.code}), so its server was never presented: "
        "the check the row is about did not run"
    )


def _weigh_evidence(
    scenario: Scenario, profile: DeviceProfile, outcome: Outcome, draft: _Draft, notes: list[str]
) -> _Draft:
    """The evidence besides the code: delivered bytes, the server's view, the wire invariants."""
    passing = (ResultClass.PASSED, ResultClass.OBSERVED, ResultClass.DRIFT)
    data_problems = delivered_data(scenario, outcome)
    server_problems = (
        server_evidence(scenario.evidence, outcome.report, profile)
        if draft.result in passing
        else []
    )
    if data_problems or server_problems:
        draft = _Draft(ResultClass.FAILED, (data_problems or server_problems)[0], notes)
        notes += [f"data: {p}" for p in data_problems]
        notes += [f"server evidence: {p}" for p in server_problems]
    signals = hello_signals(outcome.report) if scenario.evidence is not None else []
    if signals:
        notes.append(f"the ClientHello also carries: {', '.join(signals)} (recorded)")

    if outcome.violations:
        notes += [f"wire: {v}" for v in outcome.violations]
        draft = _Draft(
            ResultClass.FAILED,
            f"the device broke {len(outcome.violations)} wire invariant(s): "
            f"{outcome.violations[0]}",
            notes,
        )
    return draft


def judge(
    scenario: Scenario,
    profile: DeviceProfile,
    outcome: Outcome,
    deviations: Deviations | None = None,
) -> Judgement:
    predicted = scenario.expected(profile)
    shown = describe_expectation(scenario, profile)
    draft = _against_expectation(scenario, profile, outcome, predicted)
    notes = draft.notes
    if outcome.detail:
        notes.insert(0, outcome.detail)
    if outcome.device_clock:
        notes.append(f"device clock (AT+iRP8): {outcome.device_clock}")
    passing = (ResultClass.PASSED, ResultClass.OBSERVED, ResultClass.DRIFT)

    why_not = _not_exercised(scenario, outcome, predicted) if draft.result in passing else None
    if why_not:
        draft = _Draft(ResultClass.NOT_EXERCISED, why_not, notes)

    draft = _weigh_evidence(scenario, profile, outcome, draft, notes)
    if outcome.hung:
        draft = _Draft(ResultClass.FAILED, f"the device hung on the row: {outcome.hung}", notes)
    if outcome.wedged:
        notes.append(f"wedged: {outcome.wedged}")
        draft = _Draft(ResultClass.WEDGED, "the device is wedged after the row", notes)

    security, uncharacterized = None, False
    weaker = weaker_choice(scenario.id)
    if weaker is not None and draft.result in passing and outcome.matches(weaker.outcome):
        security = weaker.says
        uncharacterized = scenario.measures is not None and not profile.knows(scenario.measures)

    absorbable = draft.result in ABSORBABLE and not outcome.hung
    result, reason = draft.result, draft.reason
    entry = deviations.find(scenario.id) if deviations is not None else None
    if entry is not None:
        if result in FAILING:
            if absorbable and entry.covers(str(outcome)):
                result = ResultClass.XFAIL
                reason = f"{reason} (deviation: {entry})"
            elif absorbable:
                notes.append(
                    f"the deviations entry expects {entry.outcome}, the firmware showed {outcome}"
                )
        elif result in passing:
            result = ResultClass.XPASS
            reason = f"{reason}, against the deviations entry ({entry})"
    return Judgement(
        result,
        shown,
        predicted,
        reason,
        tuple(notes),
        security,
        uncharacterized,
        entry,
        absorbable,
    )


def judge_expectation(expect: Expect, outcome: Outcome, problems: list[str]) -> Judgement:
    """A row that is no catalogue entry (the field-interop suite's daemons): one expected
    outcome, and what the evidence besides the code contradicts (the wire, the daemon's log)."""
    if problems:
        return Judgement(ResultClass.FAILED, str(expect), expect, problems[0], tuple(problems))
    if outcome.hung:
        return Judgement(
            ResultClass.FAILED, str(expect), expect, f"the device hung: {outcome.hung}"
        )
    if outcome.matches(expect):
        return Judgement(ResultClass.PASSED, str(expect), expect, f"{outcome} as expected")
    return Judgement(ResultClass.FAILED, str(expect), expect, f"expected {expect}, got {outcome}")
