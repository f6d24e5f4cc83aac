"""The certificate-identity family's catalogue data is consistent: every row says what decides
it, characterizations name a real profile field and allow what the profile predicts, and the
fault dependency data names real scenarios the w24 profile rejects."""

from __future__ import annotations

from dataclasses import fields

import pytest

from w24_harness.profiles.table import PROFILES, DeviceProfile
from w24_harness.scenarios import SCENARIOS, get, identity, reject
from w24_harness.sim.faults import Faults
from w24_harness.vocab import Family, Kind

PROFILE_FIELDS = {f.name for f in fields(DeviceProfile)}
IDENTITY = [s for s in SCENARIOS if s.family == Family.IDENTITY]


def test_identity_family_is_registered_whole() -> None:
    assert [s.id for s in IDENTITY] == [s.id for s in identity.SCENARIOS]
    assert len(IDENTITY) >= 15


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
@pytest.mark.parametrize("scenario", IDENTITY, ids=[s.id for s in IDENTITY])
def test_characterizations_allow_their_prediction(scenario, profile) -> None:
    expected = scenario.expected(profile)
    if scenario.measures is not None:
        assert scenario.measures in PROFILE_FIELDS
        assert scenario.allowed is not None
        allowed = scenario.allowed(profile)
        if scenario.kind is Kind.CHARACTERIZATION:
            assert len(allowed) > 1, "a field the manuals leave open allows more than one outcome"
        # Unknown on w24 (the manuals are silent); ichip and modern predict an allowed outcome.
        assert (expected is None) == (profile.name == "w24")
        assert expected is None or expected in allowed
    if scenario.kind is Kind.CHARACTERIZATION:
        assert scenario.measures is not None
    else:
        assert scenario.kind is Kind.CONFORMANCE
        # A conformance row over an open field (the e=3 forgeries: is the CA itself taken?)
        # allows refusals only: whichever way the field goes, the forged leaf never passes.
        if scenario.allowed is not None:
            assert not any(e.accept for e in scenario.allowed(profile))


def test_fault_dependencies_name_known_faults_and_w24_rejections() -> None:
    assert set(identity.FAULT_DEPENDENCIES) <= set(Faults.names())
    w24 = PROFILES["w24"]
    for ids in identity.FAULT_DEPENDENCIES.values():
        for scenario_id in ids:
            assert get(scenario_id).expected(w24.resolved()) == reject(220)


def test_every_forgery_also_depends_on_the_signature_check() -> None:
    deps = identity.FAULT_DEPENDENCIES
    assert deps["lenient_pkcs1"] < deps["trust_by_name"]
