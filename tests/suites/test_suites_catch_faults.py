"""The suites catch a broken firmware: each simulator self-test fault makes exactly the scenarios
that depend on the broken behaviour fail, and nothing else.

Each case runs the real suites in a child pytest (pytester) against a simulator started with
`--fault`, then reads the run's results.json to see which scenarios failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from child_runs import run_suites

from w24_harness.at.codes import ResultCode
from w24_harness.at.commands import ca_text_length
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import get_profile
from w24_harness.runner.throughput import RECEIVE, SEND, cases_for
from w24_harness.scenarios import SCENARIOS, Expect, Scenario, get, identity, reject
from w24_harness.servers.misbehaviour.records import (
    WELL_FORMED,
    Alert,
    AlertLevel,
    Data,
    Empty,
    Ending,
    HelloRequest,
    Step,
)
from w24_harness.sim.faults import CHECK_FAULTS
from w24_harness.tlsfacts import RECORD_PLAINTEXT_FITS_ANY_LIMIT, ProtocolVersion
from w24_harness.vocab import Action, Stage

W24 = get_profile("w24")
W24_CERTS = CertSets(W24)  # builds a set only when asked, and keeps it

# slow: each test is a child pytest run of the suites; slow tests start first (the plugin
# sorts them ahead), so the longest do not end up as the run's tail on one worker.
pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def _ids(predicate) -> set[str]:
    return {s.id for s in SCENARIOS if not s.slow and predicate(s)}


def _asserted(s) -> Expect | None:
    """What the w24 profile holds the scenario to. A characterization of a field w24 leaves
    unknown asserts nothing a fault could break (its outcomes stay inside the allowed set);
    tests/runner/test_characterize_e2e.py runs the faults against a characterized profile."""
    return s.expected(W24)


def _simulated(s) -> Expect:
    """What the simulator does (its resolved profile). Where w24 leaves the field unknown, a
    fault's outcome (wrong bytes, a crash: a reject with no code) is still outside every allowed
    set, so the scenario fails whenever the simulator's own outcome depends on the broken part."""
    return s.expected(W24.resolved())


def _trusted_by_the_fault(s) -> bool:
    """The simulator refuses the server certificate with 220, and w24 allows no accept (it
    predicts the 220, or allows only refusals): a fault that trusts it fails the scenario."""
    predicted = _asserted(s)
    allowed = {predicted} if predicted is not None else s.allowed_outcomes(W24)
    return _simulated(s) == reject(220) and bool(allowed) and not any(e.accept for e in allowed)


def _expects_code(*wanted: int):
    """Rows held to one of these codes (not rows that allow any error code there)."""

    def held(s: Scenario) -> bool:
        e = _asserted(s)
        loose = any(a.any_code for a in s.allowed_outcomes(W24))
        return e is not None and not e.accept and e.code in wanted and not loose

    return held


def _fails_its_handshake(s) -> bool:
    # The codes a failed handshake itself gives (222, 224, 225 are refused before it starts).
    # What the simulator does (its resolved profile): the sanity check runs after any refusal,
    # characterization or not.
    e = s.expected(W24.resolved())
    return (
        not e.accept
        and e.stage == Stage.SSL
        and e.code in (ResultCode.SSL_NEGOTIATION, ResultCode.SSL_RECORD_TOO_BIG)
    )


def _allows_an_end_at_data(s: Scenario) -> bool:
    """The row lets the session end with any error once the data before it arrived (a run of
    33 empty records, an unknown record type): a firmware ending it there is not wrong."""
    return any(e.any_code and e.stage == Stage.DATA for e in s.allowed_outcomes(W24))


def _good_data_then_record_error(s: Scenario) -> bool:
    """The simulator ends the session at a record of the plan (a bad MAC or padding, an alert,
    an oversize or unknown record) after good data that the host must still be given."""
    plan, e = s.records, _simulated(s)
    if plan is None or e.accept or e.stage != Stage.DATA or s.action == Action.SRCV_MAX:
        return False
    plain = [
        isinstance(st, Data)
        and st.shape == WELL_FORMED
        and st.record_size <= RECORD_PLAINTEXT_FITS_ANY_LIMIT
        and not (st.empty_before or st.split_1n1)
        for st in plan.steps
    ]
    return not all(plain) and min(plan.stopping_points()) > 0


def _truncated_after_data(s: Scenario) -> bool:
    """A close without close_notify (FIN, RST) after data still unread."""
    plan = s.records
    return (
        plan is not None
        and plan.ending in (Ending.FIN, Ending.RESET)
        and s.recv_size > 0
        and not plan.has(lambda st: isinstance(st, Alert) and st.level == AlertLevel.FATAL)
    )


# Actions whose received bytes the runner compares with the server's (all of them, before it
# looks at how the session ended, for RECEIVE_TO_CLOSE).
_DATA_CHECKED = (Action.EXCHANGE, Action.RECEIVE_PAUSED, Action.SRCV_MAX, Action.FULL_DUPLEX)


def _receives_data(s: Scenario) -> bool:
    if s.recv_size <= 0:
        return False
    if s.action == Action.RECEIVE_TO_CLOSE:
        return True
    return _simulated(s).accept and s.action in _DATA_CHECKED


def _plan_has(predicate):
    """Scenarios whose server record plan has a step for which predicate(step) holds."""
    return lambda s: s.records is not None and s.records.has(predicate)


def _bad_tls1_padding(step: Step) -> bool:
    return isinstance(step, Data) and step.shape.bad_padding_byte


def _empty_record(step: Step) -> bool:
    return isinstance(step, Empty) or (isinstance(step, Data) and step.empty_before > 0)


def _one_over_the_limit(step: Step) -> bool:
    return isinstance(step, Data) and step.record_size == W24.max_record_plaintext + 1


def _closes_after_data(s: Scenario) -> bool:
    # The server closes (close_notify, FIN, RST) with data still unread; a fatal alert first
    # makes it a failure (224), not a close. The device learns of the close with data still
    # buffered only if data and close fit its buffer together: with a full buffer it reads no
    # further (TCP flow control) until the host has taken the data.
    plan = s.records
    return (
        plan is not None
        and plan.ending != Ending.KEEP_OPEN
        and s.recv_size < W24.rx_buffer_bytes
        and not plan.has(lambda st: isinstance(st, Alert) and st.level == AlertLevel.FATAL)
    )


def _data_after_hello_request(s: Scenario) -> bool:
    """The server's record plan sends data after a HelloRequest."""
    steps = s.records.steps if s.records is not None else ()
    hello = next((i for i, step in enumerate(steps) if isinstance(step, HelloRequest)), None)
    return hello is not None and any(isinstance(step, Data) for step in steps[hello + 1 :])


def _refused_at_ca_load(s: Scenario) -> bool:
    """w24 holds the scenario to a 116 at AT+iCA= for the CA's content, not its length (a CA
    over the length limit is refused by that, which the ca_unchecked fault still checks)."""
    e = _asserted(s)
    if e is None or e != reject(ResultCode.CA_PARSE_ERROR, Stage.CA):
        return False
    pem = W24_CERTS.get(s.certs).ca_pem or b""
    return ca_text_length(pem.decode("latin-1")) <= W24.ca_max_chars


def _sends_data(s) -> bool:
    sending = (Action.EXCHANGE, Action.FULL_DUPLEX)  # the actions that SSND the device's bytes
    # SSND_ONE sends its one SSND whatever its size (an empty one too).
    sends = (s.action in sending and s.send_size > 0) or s.action == Action.SSND_ONE
    return _simulated(s).accept and sends


def _ssl3_session(s: Scenario) -> bool:
    """The server does only SSL 3.0 while w24 offers TLS 1.0: the session is negotiated below
    the version the ClientHello offered (what the wire invariants pms-version and rec-version
    need to tell a broken client from a correct one)."""
    return s.versions == (ProtocolVersion.SSL3,) and W24.hello_version != ProtocolVersion.SSL3


SSL3_THROUGHPUT = {c.id for c in cases_for(W24) if c.version == ProtocolVersion.SSL3}


# Which scenarios each fault must break, derived from the catalogue (not listed by hand), so a
# new scenario is covered automatically. On the w24 profile:
EXPECTED_FAILURES: dict[str, set[str]] = {
    # Any certificate trusted: every 220 rejection caused by the certificate check turns into
    # an accept. (Protocol, suite and server misbehaviour rejections stay.)
    "accept_any_cert": _ids(
        lambda s: s.certs not in ("valid", "no_ca") and _trusted_by_the_fault(s)
    ),
    "ignore_empty_ca": {"no-ca"},
    # Every SSL code collapses to 220: each scenario expecting 219..226 other than 220 fails.
    "wrong_code": _ids(_expects_code(221, 222, 224, 225, 226)),
    # ... and every throughput case that receives (suites/test_throughput.py).
    # (The good data before a record error are compared too: issue 23.)
    "corrupt_rx": _ids(lambda s: _receives_data(s) or _good_data_then_record_error(s))
    | {c.id for c in cases_for(W24, (RECEIVE,))},
    # The SSND handler crashes: every scenario and throughput case that sends from the device.
    "internal_error": _ids(_sends_data) | {c.id for c in cases_for(W24, (SEND,))},
    # Certificate-identity checks: the catalogue records which scenarios each one decides
    # (w24_harness.scenarios.identity.FAULT_DEPENDENCIES), all of them 220 rejections in the
    # simulator that w24 allows no accept for (the e=3 forgeries: 220 or 116 at AT+iCA=).
    **{
        fault: _ids(lambda s, ids=ids: s.id in ids and _trusted_by_the_fault(s))
        for fault, ids in identity.FAULT_DEPENDENCIES.items()
    },
    # One client check off each: exactly the scenarios that exist to catch that check (the
    # catalogue's `checks`), whether by the code or by the server-side evidence.
    **{fault: _ids(lambda s, c=check: s.checks == c) for fault, check in CHECK_FAULTS.items()},
    # A failed handshake leaks the SSL context: the sanity check after every scenario whose
    # handshake must fail finds the device wedged (its own failure class in results.json).
    "leak_ssl_on_failure": _ids(_fails_its_handshake),
    # TLS 1.0 padding bytes unchecked: a wrong padding byte under a valid MAC gets through.
    # (SSL 3.0 padding bytes are arbitrary: its scenarios do not depend on the check.)
    "padding_unchecked": _ids(
        lambda s: _plan_has(_bad_tls1_padding)(s) and s.versions == (ProtocolVersion.TLS1,)
    ),
    "empty_record_eof": _ids(
        lambda s: _plan_has(_empty_record)(s) and not _allows_an_end_at_data(s)
    ),
    "record_limit_off_by_one": _ids(_plan_has(_one_over_the_limit)),
    "drop_data_at_close": _ids(_closes_after_data),
    # The good data before a record error lost with it: every row whose session the simulator
    # ends at a record after data (issue 23: bytes before an error were never compared).
    "drop_data_on_record_error": _ids(_good_data_then_record_error),
    # A truncation that takes the buffered data (and says 215): the FIN and RST rows.
    "unclean_close_drops_data": _ids(_truncated_after_data),
    "ignore_close_notify": _ids(
        lambda s: s.records is not None and s.records.ending == Ending.CLOSE_NOTIFY
    ),
    # Only reads with a <max> below what the device holds can tell.
    "srcv_max_ignored": _ids(lambda s: s.action == Action.SRCV_MAX and s.srcv_max < s.recv_size),
    # Only data the server sends after a HelloRequest, on a session that goes on, can tell:
    # whatever the device answers to the HelloRequest, data lost is outside every allowed set.
    "hello_request_drops_data": _ids(
        lambda s: _data_after_hello_request(s) and _simulated(s).accept
    ),
    # A CA stored unparsed: every scenario w24 holds to a 116 at AT+iCA= (what it refuses by
    # content, not by length) gets an I/OK there instead.
    "ca_unchecked": _ids(_refused_at_ca_load),
    # Only a look at the ClientHello itself can tell (every server here picks null).
    "hello_offers_compression": _ids(
        lambda s: s.evidence is not None and s.evidence.hello_in_profile
    ),
    # The v1 CA (the style of the manual's sample) is refused at AT+iCA=.
    "v1_ca_refused": _ids(lambda s: s.certs == "v1_ca" and _simulated(s).accept),
    # Wire invariants (w24_harness.servers.invariants), which no point scenario checks: the
    # premaster's version bytes (pms-version) in every SSL 3.0 session that reaches the key
    # exchange (every SSL 3.0 one here) ...
    "premaster_negotiated_version": _ids(_ssl3_session) | SSL3_THROUGHPUT,
    # ... and the record version after the handshake (rec-version), in every SSL 3.0 session
    # whose handshake completes (the client's data or close_notify carry it).
    "record_version_offered": _ids(
        lambda s: _ssl3_session(s) and (_simulated(s).accept or _simulated(s).stage == Stage.DATA)
    )
    | SSL3_THROUGHPUT,
    # Only an SSND over the SSL limit can tell.
    "ssnd_limit_unchecked": _ids(lambda s: s.action == Action.SSND_OVER),
    # Only a host that stays away while more than the buffer arrives can tell.
    "rx_overflow_drops": _ids(
        lambda s: s.action == Action.RECEIVE_PAUSED and s.recv_size > W24.rx_buffer_bytes
    ),
}
# The result class each fault's failures must carry in results.json.
FAILURE_CLASS: dict[str, str] = {"leak_ssl_on_failure": "wedged"}


def _run_suites(
    pytester: pytest.Pytester, tmp_path: Path, *extra: str
) -> tuple[pytest.RunResult, dict]:
    return run_suites(pytester, tmp_path / "reports", *extra)


# The security-critical rows each fault must fail, reviewed by hand row by row (not derived):
# the derivation above is code over the same catalogue the suites read, so a wrong catalogue
# entry would be mirrored there. test_critical_expectations_match_the_reviewed_table holds the
# derived sets to this one; a catalogue change that moves a critical row must move it here.
REVIEWED_CRITICAL: dict[str, set[str]] = {
    "premaster_negotiated_version": {
        "hs-bad-finished-ssl3",
        "hs-one-byte-records-ssl3",
        "rec-empty-before-each-ssl3-3des",
        "rec-split-1n1-ssl3-3des",
        "rec-ssl3-max-padding-3des",
        "rec-ssl3-overlong-padding-aes128",
        "rec-ssl3-zero-padding-aes128",
        "rec-tcp-trickle-ssl3-rc4",
    },
    "record_version_offered": {
        "hs-one-byte-records-ssl3",
        "rec-empty-before-each-ssl3-3des",
        "rec-split-1n1-ssl3-3des",
        "rec-ssl3-max-padding-3des",
        "rec-ssl3-overlong-padding-aes128",
        "rec-ssl3-zero-padding-aes128",
        "rec-tcp-trickle-ssl3-rc4",
    },
    "accept_any_cert": {
        "chain-wrong-order",
        "garbage-leaf-junk-signature",
        "garbage-leaf-no-signature",
        "impostor-ca-same-subject",
        "impostor-ca-same-subject-aki",
        "intermediate-missing",
        "leaf-outer-sigalg-params-mismatch",
        "leaf-signature-bit-flipped",
        "leaf-signature-first-byte-flipped",
        "leaf-signature-last-byte-flipped",
        "leaf-tbs-modified",
        "leaf-unknown-critical-extension",
        "pkcs1-e3-ber-long-length",
        "pkcs1-e3-bleichenbacher-2006",
        "pkcs1-e3-digest-algorithm-mismatch",
        "pkcs1-e3-digestinfo-params",
        "pkcs1-e3-padding-not-ff",
        "self-signed",
        "wrong-ca",
    },
    "ca_unchecked": set(),
    "corrupt_rx": {
        "hs-cert-msg-over-2k-split",
        "hs-one-byte-records-ssl3",
        "hs-one-byte-records-tls1",
        "hs-packed-flight",
        "hs-trickled-flight",
        "rec-bad-mac-3des",
        "rec-bad-mac-aes128",
        "rec-bad-mac-pad0-aes128",
        "rec-bad-padding-255-aes128",
        "rec-bad-padding-3des",
        "rec-bad-padding-aes128",
        "rec-cbc-all-padding",
        "rec-cbc-not-block-multiple",
        "rec-cbc-one-block",
        "rec-empty-before-each-aes128",
        "rec-empty-before-each-ssl3-3des",
        "rec-limit-over-3des-sha",
        "rec-limit-over-aes128-sha",
        "rec-limit-over-aes256-sha",
        "rec-limit-over-rc4-md5",
        "rec-limit-over-rc4-sha",
        "rec-max-padding-255-aes128",
        "rec-rc4-shorter-than-mac",
        "rec-split-1n1-aes128",
        "rec-split-1n1-ssl3-3des",
        "rec-ssl3-max-padding-3des",
        "rec-ssl3-overlong-padding-aes128",
        "rec-ssl3-zero-padding-aes128",
        "rec-tcp-packed-200",
        "rec-tcp-trickle-aes128",
        "rec-tcp-trickle-ssl3-rc4",
        "rec-type-24",
        "rec-type-25",
        "rec-type-255",
    },
    "drop_data_at_close": set(),
    "drop_data_on_record_error": {
        "rec-bad-mac-3des",
        "rec-bad-mac-aes128",
        "rec-bad-mac-pad0-aes128",
        "rec-bad-padding-255-aes128",
        "rec-bad-padding-3des",
        "rec-bad-padding-aes128",
        "rec-cbc-all-padding",
        "rec-cbc-not-block-multiple",
        "rec-cbc-one-block",
        "rec-limit-over-3des-sha",
        "rec-limit-over-aes128-sha",
        "rec-limit-over-aes256-sha",
        "rec-limit-over-rc4-md5",
        "rec-limit-over-rc4-sha",
        "rec-rc4-shorter-than-mac",
        "rec-ssl3-overlong-padding-aes128",
        "rec-type-24",
        "rec-type-25",
        "rec-type-255",
    },
    "empty_record_eof": {
        "rec-empty-before-each-aes128",
        "rec-empty-before-each-ssl3-3des",
    },
    "export_key_accepted": {
        "hs-export-key-exchange",
    },
    "hello_offers_compression": set(),
    "hello_request_drops_data": set(),
    "ignore_close_notify": set(),
    "ignore_empty_ca": {
        "no-ca",
    },
    "internal_error": {
        "hs-cert-msg-over-2k-split",
        "hs-one-byte-records-ssl3",
        "hs-one-byte-records-tls1",
        "hs-packed-flight",
        "hs-trickled-flight",
    },
    "leaf_search": {
        "chain-wrong-order",
    },
    "leak_ssl_on_failure": {
        "chain-wrong-order",
        "garbage-leaf-junk-signature",
        "garbage-leaf-no-signature",
        "hs-appdata-after-ccs",
        "hs-appdata-before-hello",
        "hs-bad-finished-ssl3",
        "hs-bad-finished-tls1",
        "hs-certificate-before-hello",
        "hs-done-before-certificate",
        "hs-duplicate-ccs",
        "hs-duplicate-certificate",
        "hs-duplicate-server-hello",
        "hs-duplicate-server-hello-done",
        "hs-early-ccs",
        "hs-empty-certificate",
        "hs-export-key-exchange",
        "hs-fatal-alert-after-certificate",
        "hs-fatal-alert-after-server-hello",
        "hs-no-certificate",
        "hs-skip-ccs",
        "hs-skip-to-finished",
        "hs-trailing-certificate",
        "hs-trailing-server-hello",
        "hs-trailing-server-hello-done",
        "hs-unoffered-compression",
        "hs-unoffered-suite-export",
        "hs-unoffered-suite-null",
        "hs-unoffered-suite-tls12",
        "hs-unoffered-version-35",
        "hs-unoffered-version-tls11",
        "hs-unoffered-version-tls12",
        "hs-wrong-type-certificate",
        "hs-wrong-type-server-hello",
        "hs-wrong-type-server-hello-done",
        "impostor-ca-same-subject",
        "impostor-ca-same-subject-aki",
        "intermediate-missing",
        "leaf-outer-sigalg-params-mismatch",
        "leaf-signature-bit-flipped",
        "leaf-signature-first-byte-flipped",
        "leaf-signature-last-byte-flipped",
        "leaf-tbs-modified",
        "leaf-unknown-critical-extension",
        "pkcs1-e3-ber-long-length",
        "pkcs1-e3-bleichenbacher-2006",
        "pkcs1-e3-digest-algorithm-mismatch",
        "pkcs1-e3-digestinfo-params",
        "pkcs1-e3-padding-not-ff",
        "self-signed",
        "wrong-ca",
    },
    "lenient_pkcs1": {
        "pkcs1-e3-ber-long-length",
        "pkcs1-e3-bleichenbacher-2006",
        "pkcs1-e3-digest-algorithm-mismatch",
        "pkcs1-e3-digestinfo-params",
        "pkcs1-e3-padding-not-ff",
    },
    "no_finished_check": {
        "hs-bad-finished-ssl3",
        "hs-bad-finished-tls1",
    },
    "padding_unchecked": {
        "rec-bad-padding-255-aes128",
        "rec-bad-padding-3des",
        "rec-bad-padding-aes128",
    },
    "record_limit_off_by_one": {
        "rec-limit-over-3des-sha",
        "rec-limit-over-aes128-sha",
        "rec-limit-over-aes256-sha",
        "rec-limit-over-rc4-md5",
        "rec-limit-over-rc4-sha",
    },
    "rx_overflow_drops": set(),
    "srcv_max_ignored": set(),
    "ssnd_limit_unchecked": set(),
    "stray_ccs_ignored": {
        "hs-duplicate-ccs",
        "hs-early-ccs",
    },
    "trust_by_name": {
        "impostor-ca-same-subject",
        "impostor-ca-same-subject-aki",
        "leaf-signature-bit-flipped",
        "leaf-signature-first-byte-flipped",
        "leaf-signature-last-byte-flipped",
        "leaf-tbs-modified",
        "pkcs1-e3-ber-long-length",
        "pkcs1-e3-bleichenbacher-2006",
        "pkcs1-e3-digest-algorithm-mismatch",
        "pkcs1-e3-digestinfo-params",
        "pkcs1-e3-padding-not-ff",
    },
    "unclean_close_drops_data": set(),
    "unoffered_suite_accepted": {
        "hs-unoffered-suite-null",
        "hs-unoffered-suite-tls12",
    },
    "v1_ca_refused": {
        "v1-ca",
    },
    "wrong_code": {
        "no-ca",
        "rec-bad-mac-3des",
        "rec-bad-mac-aes128",
        "rec-bad-mac-pad0-aes128",
        "rec-bad-padding-255-aes128",
        "rec-bad-padding-3des",
        "rec-bad-padding-aes128",
        "rec-cbc-all-padding",
        "rec-cbc-not-block-multiple",
        "rec-cbc-one-block",
        "rec-limit-over-3des-sha",
        "rec-limit-over-aes128-sha",
        "rec-limit-over-aes256-sha",
        "rec-limit-over-rc4-md5",
        "rec-limit-over-rc4-sha",
        "rec-rc4-shorter-than-mac",
        "rec-ssl3-overlong-padding-aes128",
        "record-over-2k",
        "tampered-record",
    },
}


@pytest.mark.parametrize("fault", sorted(EXPECTED_FAILURES))
def test_fault_fails_the_right_scenarios(pytester, tmp_path, fault):
    result, data = _run_suites(pytester, tmp_path, "--w24-sim-fault", fault)
    failed = {r["id"] for r in data["results"] if not r["passed"]}
    # Every planned row produced a result: a row that wrote none cannot hide a missed fault.
    assert {p["id"] for p in data["planned"]} == {r["id"] for r in data["results"]}
    assert EXPECTED_FAILURES[fault], "the expectation itself must name scenarios"
    assert failed == EXPECTED_FAILURES[fault]
    assert result.ret == 1
    assert data["runs"][0]["faults"] == [fault]
    classes = {r["result_class"] for r in data["results"] if not r["passed"]}
    assert classes == {FAILURE_CLASS.get(fault, "failed")}
    # A failing test says which scenario, expected vs actual, the device code and the transcript.
    some = sorted(failed)[0]
    output = result.stdout.str()
    verdict = "the device is wedged after it" if fault in FAILURE_CLASS else "expected"
    assert f"scenario {some} on profile w24: {verdict}" in output
    assert "serial transcript: " in output
    transcript = next(r["transcript"] for r in data["results"] if r["id"] == some)
    # The scenario's own commands: a CA load, or the handshake every other action starts with.
    command = "AT+iCA=" if get(some).action == Action.LOAD_CA else "AT+iSSL"
    assert Path(transcript).is_file() and command in Path(transcript).read_text()
    # Simulator internal errors are reported apart from the verdicts, and only for that fault.
    errors = data["simulator_internal_errors"]
    if fault == "internal_error":
        assert "simulator internal error: " in output
        failed_nodes = {r["nodeid"] for r in data["results"] if not r["passed"]}
        assert failed_nodes <= {e["nodeid"] for e in errors}
        assert all("the SSND handler crashed" in e["error"] for e in errors)
    else:
        assert errors == [] and "simulator internal error" not in output


@pytest.mark.parametrize("fault", sorted(EXPECTED_FAILURES))
def test_critical_expectations_match_the_reviewed_table(fault):
    """Not slow: no child run. The derived expectation for the security-critical rows is the
    hand-reviewed one, so the fault runs above cannot mirror a wrong catalogue entry there."""
    critical = {s.id for s in SCENARIOS if s.critical}
    assert EXPECTED_FAILURES[fault] & critical == REVIEWED_CRITICAL[fault]


# Faults whose effect needs a line of known rate, proven by their own test.
COVERED_ELSEWHERE = {
    "slow_delivery": "tests/runner/test_throughput_floor.py",
    # No point scenario catches these (docs/model.md); the model suite does.
    "down_keeps_ssl_context": "tests/model/test_model_faults.py",
    "down_handle_reused": "tests/model/test_model_faults.py",
    "stale_status_after_scls": "tests/model/test_model_faults.py",
    # Expectations read off the run's own server evidence (which rows saw a ClientHello, which
    # an always-fatal alert), not the catalogue:
    "rng_reseeded": "tests/servers/test_invariants.py",
    "alerts_as_warning": "tests/servers/test_invariants.py",
}


def test_faults_are_all_covered():
    from w24_harness.sim.faults import Faults

    assert set(Faults.names()) == set(EXPECTED_FAILURES) | set(COVERED_ELSEWHERE)
    assert set(REVIEWED_CRITICAL) == set(EXPECTED_FAILURES)
    assert not set(EXPECTED_FAILURES) & set(COVERED_ELSEWHERE)
