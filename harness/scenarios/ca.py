"""CA-parameter scenarios: what AT+iCA= takes and refuses."""

from __future__ import annotations

from w24_harness.at.codes import ResultCode
from w24_harness.tlsfacts import ProtocolVersion
from w24_harness.vocab import Action, Family, Stage

from .model import ACCEPT, Scenario, always, reject

SSL3, TLS1 = ProtocolVersion.SSL3, ProtocolVersion.TLS1

SCENARIOS: list[Scenario] = [
    Scenario("ca-fits", "a CA that fits the profile loads and reads back", Family.CA, always(ACCEPT),
             action=Action.LOAD_CA),
    Scenario("ca-too-long", "a CA PEM over the profile's size limit", Family.CA,
             lambda p: reject(p.ca_too_long_code, Stage.CA), certs="ca_too_long", action=Action.LOAD_CA),
    Scenario("ca-garbage", "a CA value that is not a certificate", Family.CA,
             always(reject(ResultCode.CA_PARSE_ERROR, Stage.CA)), certs="ca_garbage", action=Action.LOAD_CA),
    Scenario("ca-4096", "a 4096-bit CA", Family.CA,
             lambda p: ACCEPT if 4096 in p.ca_key_bits else reject(ResultCode.CA_PARSE_ERROR, Stage.CA),
             certs="ca_4096", action=Action.LOAD_CA),
]
