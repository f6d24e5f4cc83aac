"""The scenario model: what one catalogue entry is, and the small rule language it speaks.

A scenario names its server, its certificate set and its action; its expectation is a rule over
the device profile, so the profile table stays the one place that says what a firmware does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from w24_harness.at.codes import ResultCode
from w24_harness.profiles import DeviceProfile
from w24_harness.servers.records import RecordPlan
from w24_harness.tlsfacts import ProtocolVersion
from w24_harness.vocab import Action, Backend, Basis, Family, Kind, Misbehaviour, Stage


@dataclass(frozen=True)
class Expect:
    accept: bool
    code: int | None = None  # the device's result code (a ResultCode) when rejected
    stage: Stage = Stage.SSL  # where the rejection shows

    def __str__(self) -> str:
        return "accept" if self.accept else f"reject {self.code} at {self.stage}"


ACCEPT = Expect(True)


def reject(code: int, stage: Stage = Stage.SSL) -> Expect:
    return Expect(False, code, stage)


Rule = Callable[[DeviceProfile], Expect]
# A characterization's outcomes that a correct firmware may show, for one profile.
AllowedRule = Callable[[DeviceProfile], frozenset[Expect]]


def always(expect: Expect) -> Rule:
    return lambda _p: expect


def accept_unless(
    flag: Callable[[DeviceProfile], bool], code: int = ResultCode.SSL_NEGOTIATION
) -> Rule:
    return lambda p: reject(code) if flag(p) else ACCEPT


@dataclass(frozen=True)
class Scenario:
    id: str
    description: str
    suite: Family  # which suite file runs it
    rule: Rule
    certs: str = "valid"  # certificate set, see w24_harness.pki.sets
    backend: Backend = Backend.OPENSSL
    versions: tuple[ProtocolVersion, ...] = (ProtocolVersion.TLS1,)
    suites: tuple[str, ...] | None = None
    misbehaviour: Misbehaviour | None = None
    action: Action = Action.HANDSHAKE
    client_auth: bool = False  # the server demands a client certificate
    send_size: int = 0  # device -> server bytes (exchange)
    recv_size: int = 0  # server -> device bytes (exchange, and misbehaving servers)
    slow: bool = False
    # What a tlslite server does at the record layer after the handshake (replaces recv_size's
    # plain records; recv_size is then the plan's data bytes).
    records: RecordPlan | None = None
    srcv_max: int = 0  # Action.SRCV_MAX: the <max> of every AT+iSRCV
    # Why the expectation holds, and what the scenario can conclude. A characterization names
    # the profile field it measures and the outcomes a correct firmware may show; `rule` then
    # gives the outcome the profile's current value predicts.
    basis: Basis = Basis.W24_MANUAL
    kind: Kind = Kind.CONFORMANCE
    measures: str | None = None
    allowed: AllowedRule | None = None

    def expected(self, profile: DeviceProfile) -> Expect:
        return self.rule(profile)
