"""Security observations: a characterization that saw the firmware take the weaker choice.

Where the manuals leave a choice open, the suites record it (observed) instead of failing it.
Some of those choices weaken what the certificate check is worth; a green run must not hide
them. Each entry names the scenario, the outcome that is the weaker choice, and the sentence the
verdict and the report show. On a profile that has not characterized the field (it holds it as
unknown), such an observation makes the run amber.
"""

from __future__ import annotations

from dataclasses import dataclass

from w24_harness.scenarios.model import ACCEPT, Expect


@dataclass(frozen=True)
class WeakerChoice:
    scenario: str
    outcome: Expect
    says: str


WEAKER_CHOICES: tuple[WeakerChoice, ...] = (
    WeakerChoice("expired-leaf", ACCEPT, "accepts an expired server certificate"),
    WeakerChoice("not-yet-valid-leaf", ACCEPT, "accepts a server certificate not yet valid"),
    WeakerChoice("md5-leaf", ACCEPT, "accepts an MD5-signed server certificate"),
    WeakerChoice("server-key-512", ACCEPT, "accepts a 512-bit RSA server key"),
    WeakerChoice("wrong-hostname", ACCEPT, "accepts a server certificate for another host name"),
    WeakerChoice(
        "intermediate-sent",
        ACCEPT,
        "builds a chain through an intermediate the server sends (the CA parameter alone no "
        "longer pins the server)",
    ),
)
_BY_SCENARIO = {w.scenario: w for w in WEAKER_CHOICES}


def weaker_choice(scenario_id: str) -> WeakerChoice | None:
    return _BY_SCENARIO.get(scenario_id)
