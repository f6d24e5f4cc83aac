"""Judge one scenario's outcome against a profile: passed, failed, observed or drift.

Conformance and robustness rows pass when the outcome is the one the profile predicts. A
characterization (issue 9) first checks the outcome against the set a correct firmware may show:
outside it is a failure; inside it is observed, unless the profile holds a value for the field
the scenario measures and the outcome is not what that value predicts: drift.
"""

from __future__ import annotations

from dataclasses import dataclass

from w24_harness.profiles.table import DeviceProfile
from w24_harness.runner.scenario import Outcome
from w24_harness.scenarios import Expect, Scenario, describe_expectation
from w24_harness.vocab import Kind, ResultClass


@dataclass(frozen=True)
class Judgement:
    result: ResultClass
    expected: str  # the expectation as the reports show it
    predicted: Expect | None  # what the profile predicts (None: it does not say)
    reason: str  # why this class, one sentence

    def fails(self, strict: bool) -> bool:
        """Whether the test fails: a failure always, drift only in a strict run."""
        return self.result == ResultClass.FAILED or (strict and self.result == ResultClass.DRIFT)


def judge(scenario: Scenario, profile: DeviceProfile, outcome: Outcome) -> Judgement:
    predicted = scenario.expected(profile)
    shown = describe_expectation(scenario, profile)
    if scenario.kind == Kind.CHARACTERIZATION and scenario.allowed is not None:
        allowed = scenario.allowed(profile)
        if not any(outcome.matches(e) for e in allowed):
            options = " | ".join(sorted(str(e) for e in allowed))
            return Judgement(
                ResultClass.FAILED,
                shown,
                predicted,
                f"{outcome} is outside what a correct firmware may show ({options})",
            )
        if predicted is not None and not outcome.matches(predicted):
            return Judgement(
                ResultClass.DRIFT,
                shown,
                predicted,
                f"profile {profile.name} says {scenario.measures} = "
                f"{getattr(profile, scenario.measures or '')!r}, which predicts {predicted}; "
                f"the firmware showed {outcome}",
            )
        return Judgement(ResultClass.OBSERVED, shown, predicted, f"observed {outcome}")
    if predicted is None and scenario.allowed is not None:
        # A conformance row over a field the profile does not know, whose every allowed outcome
        # satisfies the rule (a forgery refused at AT+iCA= or at AT+iSSL): pass inside the set.
        allowed = scenario.allowed(profile)
        if any(outcome.matches(e) for e in allowed):
            return Judgement(ResultClass.PASSED, shown, None, f"{outcome}: within the allowed set")
        options = " | ".join(sorted(str(e) for e in allowed))
        return Judgement(ResultClass.FAILED, shown, None, f"{outcome} is outside {options}")
    if predicted is None:
        # A conformance row over a field the profile does not know cannot conclude anything.
        return Judgement(
            ResultClass.ERROR,
            shown,
            None,
            f"profile {profile.name} holds {scenario.measures} as unknown, and the "
            "scenario names no allowed set",
        )
    if outcome.matches(predicted):
        return Judgement(ResultClass.PASSED, shown, predicted, f"{outcome} as expected")
    return Judgement(ResultClass.FAILED, shown, predicted, f"expected {predicted}, got {outcome}")
