"""CA-parameter scenarios: what AT+iCA= takes and refuses, and what AT+iCA2? says."""

from __future__ import annotations

from w24_harness.at.codes import ResultCode
from w24_harness.pki.certset import CertSetName
from w24_harness.profiles.table import DeviceProfile
from w24_harness.scenarios.model import ACCEPT, Expect, Scenario, always, one_of, reject
from w24_harness.tlsfacts import ProtocolVersion
from w24_harness.vocab import Action, Basis, Family, Kind, Stage

SSL3, TLS1 = ProtocolVersion.SSL3, ProtocolVersion.TLS1
# The second CA parameter, which iChip 8.x has and the W24 lacks (spec §6, §10).
SECOND_SLOT = "CA2"


def _too_long_rule(p: DeviceProfile) -> Expect:
    return reject(p.ca_too_long_code, Stage.CA)  # type: ignore[arg-type]


def _absent_slot_rule(p: DeviceProfile) -> Expect:
    if SECOND_SLOT in p.ca_slots:
        return ACCEPT
    return reject(p.absent_ca_slot_code, Stage.CA)  # type: ignore[arg-type]


def _absent_slot_allowed(p: DeviceProfile) -> frozenset[Expect]:
    # Not documented: the command parser may call the unknown name an illegal command (053) or
    # a syntax error (051). A module that has the slot answers it.
    if SECOND_SLOT in p.ca_slots:
        return frozenset({ACCEPT})
    return frozenset(
        {reject(ResultCode.SYNTAX_ERROR, Stage.CA), reject(ResultCode.ILLEGAL_COMMAND, Stage.CA)}
    )


SCENARIOS: list[Scenario] = [
    Scenario(
        "ca-fits",
        "a CA that fits the profile loads and reads back",
        Family.CA,
        always(ACCEPT),
        action=Action.LOAD_CA,
    ),
    # §6: over 1300 characters is refused with "I/ERROR"; which code (if any) is not given:
    # a bare I/ERROR, or 116 as the later firmware reports every CA rejection (§12.3).
    Scenario(
        "ca-too-long",
        "a CA PEM over the profile's size limit",
        Family.CA,
        _too_long_rule,
        certs=CertSetName.CA_TOO_LONG,
        action=Action.LOAD_CA,
        kind=Kind.CHARACTERIZATION,
        measures="ca_too_long_code",
        allowed=one_of(Expect(False, None, Stage.CA), reject(ResultCode.CA_PARSE_ERROR, Stage.CA)),
    ),
    Scenario(
        "ca-garbage",
        "a CA value that is not a certificate",
        Family.CA,
        always(reject(ResultCode.CA_PARSE_ERROR, Stage.CA)),
        certs=CertSetName.CA_GARBAGE,
        action=Action.LOAD_CA,
        basis=Basis.ICHIP_FIRMWARE,
    ),
    # §12.2: the CA's key is RSA 1024 or 2048 bits.
    Scenario(
        "ca-4096",
        "a 4096-bit CA whose PEM is within the length limit (only its key size is wrong)",
        Family.CA,
        lambda p: ACCEPT if 4096 in p.ca_key_bits else reject(ResultCode.CA_PARSE_ERROR, Stage.CA),
        certs=CertSetName.CA_4096,
        action=Action.LOAD_CA,
        basis=Basis.ICHIP_FIRMWARE,
    ),
    Scenario(
        "ca-slot-absent",
        f"AT+i{SECOND_SLOT}? on a module without that CA parameter",
        Family.CA,
        _absent_slot_rule,
        action=Action.QUERY_CA_SLOT,
        basis=Basis.ICHIP_FIRMWARE,
        kind=Kind.CHARACTERIZATION,
        measures="absent_ca_slot_code",
        allowed=_absent_slot_allowed,
    ),
]
