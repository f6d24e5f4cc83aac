"""The report's family of each planned test: a test outside the catalogue is planned under
NO_FAMILY, so rendering the report never imports the catalogue for it (that import cost an
xdist controller half a second at the end of every run); only a plan from an older
results.json, which left the family empty, is looked up in the catalogue."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from types import SimpleNamespace

from w24_harness.fixtures.recording import planned_scenario
from w24_harness.report.verdict import NO_FAMILY


def test_a_recording_test_outside_the_catalogue_is_planned_under_no_family() -> None:
    item = SimpleNamespace(nodeid="suites/t.py::test_x[nginx-own]", fixturenames=["w24_record"])
    item.callspec = SimpleNamespace(params={"kind": "nginx"}, id="nginx-own")
    planned = planned_scenario(item)  # type: ignore[arg-type]
    assert planned is not None
    assert (planned.id, planned.family) == ("nginx-own", NO_FAMILY)


_RENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from w24_harness.report.html import render
    from w24_harness.report.results import RunResults
    from w24_harness.report.verdict import NO_FAMILY, PlannedScenario, TestOutcome, TestStatus
    plans = [PlannedScenario("t.py::test[nginx-own]", "nginx-own", family=NO_FAMILY)]
    if sys.argv[1] == "old":
        plans.append(PlannedScenario("t.py::test[ca-fits]", "ca-fits"))  # no family: old file
    outcomes = [TestOutcome(p.nodeid, TestStatus.PASSED, finished=True) for p in plans]
    html = render(RunResults([], [], planned=plans, outcomes=outcomes), Path("."))
    print("catalogue imported:", "w24_harness.scenarios" in sys.modules)
    print(html)
    """
)


def _render(kind: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _RENDER, kind], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_rendering_plans_that_name_their_family_does_not_import_the_catalogue() -> None:
    out = _render("new")
    assert out.startswith("catalogue imported: False")
    assert f">{NO_FAMILY}<" in out


def test_a_plan_without_a_family_from_an_older_file_takes_the_catalogues() -> None:
    out = _render("old")
    assert out.startswith("catalogue imported: True")
    assert ">ca<" in out and f">{NO_FAMILY}<" in out
