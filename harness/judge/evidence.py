"""What the evidence says beyond the device's result code: the server's view of the client and
the bytes the host was given. Pure functions: each returns the problems it finds (empty: none).

- `server_evidence`: BoGo's expectedLocalError. The device reports nearly every handshake
  failure as 220, so the code alone cannot say where it stopped; the server saw whether the
  client sent ClientKeyExchange, to which key, and what its ClientHello offered.
- `delivered_data`: the bytes SRCV returned before an error, against the row's record plan.
  Good data before a record that may end the session must arrive intact and in order, and
  nothing of or after a malformed record (RFC 2246 §6.2.3: a record that fails its MAC or
  padding check is not delivered; spec §4.13: a closed socket's buffered data stay readable).
"""

from __future__ import annotations

from w24_harness.profiles.table import DeviceProfile
from w24_harness.runner.scenario import Outcome
from w24_harness.scenarios import Scenario
from w24_harness.scenarios.model import Evidence
from w24_harness.servers import ConnectionReport, payload
from w24_harness.vocab import Stage

# Code points a ClientHello may carry in its suite list that are signals, not suites: RFC 5746
# §3.3 TLS_EMPTY_RENEGOTIATION_INFO_SCSV, RFC 7507 TLS_FALLBACK_SCSV. A client offering them
# offers no extra cipher suite.
SIGNALLING_SUITES = frozenset(
    {"TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "TLS_FALLBACK_SCSV", "0x00FF", "0x5600"}
)
# The payload seed of every catalogue row's server-to-device data (ScenarioRunner).
RECEIVE_SEED = 7


def server_evidence(
    evidence: Evidence | None, report: ConnectionReport | None, profile: DeviceProfile
) -> list[str]:
    """Where what the server saw contradicts the scenario's Evidence (empty: it agrees)."""
    if evidence is None:
        return []
    if report is None:
        return ["no connection reached the server, so nothing can show where the client stopped"]
    problems = []
    sent = report.sent_key_exchange
    if evidence.key_exchange is False and sent:
        problems.append(
            f"the client sent ClientKeyExchange ({report.key_exchange_bytes}-byte premaster) "
            "instead of stopping at the server's first flight"
        )
    if evidence.key_exchange is True and not sent:
        problems.append(
            "the client never sent ClientKeyExchange: it stopped before the check "
            "this scenario tests"
        )
    if sent and report.server_key_bytes and report.key_exchange_bytes != report.server_key_bytes:
        problems.append(
            f"the premaster is {report.key_exchange_bytes} bytes: encrypted to a "
            f"{8 * (report.key_exchange_bytes or 0)}-bit key, not the certificate's "
            f"{8 * report.server_key_bytes}-bit key"
        )
    if evidence.hello_in_profile:
        hello = report.client_hello
        if hello is None:
            problems.append("no parseable ClientHello reached the server")
        else:
            extra = [
                s
                for s in hello.suites
                if s not in profile.cipher_suites and s not in SIGNALLING_SUITES
            ]
            if extra:
                problems.append(f"the ClientHello offers suites outside the profile: {extra}")
            if hello.compression != [0]:
                problems.append(
                    f"the ClientHello offers compression methods {hello.compression}"
                    " (only null, 0, is allowed: CRIME)"
                )
    return problems


def hello_signals(report: ConnectionReport | None) -> list[str]:
    """What the ClientHello carries besides suites and compression (characterized, not judged):
    signalling values and extension numbers."""
    if report is None or report.client_hello is None:
        return []
    hello = report.client_hello
    found = [s for s in hello.suites if s in SIGNALLING_SUITES]
    found += [f"extension {e}" for e in hello.extensions]
    return found


def delivered_data(scenario: Scenario, outcome: Outcome) -> list[str]:
    """Whether the bytes the host was given before an error fit the row's record plan."""
    plan = scenario.records
    got = outcome.delivered
    if plan is None or got is None or outcome.accepted or outcome.code is None:
        return []
    if outcome.stage != Stage.DATA:
        return []
    sent = payload(plan.data_bytes, seed=RECEIVE_SEED)
    if got != sent[: len(got)]:
        first = next((i for i, (a, b) in enumerate(zip(sent, got, strict=False)) if a != b), 0)
        return [
            f"the {len(got)} bytes SRCV returned before {outcome.code} are not the server's "
            f"data (they differ at byte {first}, or run past it)"
        ]
    points = plan.stopping_points()
    if len(got) not in points:
        where = ", ".join(str(n) for n in sorted(points))
        return [
            f"SRCV returned {len(got)} bytes before {outcome.code}; a client ending the session "
            f"there delivers exactly the good data before the record that ends it ({where} "
            "bytes): data were lost, or bytes of a record that must be refused were delivered"
        ]
    return []
