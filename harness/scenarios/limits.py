"""Rows derived from the documents' limits (docs/constraints.md maps every documented constraint
to its rows): each limit exactly at, just inside and just outside, on every path a user has.

- The CA parameter (spec §6: at most 1300 characters on the W24; §12.2: an RSA key of 1024 or
  2048 bits, signed with MD2, MD5 or SHA-1): lengths at, one under and one over the profile's
  limit; the two documented key sizes and one under them; an MD5 signature.
- SRCV's <max> (spec §4.7: the reply's <sz> <= <max>, only what is buffered): <max> exactly
  the buffered amount, one under and one over it.
- SSND on an SSL socket (spec §4.6, §5.3: 0..2048 bytes; §2.5: host flow control above 256):
  one SSND exactly at the unflowed limit and one under it, and the empty and one-byte ends, each
  in one AT+iSSND whatever the driver's chunking. These reach the 256 boundary on the hardware
  default path (256-byte chunks, --w24-rtscts off) too; the 2048 boundary on that path is
  ssnd-over-2048 (refused from the header) and, with flow control, data-up-2048.
"""

from __future__ import annotations

from w24_harness.at.codes import ResultCode
from w24_harness.device.pacing import SsndLimit
from w24_harness.pki.certset import CertSetName
from w24_harness.profiles.table import DeviceProfile
from w24_harness.scenarios.ca import _too_long_rule
from w24_harness.scenarios.datastage import _data
from w24_harness.scenarios.model import ACCEPT, Expect, Rule, Scenario, always, one_of, reject
from w24_harness.servers.misbehaviour.records import Data, RecordPlan
from w24_harness.vocab import Action, Basis, Family, Kind, Stage

SRCV_HELD = 256  # bytes the server sends before the SRCV <max> rows read
CA_REFUSED = reject(ResultCode.CA_PARSE_ERROR, Stage.CA)


def _key_rule(bits: int) -> Rule:
    return lambda p: ACCEPT if bits in p.ca_key_bits else CA_REFUSED


def _hash_rule(name: str) -> Rule:
    return lambda p: ACCEPT if name in p.signature_hashes else CA_REFUSED


def _over_allowed(_p: DeviceProfile) -> frozenset[Expect]:
    # §6: refused with "I/ERROR"; a bare one, or 116 as the later firmware reports it (§12.3).
    return one_of(Expect(False, None, Stage.CA), CA_REFUSED)(_p)


SCENARIOS: list[Scenario] = [
    Scenario(
        "ca-length-at-limit",
        "a CA whose AT+iCA= text is exactly the profile's limit (1300 characters on the W24)",
        Family.CA,
        always(ACCEPT),
        certs=CertSetName.CA_AT_LIMIT,
        action=Action.LOAD_CA,
    ),
    Scenario(
        "ca-length-under-limit",
        "a CA whose AT+iCA= text is one character under the profile's limit",
        Family.CA,
        always(ACCEPT),
        certs=CertSetName.CA_UNDER_LIMIT,
        action=Action.LOAD_CA,
    ),
    Scenario(
        "ca-length-over-limit",
        "a CA whose AT+iCA= text is one character over the profile's limit",
        Family.CA,
        _too_long_rule,
        certs=CertSetName.CA_OVER_LIMIT,
        action=Action.LOAD_CA,
        kind=Kind.CHARACTERIZATION,
        measures="ca_too_long_code",
        allowed=_over_allowed,
    ),
    *(
        Scenario(
            f"ca-key-{bits}",
            f"a {bits}-bit RSA CA, well inside the length limit (spec §12.2: 1024 or 2048 bits)",
            Family.CA,
            _key_rule(bits),
            certs=CertSetName(f"ca_{bits}"),
            action=Action.LOAD_CA,
            basis=Basis.ICHIP_FIRMWARE,
        )
        for bits in (512, 1024, 2048)
    ),
    Scenario(
        "ca-md5-signed",
        "a 1024-bit CA signed with MD5 (spec §12.2: MD2, MD5 or SHA-1 signatures)",
        Family.CA,
        _hash_rule("md5"),
        certs=CertSetName.CA_MD5,
        action=Action.LOAD_CA,
        basis=Basis.ICHIP_FIRMWARE,
    ),
    *(
        Scenario(
            f"ssnd-one-{size}",
            f"one AT+iSSND of {size} bytes on an SSL socket, not split by the driver "
            "(spec §4.6: 0..2048; §2.5: no host flow control needed up to 256)",
            Family.DATA,
            always(ACCEPT),
            action=Action.SSND_ONE,
            send_size=size,
        )
        for size in (0, 1, SsndLimit.UNFLOWED - 1, SsndLimit.UNFLOWED)
    ),
    *(
        _data(
            f"data-srcv-max-{limit}-of-{SRCV_HELD}",
            f"{SRCV_HELD} bytes held, read with AT+iSRCV:<hn>,{limit} only ({label}; "
            "spec §4.7: <sz> <= <max>)",
            RecordPlan("srcv-max", (Data(SRCV_HELD),)),
            always(ACCEPT),
            Action.SRCV_MAX,
            srcv_max=limit,
        )
        for limit, label in (
            (SRCV_HELD - 1, "one under what is held"),
            (SRCV_HELD, "exactly what is held"),
            (SRCV_HELD + 1, "one over what is held"),
        )
    ),
]
