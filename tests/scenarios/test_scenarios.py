"""The scenario catalogue is consistent: ids unique, every certificate set and action exists,
every rule gives an expectation for every profile, and docs/scenarios.md is current."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from w24_harness.at.codes import ResultCode
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import PROFILES, SSL3, UNDOCUMENTED
from w24_harness.runner.scenario import ACTIONS as RUNNER_ACTIONS
from w24_harness.runner.scenario import ScenarioRunner
from w24_harness.scenarios import ACCEPT, SCENARIOS, Expect, check_unique, reject, render_table
from w24_harness.vocab import Action, Basis, Kind, Stage

ROOT = Path(__file__).resolve().parents[2]


def test_check_unique_names_a_duplicate_id():
    twice = replace(SCENARIOS[-1], description="another case under a used id")
    with pytest.raises(ValueError, match=f"duplicate scenario ids: \\['{twice.id}'\\]"):
        check_unique([*SCENARIOS, twice])


def test_catalogue_ids_are_unique():
    check_unique(SCENARIOS)  # the same check the catalogue runs at import
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_every_scenario_has_a_well_formed_expectation(profile):
    for s in SCENARIOS:
        expect = s.expected(profile)
        # None only where the profile holds the measured field as unknown.
        assert expect is not None or not profile.knows(s.measures or "name"), s.id
        for e in [expect] if expect is not None else s.allowed_outcomes(profile):
            assert isinstance(e, Expect), s.id
            assert e.accept or e.any_code or e.code in set(ResultCode) or s.allowed is not None, (
                s.id
            )
            assert isinstance(e.stage, Stage), s.id
        assert isinstance(s.action, Action), s.id
        assert isinstance(s.basis, Basis) and isinstance(s.kind, Kind), s.id


def test_characterizations_name_an_undocumented_field_and_an_allowed_set():
    chars = [s for s in SCENARIOS if s.kind == Kind.CHARACTERIZATION]
    assert chars
    for s in chars:
        # Every characterization names the profile field it measures (issue 23): a row that
        # names none could not say what its other allowed outcome means.
        assert s.measures in UNDOCUMENTED, s.id
        assert s.allowed is not None, s.id


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_a_known_field_predicts_an_allowed_outcome(profile):
    """An explicit profile (ichip, modern) must predict an outcome a correct firmware may show;
    otherwise the profile, not the firmware, would fail the run."""
    for s in SCENARIOS:
        expect = s.expected(profile)
        if s.allowed is not None and expect is not None:
            # "any error code at this stage" covers every refusal there.
            assert any(e.covers(expect) for e in s.allowed(profile)), s.id


def test_the_w24_profile_leaves_every_undocumented_field_unknown():
    w24 = PROFILES["w24"]
    assert w24.unknown_fields() == list(UNDOCUMENTED)
    # ichip and modern are explicit policy profiles, except where no firmware document says
    # (spec §5.3, §11.13: close_notify on SCLS; renegotiation is documented nowhere).
    unsaid = ["close_notify_on_scls", "renegotiation"]
    assert all(PROFILES[name].unknown_fields() == unsaid for name in ("ichip", "modern"))
    # The simulator runs a concrete firmware: every UNKNOWN becomes its documented default.
    assert w24.resolved().unknown_fields() == []


def test_every_characterization_names_its_field_and_no_row_crashes_the_judge():
    """Every characterization names the profile field it measures, and the judge gives every
    outcome a row allows a class (defect 3: a field-less row crashed it on its other outcome)."""
    from w24_harness.judge.judgement import judge
    from w24_harness.runner.scenario import Outcome

    for s in SCENARIOS:
        if s.kind == Kind.CHARACTERIZATION:
            assert s.measures in UNDOCUMENTED, s.id
        for e in s.allowed_outcomes(PROFILES["w24"]):
            code = e.code if e.code is not None else (None if e.accept else 999)
            outcome = Outcome(e.accept, code, None if e.accept else e.stage, server_saw=e.server)
            assert judge(s, PROFILES["w24"], outcome).result is not None


def test_every_certificate_set_exists():
    sets = CertSets(PROFILES["w24"])
    for name in {s.certs for s in SCENARIOS}:
        assert sets.get(name).name == name


def test_catalogue_uses_only_actions_the_runner_implements():
    assert {s.action for s in SCENARIOS} <= set(Action) == RUNNER_ACTIONS


def test_runner_refuses_an_unknown_action(sim_w24):
    bogus = replace(SCENARIOS[0], id="bogus-action", action="handshake_twice")
    with pytest.raises(ValueError, match="unknown action 'handshake_twice'"):
        ScenarioRunner(sim_w24, CertSets(PROFILES["w24"])).run(bogus)
    assert sim_w24.all_sockets() == (-200,) * 10  # refused before touching the device


def _first_with(action: str):
    return next(s for s in SCENARIOS if s.action == action and not s.slow)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("action", sorted(RUNNER_ACTIONS))
def test_runner_runs_each_action(sim_w24, action):
    # Each action's first catalogue case, run against the simulator, reaches its own verdict (a
    # reject code only that action produces, or the bytes it moves): a runner that fell through
    # to a bare handshake would give a plain accept with nothing moved.
    scenario = _first_with(action)
    expect = scenario.expected(PROFILES["w24"].resolved())  # as the simulator runs it
    outcome = ScenarioRunner(sim_w24, CertSets(PROFILES["w24"])).run(scenario)
    assert outcome.matches(expect), (scenario.id, str(outcome), outcome.detail)
    if action == Action.EXCHANGE and expect.accept:
        assert (outcome.bytes_sent, outcome.bytes_received) == (
            scenario.send_size,
            scenario.recv_size,
        )
    if action == Action.LOAD_CA:
        assert outcome.detail == "loaded and read back"
    if action in (Action.SECOND_SSL, Action.SSND_OVER, Action.SSL_BAD_HANDLE):
        assert not expect.accept and expect.code not in (None, ResultCode.SSL_NEGOTIATION)


def test_catalogue_doc_is_current():
    doc = (ROOT / "docs" / "scenarios.md").read_text()
    assert render_table(list(PROFILES.values())) in doc, "regenerate docs/scenarios.md"


def test_w24_scenarios_command_prints_the_table():
    out = subprocess.run(
        [str(Path(sys.executable).with_name("w24")), "scenarios", "--profile", "w24"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "| `no-ca` |" in out and "reject 222 at ssl" in out


def test_record_plans_are_consistent():
    """A scenario with a record plan runs on tlslite and expects exactly the plan's data."""
    planned = [s for s in SCENARIOS if s.records is not None]
    assert planned
    for s in planned:
        assert s.backend == "tlslite", s.id
        assert s.recv_size == s.records.data_bytes, s.id


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_characterizations_allow_what_the_profile_predicts(profile):
    """The outcome a profile predicts is always one a correct firmware may show."""
    for s in SCENARIOS:
        predicted = s.expected(profile)  # None: the profile holds the field as unknown
        if s.allowed is not None and predicted is not None:
            assert any(e.covers(predicted) for e in s.allowed(profile)), s.id


def test_valid_chain_rule_rejects_what_a_profile_lacks_with_220():
    # Every shipped profile has both protocols and every W24 suite, so the catalogue alone
    # never reaches the rule's reject branch: profiles that lack one protocol or one suite do.
    w24 = PROFILES["w24"]
    no_ssl3 = w24.with_changes(protocols=tuple(v for v in w24.protocols if v != SSL3))
    dropped = w24.cipher_suites[0]
    no_suite = w24.with_changes(cipher_suites=w24.cipher_suites[1:])
    valid = [s for s in SCENARIOS if s.id.startswith("valid-")]
    assert valid
    rejected = set()
    for s in valid:
        (version,) = s.versions
        (suite,) = s.suites
        assert s.expected(w24) == ACCEPT, s.id
        for name, profile in (("no_ssl3", no_ssl3), ("no_suite", no_suite)):
            lacks = version not in profile.protocols or suite not in profile.cipher_suites
            assert s.expected(profile) == (reject(220) if lacks else ACCEPT), (s.id, name)
            if lacks:
                rejected.add(name)
    assert rejected == {"no_ssl3", "no_suite"}
    assert any(s.suites == (dropped,) and s.versions != (SSL3,) for s in valid)
