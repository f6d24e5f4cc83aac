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
    params = [pytest.param(s, id=s.id, marks=_marks(s)) for s in SCENARIOS if select(s, profile)]
    metafunc.parametrize("scenario", params)


def _marks(scenario) -> list[pytest.MarkDecorator]:
    marks = ((pytest.mark.slow, scenario.slow), (pytest.mark.waits, scenario.waits))
    return [mark for mark, on in marks if on]
