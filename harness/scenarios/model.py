"""The scenario model: what one catalogue entry is, and the small rule language it speaks.

A scenario names its server, its certificate set and its action; its expectation is a rule over
the device profile, so the profile table stays the one place that says what a firmware does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from w24_harness.at.codes import ResultCode
from w24_harness.pki.certset import CertSetName
from w24_harness.profiles.table import DeviceProfile
from w24_harness.servers.misbehaviour.language import Misbehaviour
from w24_harness.servers.misbehaviour.records import RecordPlan
from w24_harness.tlsfacts import ProtocolVersion
from w24_harness.vocab import (
    Action,
    Backend,
    Basis,
    ClientCheck,
    Family,
    Kind,
    ServerSaw,
    Stage,
    Watch,
)


@dataclass(frozen=True)
class Expect:
    accept: bool
    code: int | None = None  # the device's result code (a ResultCode) when rejected
    stage: Stage = Stage.SSL  # where the rejection shows
    # What the server must have seen the device send, where the host cannot tell (a scenario
    # with `watch`); None: anything.
    server: ServerSaw | None = None
    # A refusal with whatever error code: where no document fixes the code (a peer's close or
    # fatal alert: any error is a correct answer, silence is not).
    any_code: bool = False

    def covers(self, other: Expect) -> bool:
        """Whether this expectation allows `other` (itself, or any refusal at its stage)."""
        if self == other:
            return True
        return self.any_code and not other.accept and other.stage == self.stage

    def __str__(self) -> str:
        if self.accept:
            return "accept" if self.server is None else f"accept ({self.server})"
        if self.any_code:
            return f"reject any code at {self.stage}"
        # Same words as the runner's Outcome, so an expectation and an observation compare.
        return f"reject {'no code' if self.code is None else self.code} at {self.stage}"


ACCEPT = Expect(True)


def any_error(stage: Stage) -> Expect:
    """A refusal at `stage` with any error code (the manuals fix none)."""
    return Expect(False, None, stage, any_code=True)


def reject(code: int, stage: Stage = Stage.SSL) -> Expect:
    return Expect(False, code, stage)


@dataclass(frozen=True)
class Evidence:
    """What the server must have seen the client do (BoGo's expectedLocalError): the device
    reports nearly every handshake failure as 220, so the code alone cannot say where it
    stopped. Checked by w24_harness.judge.evidence.server_evidence."""

    # Did the client send ClientKeyExchange? False: it must have stopped before (it rejected
    # the server's first flight); True: it must have got that far (the case tests a later
    # check); None: either.
    key_exchange: bool | None = None
    # The device's own ClientHello: no compression but null, no suite outside the profile.
    hello_in_profile: bool = False

    def __str__(self) -> str:
        parts = []
        if self.key_exchange is not None:
            parts.append("CKE sent" if self.key_exchange else "no CKE")
        if self.hello_in_profile:
            parts.append("hello in profile")
        return ", ".join(parts)


Rule = Callable[[DeviceProfile], Expect]
# A characterization's outcomes that a correct firmware may show, for one profile.
AllowedRule = Callable[[DeviceProfile], frozenset[Expect]]


def always(expect: Expect) -> Rule:
    return lambda _p: expect


def one_of(*outcomes: Expect) -> AllowedRule:
    return lambda _p: frozenset(outcomes)


def accept_unless(
    flag: Callable[[DeviceProfile], bool | None], code: int = ResultCode.SSL_NEGOTIATION
) -> Rule:
    return lambda p: reject(code) if flag(p) else ACCEPT


@dataclass(frozen=True)
class Scenario:
    id: str
    description: str
    family: Family  # which suite file runs it
    rule: Rule
    certs: CertSetName = CertSetName.VALID  # certificate set, see w24_harness.pki.sets
    backend: Backend = Backend.OPENSSL
    versions: tuple[ProtocolVersion, ...] = (ProtocolVersion.TLS1,)
    suites: tuple[str, ...] | None = None
    misbehaviour: Misbehaviour | None = None
    action: Action = Action.HANDSHAKE
    client_auth: bool = False  # the server demands a client certificate
    send_size: int = 0  # device -> server bytes (exchange)
    recv_size: int = 0  # server -> device bytes (exchange, and misbehaving servers)
    slow: bool = False  # long: left out of the self-test fault runs (test_suites_catch_faults)
    # Mostly idle by design (the host pausing its polls, a timeout running out): the plugin
    # starts these right after the slow ones, so on `-n 2` all the waiting lands at the front of
    # one worker's share while the other works alone, instead of two waits overlapping (an idle
    # machine) or a wait's worker sharing the cores later. Unlike `slow`, no effect on selection.
    waits: bool = False
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
    # A failure here is a security hole (x509-limbo's "critical"): a deviations file may mark it
    # only `known-bug`, never `policy` or `not-applicable`.
    critical: bool = False
    # The server-side evidence this scenario asserts, and the client check it exists to catch
    # (a self-test fault in w24_harness.sim.faults switches that check off).
    evidence: Evidence | None = None
    checks: ClientCheck | None = None
    # What the server watches the device do that the host cannot see (its close_notify, its
    # answer to a HelloRequest): the outcome then carries a ServerSaw that Expect.server names.
    watch: Watch | None = None

    def expected(self, profile: DeviceProfile) -> Expect | None:
        """The outcome the profile predicts; None when the scenario measures a field the
        profile holds as UNKNOWN (then only `allowed(profile)` constrains the outcome)."""
        if self.measures is not None and not profile.knows(self.measures):
            return None
        return self.rule(profile)

    def allowed_outcomes(self, profile: DeviceProfile) -> frozenset[Expect]:
        """What a correct firmware may show: the characterization's set, or for conformance and
        robustness rows the one predicted outcome."""
        if self.allowed is not None:
            return self.allowed(profile)
        expect = self.expected(profile)
        return frozenset() if expect is None else frozenset({expect})
