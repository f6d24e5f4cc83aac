"""w24_harness.judge.judgement on scenarios built here with the model's rule language, one per
branch of
the verdict: conformance passed / failed / error, a conformance row over an unknown field with
an allowed set, and characterizations (failed outside the set, observed, drift). Each asserts
the class, what the report shows as expected, the prediction and the reason. No device."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from w24_harness.at.codes import ResultCode
from w24_harness.judge.judgement import Judgement, judge
from w24_harness.profiles.table import PROFILES
from w24_harness.runner.scenario import Outcome
from w24_harness.scenarios.model import ACCEPT, Scenario, accept_unless, always, one_of, reject
from w24_harness.vocab import Family, Kind, ResultClass, Stage

W24, ICHIP = PROFILES["w24"], PROFILES["ichip"]
FIELD = "server_key_bits"  # UNKNOWN on w24, (1024, 2048) on ichip
assert not W24.knows(FIELD) and ICHIP.knows(FIELD)

REFUSE_220 = reject(ResultCode.SSL_NEGOTIATION)
ACCEPTED = Outcome(True)
REFUSED_220 = Outcome(False, ResultCode.SSL_NEGOTIATION, Stage.SSL)
REFUSED_224 = Outcome(False, ResultCode.SSL_DECODE_ERROR, Stage.SSL)


def conformance(**kwargs: Any) -> Scenario:
    """Predicts 220 at AT+iSSL on every profile that knows the field it measures (if any)."""
    return Scenario("c", "a conformance row", Family.HANDSHAKE, always(REFUSE_220), **kwargs)


def characterization(kind: Kind = Kind.CHARACTERIZATION) -> Scenario:
    """Measures FIELD: ichip's value predicts a refusal; accept or 220 are both correct."""
    return Scenario(
        "k",
        "a characterization",
        Family.HANDSHAKE,
        accept_unless(lambda p: p.server_key_bits is not None),
        kind=kind,
        measures=FIELD,
        allowed=one_of(ACCEPT, REFUSE_220),
    )


def test_conformance_outcome_as_predicted_passes() -> None:
    verdict = judge(conformance(), W24, REFUSED_220)
    assert verdict == Judgement(
        ResultClass.PASSED, "reject 220 at ssl", REFUSE_220, "reject 220 at ssl as expected"
    )
    assert not verdict.fails(strict=False) and not verdict.fails(strict=True)


def test_conformance_other_outcome_fails() -> None:
    verdict = judge(conformance(), W24, ACCEPTED)
    assert verdict == Judgement(
        ResultClass.FAILED,
        "reject 220 at ssl",
        REFUSE_220,
        "expected reject 220 at ssl, got accept",
    )
    assert verdict.fails(strict=False) and verdict.fails(strict=True)


def test_conformance_over_an_unknown_field_without_a_set_is_an_error() -> None:
    scenario = conformance(measures=FIELD)
    verdict = judge(scenario, W24, REFUSED_220)
    assert verdict.result == ResultClass.ERROR
    assert verdict.predicted is None
    assert verdict.reason == (
        "profile w24 holds server_key_bits as unknown, and the scenario names no allowed set"
    )
    # The same row on a profile that knows the field is judged as usual.
    assert judge(scenario, ICHIP, REFUSED_220).result == ResultClass.PASSED


def test_conformance_over_an_unknown_field_passes_anywhere_in_its_set() -> None:
    scenario = conformance(
        measures=FIELD, allowed=one_of(REFUSE_220, reject(ResultCode.SSL_DECODE_ERROR))
    )
    for outcome in (REFUSED_220, REFUSED_224):
        verdict = judge(scenario, W24, outcome)
        assert verdict.result == ResultClass.PASSED
        assert verdict.predicted is None
        # A conformance row asserts its set ("one of"); only a characterization "observes".
        assert verdict.expected == "one of: reject 220 at ssl | reject 224 at ssl"
        assert verdict.reason == f"{outcome}: within the allowed set"
    verdict = judge(scenario, W24, ACCEPTED)
    assert verdict.result == ResultClass.FAILED
    assert verdict.predicted is None
    assert verdict.reason == "accept is outside reject 220 at ssl | reject 224 at ssl"


def test_conformance_with_a_set_on_a_profile_that_knows_the_field_follows_the_prediction() -> None:
    # Only an unknown field lets the set stand in for the prediction.
    scenario = conformance(measures=FIELD, allowed=one_of(REFUSE_220, ACCEPT))
    assert judge(scenario, ICHIP, ACCEPTED).result == ResultClass.FAILED
    assert judge(scenario, ICHIP, REFUSED_220).result == ResultClass.PASSED


@pytest.mark.parametrize("profile", [W24, ICHIP], ids=["unknown", "known"])
def test_characterization_outside_the_set_fails(profile) -> None:
    verdict = judge(characterization(), profile, REFUSED_224)
    assert verdict.result == ResultClass.FAILED
    assert verdict.reason == (
        "reject 224 at ssl is outside what a correct firmware may show (accept | reject 220 at ssl)"
    )
    assert verdict.fails(strict=False)


def test_characterization_of_an_unknown_field_is_observed() -> None:
    for outcome in (ACCEPTED, REFUSED_220):
        verdict = judge(characterization(), W24, outcome)
        assert verdict == Judgement(
            ResultClass.OBSERVED, "observe: accept | reject 220 at ssl", None, f"observed {outcome}"
        )
        assert not verdict.fails(strict=True)


def test_characterization_as_the_profile_predicts_is_observed_and_otherwise_drift() -> None:
    scenario = characterization()
    verdict = judge(scenario, ICHIP, REFUSED_220)
    assert verdict == Judgement(
        ResultClass.OBSERVED, "reject 220 at ssl", REFUSE_220, "observed reject 220 at ssl"
    )
    drift = judge(scenario, ICHIP, ACCEPTED)
    assert drift.result == ResultClass.DRIFT
    assert drift.predicted == REFUSE_220
    assert drift.reason == (
        "profile ichip says server_key_bits = (1024, 2048), which predicts reject 220 at ssl; "
        "the firmware showed accept"
    )
    assert not drift.fails(strict=False) and drift.fails(strict=True)


def test_a_set_on_a_conformance_row_is_no_characterization() -> None:
    # Kind decides: the same rule and set as a conformance row on a known field is passed/failed.
    scenario = characterization(Kind.CONFORMANCE)
    assert judge(scenario, ICHIP, ACCEPTED).result == ResultClass.FAILED
    assert judge(scenario, ICHIP, REFUSED_220).result == ResultClass.PASSED


def test_a_characterization_without_a_set_is_judged_as_a_conformance_row() -> None:
    scenario = Scenario(
        "k", "no set", Family.HANDSHAKE, always(REFUSE_220), kind=Kind.CHARACTERIZATION
    )
    assert judge(scenario, W24, REFUSED_220).result == ResultClass.PASSED
    assert judge(scenario, W24, ACCEPTED).result == ResultClass.FAILED


def test_a_broken_outcome_matches_no_allowed_outcome() -> None:
    broken = Outcome(False, ResultCode.SSL_NEGOTIATION, Stage.SSL, intact=False)
    assert judge(characterization(), W24, broken).result == ResultClass.FAILED
    assert judge(conformance(), W24, broken).result == ResultClass.FAILED


@pytest.mark.parametrize(
    ("result", "lenient", "strict"),
    [
        (ResultClass.PASSED, False, False),
        (ResultClass.OBSERVED, False, False),
        (ResultClass.DRIFT, False, True),
        (ResultClass.FAILED, True, True),
        (ResultClass.ERROR, False, False),
    ],
)
def test_fails_is_failure_always_and_drift_only_when_strict(result, lenient, strict) -> None:
    verdict = Judgement(result, "", None, "")
    assert verdict.fails(strict=False) is lenient
    assert verdict.fails(strict=True) is strict


def test_a_judgement_is_a_value() -> None:
    # Frozen: the report and the deviations step read the same judgement; neither may edit it.
    verdict = judge(conformance(), W24, REFUSED_220)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.result = ResultClass.FAILED  # type: ignore[misc]
    assert verdict == judge(conformance(), W24, REFUSED_220)
