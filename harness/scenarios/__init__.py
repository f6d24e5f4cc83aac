"""The scenario catalogue: every case the suites run, as data (in the manner of x509-limbo).

One registry, `SCENARIOS`, gathered from one module per family (`handshake`, `ca`, `data`, ...);
adding a scenario is one entry in its family's module. `Scenario.expected(profile)` turns the
entry's rule into a plain Expect for one profile; `w24 scenarios` (and the HTML report) render
the whole table, and docs/scenarios.md is that table.
"""

from __future__ import annotations

from collections import Counter

from w24_harness.profiles import DeviceProfile
from w24_harness.vocab import Kind

from . import ca, data, datastage, handshake, identity, limits, malicious, record
from .model import (
    ACCEPT,
    AllowedRule,
    Evidence,
    Expect,
    Rule,
    Scenario,
    accept_unless,
    always,
    one_of,
    reject,
)

SCENARIOS: list[Scenario] = [
    *handshake.SCENARIOS,
    *malicious.SCENARIOS,
    *ca.SCENARIOS,
    *data.SCENARIOS,
    *identity.SCENARIOS,
    *datastage.SCENARIOS,
    *record.SCENARIOS,
    *limits.SCENARIOS,
]
DATA_SIZES = data.DATA_SIZES

__all__ = [
    "ACCEPT",
    "DATA_SIZES",
    "SCENARIOS",
    "AllowedRule",
    "Evidence",
    "Expect",
    "Rule",
    "Scenario",
    "accept_unless",
    "always",
    "check_unique",
    "describe_expectation",
    "get",
    "one_of",
    "reject",
    "render_table",
]


def describe_expectation(scenario: Scenario, profile: DeviceProfile) -> str:
    """What the scenario expects on a profile: the predicted outcome, or for a field the profile
    holds as unknown, the outcomes a correct firmware may show ("observe: a | b"; for a
    conformance row, which passes on any of them, "one of: a | b")."""
    expect = scenario.expected(profile)
    if expect is not None:
        return str(expect)
    lead = "observe" if scenario.kind == Kind.CHARACTERIZATION else "one of"
    outcomes = " | ".join(sorted(str(e) for e in scenario.allowed_outcomes(profile)))
    return f"{lead}: {outcomes}"


def render_table(profiles: list[DeviceProfile]) -> str:
    """The catalogue as a Markdown table: one row per scenario, one column per profile. `kind`
    names the profile field a characterization measures."""
    head = (
        "| scenario | suite | basis | kind | description | "
        + " | ".join(p.name for p in profiles)
        + " |"
    )
    rule = "|---|---|---|---|---|" + "---|" * len(profiles)
    rows = [
        f"| `{s.id}` | {s.suite} | {s.basis} | {s.kind}"
        + (f" of `{s.measures}`" if s.measures else "")
        + f" | {s.description} | "
        + " | ".join(describe_expectation(s, p).replace("|", "\\|") for p in profiles)
        + " |"
        for s in SCENARIOS
    ]
    return "\n".join([head, rule, *rows]) + "\n"


def get(scenario_id: str) -> Scenario:
    for s in SCENARIOS:
        if s.id == scenario_id:
            return s
    raise KeyError(f"no scenario {scenario_id!r}")


def check_unique(scenarios: list[Scenario]) -> None:
    """Raise ValueError naming every scenario id used more than once."""
    dupes = sorted(i for i, n in Counter(s.id for s in scenarios).items() if n > 1)
    if dupes:
        raise ValueError(f"duplicate scenario ids: {dupes}")


check_unique(SCENARIOS)
