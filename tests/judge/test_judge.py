"""The one judge (w24_harness.judge.judgement), table-driven: each row is a scenario (from the
catalogue where the row is about a catalogue entry, else built here with the model's rule
language), a profile, the full evidence of an outcome, and the result class and reason the
judge must give. Every result class and every rule has a row; the defects of issue 23 each have
one named after them. No device, no pytest-in-pytest."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from w24_harness.at.codes import ResultCode
from w24_harness.judge.deviations import DeviationEntry, Deviations
from w24_harness.judge.judgement import Judgement, judge
from w24_harness.profiles.table import PROFILES, DeviceProfile
from w24_harness.runner.scenario import Outcome
from w24_harness.scenarios import get
from w24_harness.scenarios.model import (
    ACCEPT,
    Evidence,
    Scenario,
    accept_unless,
    always,
    one_of,
    reject,
)
from w24_harness.servers import ClientHelloView, ConnectionReport, payload
from w24_harness.vocab import Deviation, Family, Kind, ResultClass, ServerSaw, Stage

W24, ICHIP = PROFILES["w24"], PROFILES["ichip"]
FIELD = "server_key_bits"  # UNKNOWN on w24, (1024, 2048) on ichip
assert not W24.knows(FIELD) and ICHIP.knows(FIELD)
REFUSE_220 = reject(ResultCode.SSL_NEGOTIATION)
SSL_220 = Outcome(False, ResultCode.SSL_NEGOTIATION, Stage.SSL)
DATA_224 = ResultCode.SSL_DECODE_ERROR


def conformance(**kwargs: Any) -> Scenario:
    return Scenario("c", "a conformance row", Family.HANDSHAKE, always(REFUSE_220), **kwargs)


def characterization(**kwargs: Any) -> Scenario:
    """Measures FIELD: ichip's value predicts a refusal; accept or 220 are both correct."""
    return Scenario(
        "k",
        "a characterization",
        Family.HANDSHAKE,
        accept_unless(lambda p: p.server_key_bits is not None),
        kind=Kind.CHARACTERIZATION,
        measures=FIELD,
        allowed=one_of(ACCEPT, REFUSE_220),
        **kwargs,
    )


def data(scenario_id: str, n: int | None = None, start: int = 0) -> bytes:
    """The first `n` bytes (from `start`) of the server data a catalogue row's plan sends."""
    plan = get(scenario_id).records
    assert plan is not None
    sent = payload(plan.data_bytes, seed=7)
    return sent[start : None if n is None else start + n]


def ended(scenario_id: str, code: int, delivered: bytes) -> Outcome:
    return Outcome(False, code, Stage.DATA, delivered=delivered)


def hello(*suites: str) -> ConnectionReport:
    report = ConnectionReport(("127.0.0.1", 1), key_exchange_bytes=128, server_key_bytes=128)
    report.client_hello = ClientHelloView("TLS1.0", (3, 1), list(suites), [0], [], 0)
    return report


def deviations(pattern: str, outcome: str | None = None) -> Deviations:
    entry = DeviationEntry(pattern, Deviation.KNOWN_BUG, "FW-1", outcome)
    return Deviations(Path("d.toml"), (entry,))


AES = "TLS_RSA_WITH_AES_128_CBC_SHA"
SCSV = "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"


@dataclass(frozen=True)
class Case:
    name: str
    scenario: Scenario
    outcome: Outcome
    result: ResultClass
    says: str = ""  # a phrase the reason or a note must hold
    profile: DeviceProfile = W24
    devs: Deviations | None = None
    extra: dict[str, object] = field(default_factory=dict)


CASES = [
    # -- the outcome against the expectation -------------------------------------------------
    Case("conformance as predicted", conformance(), SSL_220, ResultClass.PASSED, "as expected"),
    Case("conformance otherwise", conformance(), Outcome(True), ResultClass.FAILED, "expected"),
    Case(
        "conformance over an unknown field, no set",
        conformance(measures=FIELD),
        SSL_220,
        ResultClass.ERROR,
        "unknown",
    ),
    Case(
        "conformance with a set: inside passes even where the profile predicts another",
        conformance(measures=FIELD, allowed=one_of(REFUSE_220, reject(222))),
        Outcome(False, 222, Stage.SSL),
        ResultClass.PASSED,
        "within the allowed set",
        profile=ICHIP,
    ),
    Case(
        "robustness with a set is honoured (rec-empty-run-33)",
        get("rec-empty-run-33"),
        ended("rec-empty-run-33", DATA_224, data("rec-empty-run-33", 512)),
        ResultClass.PASSED,
        "within the allowed set",
    ),
    Case(
        "characterization outside its set",
        characterization(),
        Outcome(False, 226, Stage.SSL),
        ResultClass.FAILED,
        "outside",
    ),
    Case(
        "characterization of an unknown field",
        characterization(),
        Outcome(True),
        ResultClass.OBSERVED,
        "observed",
    ),
    Case(
        "characterization as the profile predicts",
        characterization(),
        SSL_220,
        ResultClass.OBSERVED,
        "observed",
        profile=ICHIP,
    ),
    Case(
        "characterization against the profile",
        characterization(),
        Outcome(True),
        ResultClass.DRIFT,
        "predicts",
        profile=ICHIP,
    ),
    Case(
        "defect 3: a characterization's other outcome never crashes the judge",
        get("data-warning-alerts"),
        ended("data-warning-alerts", DATA_224, data("data-warning-alerts", 400)),
        ResultClass.OBSERVED,
        "observed",
    ),
    Case(
        "a broken outcome matches nothing",
        conformance(),
        dataclasses.replace(SSL_220, intact=False),
        ResultClass.FAILED,
        "expected",
    ),
    # -- closes: judged by what SRCV returned, any error code (defects 1, 2, 5) ---------------
    Case(
        "defect 1: the close shown by SST before the data were read, SRCV still delivers all",
        get("data-close-notify-1000"),
        dataclasses.replace(
            ended("data-close-notify-1000", 203, data("data-close-notify-1000")), statuses=[-203]
        ),
        ResultClass.PASSED,
        "as expected",
    ),
    Case(
        "defect 2: a fatal alert after data reported as 203 (socket down)",
        get("data-fatal-alert-after-data"),
        ended("data-fatal-alert-after-data", 203, data("data-fatal-alert-after-data")),
        ResultClass.PASSED,
    ),
    Case(
        "silence after the data fails",
        get("data-close-notify-1000"),
        Outcome(False, None, Stage.DATA, delivered=data("data-close-notify-1000")),
        ResultClass.FAILED,
        "got reject no code",
    ),
    Case(
        "defect 5: data lost at an unclean close reported as 215",
        get("data-fin-1000"),
        ended("data-fin-1000", 215, data("data-fin-1000", 600)),
        ResultClass.FAILED,
    ),
    Case(
        "an unclean close with all data, 215: observed",
        get("data-fin-1000"),
        ended("data-fin-1000", 215, data("data-fin-1000")),
        ResultClass.OBSERVED,
    ),
    # -- bytes before an error (defect 4) ------------------------------------------------------
    Case(
        "defect 4: a bad MAC answered 224 with the good data before it",
        get("rec-bad-mac-aes128"),
        ended("rec-bad-mac-aes128", DATA_224, data("rec-bad-mac-aes128", 512)),
        ResultClass.PASSED,
    ),
    Case(
        "defect 4: 224 with nothing delivered before it",
        get("rec-bad-mac-aes128"),
        ended("rec-bad-mac-aes128", DATA_224, b""),
        ResultClass.FAILED,
        "data were lost",
    ),
    Case(
        "defect 4: 224 after other bytes than the server's",
        get("rec-bad-mac-aes128"),
        ended("rec-bad-mac-aes128", DATA_224, bytes(512)),
        ResultClass.FAILED,
        "not the server's data",
    ),
    Case(
        "defect 4: 224 after the bad record's own plaintext was delivered",
        get("rec-bad-mac-aes128"),
        ended("rec-bad-mac-aes128", DATA_224, data("rec-bad-mac-aes128")),
        ResultClass.FAILED,
        "must be refused",
    ),
    Case(
        "defect 2: a warning alert taken as the end, after the data before it",
        get("data-warning-alerts"),
        ended("data-warning-alerts", 203, data("data-warning-alerts", 400)),
        ResultClass.OBSERVED,
    ),
    Case(
        "an unknown record type ignored, the data after it delivered",
        get("rec-type-24"),
        Outcome(True, delivered=data("rec-type-24")),
        ResultClass.PASSED,
    ),
    Case(
        "a HelloRequest failing the session fails (RFC 2246 §7.4.1.1)",
        get("data-hello-request"),
        ended("data-hello-request", DATA_224, data("data-hello-request", 500)),
        ResultClass.FAILED,
        "outside",
    ),
    Case(
        "no close_notify on AT+iSCLS fails (RFC 2246 §7.2.1)",
        get("data-scls-close-notify"),
        Outcome(True, server_saw=ServerSaw.NO_CLOSE_NOTIFY),
        ResultClass.FAILED,
        "outside",
    ),
    # -- the server's evidence ----------------------------------------------------------------
    Case(
        "defect 2: a signalling value in the ClientHello is no suite",
        get("hs-client-hello"),
        dataclasses.replace(Outcome(True), report=hello(AES, SCSV)),
        ResultClass.PASSED,
        "recorded",
    ),
    Case(
        "a suite outside the profile fails",
        get("hs-client-hello"),
        dataclasses.replace(Outcome(True), report=hello(AES, "TLS_RSA_WITH_NULL_SHA")),
        ResultClass.FAILED,
        "outside the profile",
    ),
    # -- not exercised (defect 6) -----------------------------------------------------------
    Case(
        "defect 6: a forgery whose CA AT+iCA= refused never presented its leaf",
        get("pkcs1-e3-bleichenbacher-2006"),
        Outcome(False, ResultCode.CA_PARSE_ERROR, Stage.CA),
        ResultClass.NOT_EXERCISED,
        "never presented",
    ),
    Case(
        "a characterization of the CA parameter refused at AT+iCA= is an observation",
        get("issuer-not-ca"),
        Outcome(False, ResultCode.CA_PARSE_ERROR, Stage.CA),
        ResultClass.OBSERVED,
    ),
    Case(
        "a wire invariant broken fails a row whose code was right",
        conformance(),
        dataclasses.replace(SSL_220, violations=["pms-version: premaster version (3, 0)"]),
        ResultClass.FAILED,
        "wire invariant",
    ),
    # -- hangs and wedges (defect 9) ---------------------------------------------------------
    Case(
        "defect 9: a device that hung on a stalled server and then answered AT fails the row",
        get("stall-mid-handshake"),
        Outcome(False, None, Stage.SSL, hung="no complete reply to 'SSL:0' in time"),
        ResultClass.FAILED,
        "hung",
    ),
    Case(
        "wedged outranks a passing code",
        conformance(),
        dataclasses.replace(SSL_220, wedged="no answer"),
        ResultClass.WEDGED,
        "wedged",
    ),
    # -- deviations (defect 7) --------------------------------------------------------------
    Case(
        "a deviation naming the outcome shown: xfail",
        conformance(),
        Outcome(True),
        ResultClass.XFAIL,
        "deviation",
        devs=deviations("c", "accept"),
    ),
    Case(
        "a deviation naming another outcome does not absorb",
        conformance(),
        Outcome(False, 224, Stage.SSL),
        ResultClass.FAILED,
        "the deviations entry expects accept",
        devs=deviations("c", "accept"),
    ),
    Case(
        "a deviation never absorbs a hang",
        conformance(),
        Outcome(False, None, Stage.SSL, hung="no reply"),
        ResultClass.FAILED,
        "hung",
        devs=deviations("c"),
    ),
    Case(
        "a deviation never absorbs a wedge",
        conformance(),
        dataclasses.replace(SSL_220, wedged="no answer"),
        ResultClass.WEDGED,
        devs=deviations("c"),
    ),
    Case(
        "a row that passes against its deviation: xpass",
        conformance(),
        SSL_220,
        ResultClass.XPASS,
        "against the deviations entry",
        devs=deviations("c"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_judge(case: Case) -> None:
    verdict = judge(case.scenario, case.profile, case.outcome, case.devs)
    assert verdict.result == case.result, (verdict.reason, verdict.notes)
    said = " ".join([verdict.reason, *verdict.notes])
    assert case.says in said, said


def test_every_result_class_a_scenario_can_get_has_a_case() -> None:
    assert {c.result for c in CASES} == set(ResultClass)


def test_a_security_observation_is_flagged_and_amber_where_uncharacterized() -> None:
    expired = get("expired-leaf")
    on_w24 = judge(expired, W24, Outcome(True, device_clock="2008-05-31T12:00:00+00:00"))
    assert "device clock (AT+iRP8): 2008-05-31T12:00:00+00:00" in on_w24.notes
    assert on_w24.result == ResultClass.OBSERVED
    assert on_w24.security == "accepts an expired server certificate"
    assert on_w24.security_uncharacterized  # w24 holds check_validity_dates as unknown
    refused = judge(expired, W24, Outcome(False, ResultCode.SSL_NEGOTIATION, Stage.SSL))
    assert refused.security is None


@pytest.mark.parametrize(
    ("result", "lenient", "strict"),
    [
        (ResultClass.PASSED, False, False),
        (ResultClass.OBSERVED, False, False),
        (ResultClass.DRIFT, False, True),
        (ResultClass.FAILED, True, True),
        (ResultClass.WEDGED, True, True),
        (ResultClass.ERROR, True, True),
        (ResultClass.XPASS, True, True),
        (ResultClass.XFAIL, False, False),
        (ResultClass.NOT_EXERCISED, False, False),
    ],
)
def test_fails_is_failure_always_and_drift_only_when_strict(result, lenient, strict) -> None:
    verdict = Judgement(result, "x", None, "y")
    assert verdict.fails(strict=False) is lenient
    assert verdict.fails(strict=True) is strict


def test_the_server_evidence_is_checked_on_every_passing_row() -> None:
    scenario = conformance(evidence=Evidence(key_exchange=False))
    report = ConnectionReport(("127.0.0.1", 1), key_exchange_bytes=128, server_key_bytes=128)
    verdict = judge(scenario, W24, dataclasses.replace(SSL_220, report=report))
    assert verdict.result == ResultClass.FAILED
    assert "instead of stopping" in verdict.reason
