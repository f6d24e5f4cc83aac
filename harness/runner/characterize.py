"""`w24 characterize`: run the characterization scenarios against a device and write what it did
as a profile file, with provenance (issue 9 item 5).

Each undocumented field is decided by the scenarios that measure it (`Scenario.measures`); a
field whose scenarios disagree, or showed an outcome that does not tell the value (a 226 in
`intermediate-sent` says nothing about chain building), stays unknown, and the provenance says
why. The written file then holds that firmware build to what it did: run the suites with
`--w24-profile-file`, and a later build that behaves differently shows drift, which fails
against a characterized profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from w24_harness.at.codes import ResultCode
from w24_harness.device.w24 import W24
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import UNKNOWN, DeviceProfile
from w24_harness.runner.scenario import Outcome, ScenarioRunner
from w24_harness.scenarios import ACCEPT, SCENARIOS, Expect, Scenario, any_error, reject
from w24_harness.vocab import Kind, Renegotiation, ServerSaw, Stage

# The hash the suites' valid chains are signed with: accepting them shows SHA-1 leaves work.
_BASE_LEAF_HASH = "sha1"
_HASH_ORDER = ("md2", "md5", "sha1", "sha224", "sha256", "sha384", "sha512")


@dataclass
class Observations:
    """What each characterization scenario showed, by scenario id."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def accepted(self, scenario_id: str) -> bool | None:
        """True/False for an accept / a handshake failure (220); None for anything else."""
        outcome = self.outcomes.get(scenario_id)
        if outcome is None or not outcome.intact:
            return None
        if outcome.accepted:
            return True
        if outcome.code == ResultCode.SSL_NEGOTIATION and outcome.stage == Stage.SSL:
            return False
        return None


Decider = Callable[[Observations], Any]


def _flag(*ids: str, accept_means: bool) -> Decider:
    """A switch that turns an accept into a refusal: every scenario must agree."""

    def decide(obs: Observations) -> Any:
        seen = {obs.accepted(i) for i in ids}
        if len(seen) != 1 or None in seen:
            return UNKNOWN
        return accept_means if seen.pop() else not accept_means

    return decide


def _leaf_hashes(obs: Observations) -> Any:
    md5, sha256 = obs.accepted("md5-leaf"), obs.accepted("sha256-leaf")
    if md5 is None or sha256 is None:
        return UNKNOWN
    found = {_BASE_LEAF_HASH} | ({"md5"} if md5 else set()) | ({"sha256"} if sha256 else set())
    return tuple(h for h in _HASH_ORDER if h in found)


def _key_bits(obs: Observations) -> Any:
    # The valid chains carry 2048-bit keys: 2048 is inside whatever range the device has.
    k512, k1024, k4096 = (obs.accepted(f"server-key-{b}") for b in (512, 1024, 4096))
    if None in (k512, k1024, k4096) or (k512 and not k1024):
        return UNKNOWN
    low = 512 if k512 else 1024 if k1024 else 2048
    return (low, 4096 if k4096 else 2048)


def _record_limit(obs: Observations) -> Any:
    outcome = obs.outcomes.get("cert-record-over-2k")
    if outcome is None or not outcome.intact:
        return UNKNOWN
    if outcome.accepted:
        return False
    # 226 "maximum SSL packet size exceeded" during the handshake: the limit covers it. A 220
    # does not tell why.
    return True if outcome.code == ResultCode.SSL_RECORD_TOO_BIG else UNKNOWN


def _refusal_code(scenario_id: str) -> Decider:
    def decide(obs: Observations) -> Any:
        outcome = obs.outcomes.get(scenario_id)
        if outcome is None or outcome.accepted or not outcome.intact or outcome.code is None:
            return UNKNOWN
        return outcome.code

    return decide


def _by_outcome(*ids: str, values: dict[Expect, Any]) -> Decider:
    """A field each of whose values shows as one outcome: every scenario must show the same
    outcome, and it must be one of `values` (anything else does not tell the value)."""

    def decide(obs: Observations) -> Any:
        seen: set[Any] = set()
        for i in ids:
            outcome = obs.outcomes.get(i)
            found = [v for e, v in values.items() if outcome is not None and outcome.matches(e)]
            if len(found) != 1:
                return UNKNOWN
            seen.add(found[0])
        return seen.pop() if len(seen) == 1 else UNKNOWN

    return decide


def _close_code(*ids: str) -> Decider:
    """unclean_close_code: the error code SRCV reported once all the data were read (the row
    fails, and tells nothing, when data were lost)."""

    def decide(obs: Observations) -> Any:
        codes: set[int | None] = set()
        for i in ids:
            outcome = obs.outcomes.get(i)
            if outcome is None or not outcome.intact:
                return UNKNOWN
            if not outcome.accepted and outcome.stage == Stage.DATA and outcome.code is not None:
                codes.add(outcome.code)
            else:
                return UNKNOWN
        return codes.pop() if len(codes) == 1 else UNKNOWN

    return decide


_CA_REFUSED = reject(ResultCode.CA_PARSE_ERROR, Stage.CA)
_TOO_BIG = reject(ResultCode.SSL_RECORD_TOO_BIG, Stage.DATA)
_ENDED = any_error(Stage.DATA)
_DECODE = reject(ResultCode.SSL_DECODE_ERROR, Stage.DATA)


def _measuring(name: str) -> tuple[str, ...]:
    return tuple(s.id for s in SCENARIOS if s.measures == name)


_LIMIT_EXACT = _measuring("record_limit_counts_wire")  # one per cipher suite
_UNCLEAN = _measuring("unclean_close_code")  # FIN and RST

# field -> (the scenarios that decide it, how)
DECIDERS: dict[str, tuple[tuple[str, ...], Decider]] = {
    "check_validity_dates": (
        ("expired-leaf", "not-yet-valid-leaf"),
        _flag("expired-leaf", "not-yet-valid-leaf", accept_means=False),
    ),
    "check_hostname": (("wrong-hostname",), _flag("wrong-hostname", accept_means=False)),
    "chain_building": (("intermediate-sent",), _flag("intermediate-sent", accept_means=True)),
    "record_limit_in_handshake": (("cert-record-over-2k",), _record_limit),
    "leaf_signature_hashes": (("md5-leaf", "sha256-leaf"), _leaf_hashes),
    "server_key_bits": (("server-key-512", "server-key-1024", "server-key-4096"), _key_bits),
    "ca_too_long_code": (("ca-too-long",), _refusal_code("ca-too-long")),
    "absent_ca_slot_code": (("ca-slot-absent",), _refusal_code("ca-slot-absent")),
    # AT+iCA= takes the e=3 CA (and the correctly signed leaf passes), or refuses it with 116.
    "ca_small_exponent": (
        ("pkcs1-e3-ca-valid-leaf",),
        _by_outcome("pkcs1-e3-ca-valid-leaf", values={ACCEPT: True, _CA_REFUSED: False}),
    ),
    # 116 at AT+iCA=: the flag is required; an accept: it is not. A 220 (loaded, then refused
    # as an issuer) is a behaviour the field cannot hold, so it stays unknown.
    "ca_requires_ca_flag": (
        ("issuer-not-ca",),
        _by_outcome("issuer-not-ca", values={_CA_REFUSED: True, ACCEPT: False}),
    ),
    "check_issuer_key_usage": (
        ("issuer-no-keycertsign",),
        _flag("issuer-no-keycertsign", accept_means=False),
    ),
    "reject_unknown_critical": (
        ("leaf-unknown-critical-extension",),
        _flag("leaf-unknown-critical-extension", accept_means=False),
    ),
    # A 2048-byte record: accepted under a plaintext limit, 226 when the limit counts the
    # record on the wire; every suite must agree.
    "record_limit_counts_wire": (
        _LIMIT_EXACT,
        _by_outcome(*_LIMIT_EXACT, values={ACCEPT: False, _TOO_BIG: True}),
    ),
    "unclean_close_code": (_UNCLEAN, _close_code(*_UNCLEAN)),
    "ignore_warning_alerts": (
        ("data-warning-alerts",),
        _by_outcome("data-warning-alerts", values={ACCEPT: True, _ENDED: False}),
    ),
    # What the server saw after AT+iSCLS: close_notify, then the FIN; or the FIN alone.
    "close_notify_on_scls": (
        ("data-scls-close-notify",),
        _by_outcome(
            "data-scls-close-notify",
            values={
                Expect(True, server=ServerSaw.CLOSE_NOTIFY): True,
                Expect(True, server=ServerSaw.NO_CLOSE_NOTIFY): False,
            },
        ),
    ),
    # The answer the server saw to its HelloRequest, or a 224. A 220, or a renegotiation
    # attempt (a ClientHello), has no profile value: it stays unknown.
    "renegotiation": (
        ("data-hello-request",),
        _by_outcome(
            "data-hello-request",
            values={
                Expect(True, server=ServerSaw.NO_ANSWER): Renegotiation.IGNORE,
                Expect(True, server=ServerSaw.NO_RENEGOTIATION): Renegotiation.REFUSE,
                _DECODE: Renegotiation.FAIL,
            },
        ),
    ),
}


def characterization_scenarios(scenarios: list[Scenario] = SCENARIOS) -> list[Scenario]:
    """The rows that tell a profile field: every characterization, and the conformance rows
    over a field (an RFC decides what passes, the row still shows the firmware's value)."""
    return [s for s in scenarios if s.kind == Kind.CHARACTERIZATION or s.measures is not None]


@dataclass
class Characterized:
    profile: DeviceProfile
    provenance: dict[str, Any]


def decide_profile(
    base: DeviceProfile,
    obs: Observations,
    *,
    name: str,
    identity: tuple[str, str],
    port: str,
    measured: list[Scenario],
) -> Characterized:
    """The base profile with every field the observations decide, and the provenance."""
    changes: dict[str, Any] = {}
    fields_prov: dict[str, Any] = {}
    for name_, (ids, decide) in DECIDERS.items():
        value = decide(obs)
        changes[name_] = value
        fields_prov[name_] = {
            "decided_by": list(ids),
            "observed": [f"{i}: {obs.outcomes[i]}" for i in ids if i in obs.outcomes],
            **({} if value is not UNKNOWN else {"note": "the outcomes do not tell the value"}),
        }
    part_number, firmware = identity
    profile = base.with_changes(
        name=name,
        description=f"characterized from {firmware or 'a device'} on {port}",
        part_number=part_number or base.part_number,
        firmware=firmware or base.firmware,
        **changes,
    )
    unmeasured = [f for f in base.unknown_fields() if f not in DECIDERS]
    provenance: dict[str, Any] = {
        "base_profile": base.name,
        "port": port,
        "rp0_part_number": part_number,
        "rp1_firmware": firmware,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "harness_version": _harness_version(),
        "scenarios": [s.id for s in measured],
        "fields": fields_prov,
    }
    if unmeasured:
        provenance["not_measured"] = unmeasured  # no scenario measures these yet
    return Characterized(profile, provenance)


def _harness_version() -> str:
    try:
        return version("w24-harness")
    except PackageNotFoundError:
        return "unknown"


def characterize(
    device: W24,
    base: DeviceProfile,
    *,
    name: str,
    port: str,
    host: str = "127.0.0.1",
    bind: str = "127.0.0.1",
    progress: Callable[[str], None] | None = None,
) -> Characterized:
    """Run every characterization scenario on `device` (expectations from `base`) and decide
    the profile. The device is left as found: the runner restores CA and sockets."""
    ident = device.identity()
    runner = ScenarioRunner(device, CertSets(base, host), host=host, bind=bind)
    obs = Observations()
    measured = characterization_scenarios()
    for scenario in measured:
        obs.outcomes[scenario.id] = outcome = runner.run(scenario)
        if progress:
            progress(f"{scenario.id}: {outcome}")
    return decide_profile(
        base,
        obs,
        name=name,
        identity=(ident.part_number, ident.firmware),
        port=port,
        measured=measured,
    )
