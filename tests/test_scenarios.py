"""The scenario catalogue is consistent: ids unique, every certificate set and action exists,
every rule gives an expectation for every profile, and docs/scenarios.md is current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from w24_harness.at.codes import ResultCode
from w24_harness.pki.sets import CertSets
from w24_harness.profiles import PROFILES
from w24_harness.scenarios import SCENARIOS, Expect, render_table
from w24_harness.vocab import Action, Stage

ROOT = Path(__file__).resolve().parents[1]


def test_ids_are_unique():
    ids = [s.id for s in SCENARIOS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_every_scenario_has_a_well_formed_expectation(profile):
    for s in SCENARIOS:
        expect = s.expected(profile)
        assert isinstance(expect, Expect), s.id
        assert expect.accept or expect.code in set(ResultCode), s.id
        assert isinstance(expect.stage, Stage), s.id
        assert isinstance(s.action, Action), s.id


def test_every_certificate_set_exists():
    sets = CertSets(PROFILES["w24"])
    for name in {s.certs for s in SCENARIOS}:
        assert sets.get(name).name == name


def test_catalogue_doc_is_current():
    doc = (ROOT / "docs" / "scenarios.md").read_text()
    assert render_table(list(PROFILES.values())) in doc, "regenerate docs/scenarios.md"


def test_w24_scenarios_command_prints_the_table():
    out = subprocess.run(
        [str(Path(sys.executable).with_name("w24")), "scenarios", "--profile", "w24"],
        capture_output=True, text=True, timeout=60, check=True,
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
        if s.allowed is not None:
            assert s.expected(profile) in s.allowed(profile), s.id
