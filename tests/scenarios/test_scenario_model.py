"""The scenario model's rule language (w24_harness.scenarios.model): how an expectation reads
(the same words as the runner's Outcome, so the two compare), the rule helpers, and what a
catalogue row gets for every field it leaves out. No device, no server."""

from __future__ import annotations

import dataclasses

import pytest

from w24_harness.at.codes import ResultCode
from w24_harness.profiles.table import PROFILES
from w24_harness.runner.scenario import Outcome
from w24_harness.scenarios.model import (
    ACCEPT,
    Evidence,
    Expect,
    Scenario,
    accept_unless,
    always,
    one_of,
    reject,
)
from w24_harness.tlsfacts import ProtocolVersion
from w24_harness.vocab import Action, Backend, Basis, Family, Kind, Stage

W24, ICHIP = PROFILES["w24"], PROFILES["ichip"]
FIELD = "server_key_bits"  # UNKNOWN on w24, known on ichip


def test_expectations_read_like_outcomes() -> None:
    assert str(ACCEPT) == "accept" == str(Outcome(True))
    assert str(reject(ResultCode.SSL_NEGOTIATION)) == "reject 220 at ssl"
    assert str(reject(ResultCode.SSL_NEGOTIATION)) == str(
        Outcome(False, ResultCode.SSL_NEGOTIATION, Stage.SSL)
    )
    assert str(reject(ResultCode.CA_PARSE_ERROR, Stage.CA)) == "reject 116 at ca"
    assert str(Expect(False)) == "reject no code at ssl" == str(Outcome(False, None, Stage.SSL))


def test_expect_and_reject_defaults() -> None:
    assert Expect(True, None, Stage.SSL) == ACCEPT
    assert Expect(False) == Expect(False, None, Stage.SSL)
    assert reject(ResultCode.SSL_NO_CA) == Expect(False, ResultCode.SSL_NO_CA, Stage.SSL)
    assert reject(ResultCode.SSND_TOO_BIG, Stage.DATA).stage == Stage.DATA


def test_expectations_are_values() -> None:
    # Frozen: usable in the allowed sets (frozensets) and never changed by a caller.
    assert len({reject(220), reject(220), ACCEPT}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        ACCEPT.accept = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Evidence().key_exchange = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("evidence", "text"),
    [
        (Evidence(), ""),
        (Evidence(key_exchange=True), "CKE sent"),
        (Evidence(key_exchange=False), "no CKE"),
        (Evidence(hello_in_profile=True), "hello in profile"),
        (Evidence(key_exchange=False, hello_in_profile=True), "no CKE, hello in profile"),
    ],
)
def test_evidence_reads_as_what_the_server_must_have_seen(evidence: Evidence, text: str) -> None:
    assert str(evidence) == text


def test_evidence_defaults_claim_nothing() -> None:
    assert Evidence() == Evidence(key_exchange=None, hello_in_profile=False)


def test_rule_helpers() -> None:
    refuse = reject(ResultCode.SSL_DECODE_ERROR)
    assert always(refuse)(W24) == refuse == always(refuse)(ICHIP)
    assert one_of(ACCEPT, refuse)(W24) == frozenset({ACCEPT, refuse})
    assert one_of()(W24) == frozenset()
    rule = accept_unless(lambda p: p.name == "w24")
    assert rule(W24) == reject(ResultCode.SSL_NEGOTIATION)  # the default code: 220
    assert rule(ICHIP) == ACCEPT
    assert accept_unless(lambda _p: True, ResultCode.SSL_NO_CA)(W24) == reject(ResultCode.SSL_NO_CA)
    assert accept_unless(lambda _p: None)(W24) == ACCEPT  # an unknown flag does not refuse


def test_a_row_that_says_nothing_else_gets_these_defaults() -> None:
    row = Scenario("x", "a row", Family.HANDSHAKE, always(ACCEPT))
    assert (row.certs, row.backend, row.versions, row.suites) == (
        "valid",
        Backend.OPENSSL,
        (ProtocolVersion.TLS1,),
        None,
    )
    assert (row.misbehaviour, row.action, row.client_auth, row.records) == (
        None,
        Action.HANDSHAKE,
        False,
        None,
    )
    assert (row.send_size, row.recv_size, row.srcv_max, row.slow) == (0, 0, 0, False)
    assert (row.basis, row.kind, row.measures, row.allowed) == (
        Basis.W24_MANUAL,
        Kind.CONFORMANCE,
        None,
        None,
    )
    assert (row.critical, row.evidence, row.checks) == (False, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.certs = "other"  # type: ignore[misc]


def test_expected_is_none_only_for_a_measured_field_the_profile_does_not_know() -> None:
    refuse = reject(ResultCode.SSL_NEGOTIATION)
    plain = Scenario("x", "a row", Family.HANDSHAKE, always(refuse))
    measured = dataclasses.replace(plain, measures=FIELD)
    assert plain.expected(W24) == refuse == plain.expected(ICHIP)
    assert measured.expected(W24) is None
    assert measured.expected(ICHIP) == refuse


def test_allowed_outcomes() -> None:
    refuse = reject(ResultCode.SSL_NEGOTIATION)
    plain = Scenario("x", "a row", Family.HANDSHAKE, always(refuse))
    # A row without a set allows exactly its prediction ...
    assert plain.allowed_outcomes(W24) == frozenset({refuse})
    # ... nothing when it predicts nothing ...
    measured = dataclasses.replace(plain, measures=FIELD)
    assert measured.allowed_outcomes(W24) == frozenset()
    # ... and its set when it names one, whatever the prediction.
    with_set = dataclasses.replace(measured, allowed=one_of(ACCEPT, refuse))
    assert with_set.allowed_outcomes(W24) == frozenset({ACCEPT, refuse})
    assert with_set.allowed_outcomes(ICHIP) == frozenset({ACCEPT, refuse})
