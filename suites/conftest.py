"""Parametrizes the suites from the scenario catalogue, for the profile under test."""

from __future__ import annotations

import pytest

from w24_harness.fixtures.plugin import OPTIONS_KEY, start_simulator_early


def pytest_configure(config: pytest.Config) -> None:
    start_simulator_early(config)  # it boots while this process collects the suites
    config.addinivalue_line(
        "markers",
        "scenarios(select): parametrize `scenario` with catalogue entries that "
        "select(scenario, profile) picks",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("scenarios")
    if marker is None:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} uses `scenario` without @pytest.mark.scenarios(select)"
        )
    from w24_harness.scenarios import SCENARIOS  # collection only: never on an xdist controller

    select = marker.args[0]
    profile = metafunc.config.stash[OPTIONS_KEY].profile
    params = [
        pytest.param(s, id=s.id, marks=_marks(s, profile)) for s in SCENARIOS if select(s, profile)
    ]
    metafunc.parametrize("scenario", params)


def _marks(scenario, profile) -> list[pytest.MarkDecorator]:
    marks = ((pytest.mark.slow, scenario.slow), (pytest.mark.waits, scenario.waits))
    chosen = [mark for mark, on in marks if on]
    lacking = _lacking(scenario, profile)
    if lacking:
        chosen.append(pytest.mark.skip(reason=f"not supported: profile {profile.name} {lacking}"))
    return chosen


def _lacking(scenario, profile) -> str:
    """Why the row cannot run its case on this profile, or "": it needs a version or suite the
    profile does not have (a simulator engine built without SSL 3.0, RC4 or 3DES), and what it
    tests lies past the handshake, so the refusal (220) would not be the case it names. A row
    whose expectation is that refusal (a server choosing an unsupported suite) still runs."""
    versions = set(scenario.versions) & set(profile.protocols)
    suites = scenario.suites is None or set(scenario.suites) & set(profile.cipher_suites)
    if versions and suites:
        return ""
    expect = scenario.expected(profile)
    refusal = expect is not None and not expect.accept and expect.code == 220
    past_handshake = scenario.evidence is not None and scenario.evidence.key_exchange is True
    if refusal and scenario.allowed is None and not past_handshake:
        return ""
    needs = [str(v) for v in scenario.versions] if not versions else list(scenario.suites or ())
    return f"has none of {', '.join(needs)} (needed by this row)"
