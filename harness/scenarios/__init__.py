"""The scenario catalogue: every case the suites run, as data (in the manner of x509-limbo).

One registry, `SCENARIOS`, gathered from one module per family (`handshake`, `ca`, `data`, ...);
adding a scenario is one entry in its family's module. `Scenario.expected(profile)` turns the
entry's rule into a plain Expect for one profile; `w24 scenarios` (and the HTML report) render
the whole table, and docs/scenarios.md is that table.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from w24_harness.profiles.table import DeviceProfile
from w24_harness.scenarios import (
    ca,
    data,
    datastage,
    handshake,
    identity,
    limits,
    malicious,
    record,
)
from w24_harness.scenarios.model import (
    ACCEPT,
    AllowedRule,
    Evidence,
    Expect,
    Rule,
    Scenario,
    accept_unless,
    always,
    any_error,
    one_of,
    reject,
)
from w24_harness.vocab import Family, Kind


def security_critical(s: Scenario) -> bool:
    """A row whose failure is a security hole (x509-limbo's "critical"): whose certificate the
    device trusts (identity), a handshake it must refuse (handshake state: a misbehaving server's
    flight), and the record layer's integrity checks. A deviations file may mark such a row only
    `known-bug`, naming the outcome, and the verdict lists it."""
    if s.critical:
        return True
    if s.kind != Kind.CONFORMANCE:
        return False
    if s.family in (Family.IDENTITY, Family.RECORD):
        return True
    return s.family == Family.HANDSHAKE and s.misbehaviour is not None


SCENARIOS: list[Scenario] = [
    replace(s, critical=security_critical(s))
    for s in (
        *handshake.SCENARIOS,
        *malicious.SCENARIOS,
        *ca.SCENARIOS,
        *data.SCENARIOS,
        *identity.SCENARIOS,
        *datastage.SCENARIOS,
        *record.SCENARIOS,
        *limits.SCENARIOS,
    )
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
    "any_error",
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
    conformance_set = scenario.allowed is not None and scenario.kind != Kind.CHARACTERIZATION
    if expect is not None and not conformance_set:
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
        f"| `{s.id}` | {s.family} | {s.basis} | {s.kind}"
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
