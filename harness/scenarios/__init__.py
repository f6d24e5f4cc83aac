"""The scenario catalogue: every case the suites run, as data (in the manner of x509-limbo).

One registry, `SCENARIOS`, gathered from one module per family (`handshake`, `ca`, `data`, ...);
adding a scenario is one entry in its family's module. `Scenario.expected(profile)` turns the
entry's rule into a plain Expect for one profile; `w24 scenarios` (and the HTML report) render
the whole table, and docs/scenarios.md is that table.
"""

from __future__ import annotations

from collections import Counter

from w24_harness.profiles import DeviceProfile

from . import ca, data, datastage, handshake, record
from .model import ACCEPT, AllowedRule, Expect, Rule, Scenario, accept_unless, always, reject

SCENARIOS: list[Scenario] = [
    *handshake.SCENARIOS,
    *ca.SCENARIOS,
    *data.SCENARIOS,
    *datastage.SCENARIOS,
    *record.SCENARIOS,
]
DATA_SIZES = data.DATA_SIZES

__all__ = [
    "ACCEPT",
    "DATA_SIZES",
    "SCENARIOS",
    "AllowedRule",
    "Expect",
    "Rule",
    "Scenario",
    "accept_unless",
    "always",
    "duplicate_ids",
    "get",
    "reject",
    "render_table",
]


def render_table(profiles: list[DeviceProfile]) -> str:
    """The catalogue as a Markdown table: one row per scenario, one column per profile."""
    head = "| scenario | suite | description | " + " | ".join(p.name for p in profiles) + " |"
    rule = "|---|---|---|" + "---|" * len(profiles)
    rows = [
        f"| `{s.id}` | {s.suite} | {s.description} | "
        + " | ".join(str(s.expected(p)) for p in profiles)
        + " |"
        for s in SCENARIOS
    ]
    return "\n".join([head, rule, *rows]) + "\n"


def get(scenario_id: str) -> Scenario:
    for s in SCENARIOS:
        if s.id == scenario_id:
            return s
    raise KeyError(f"no scenario {scenario_id!r}")


def duplicate_ids(scenarios: list[Scenario]) -> list[str]:
    """Ids that more than one scenario uses (a registry must have none)."""
    return sorted(i for i, n in Counter(s.id for s in scenarios).items() if n > 1)


if duplicate_ids(SCENARIOS):
    raise AssertionError(f"duplicate scenario ids: {duplicate_ids(SCENARIOS)}")
