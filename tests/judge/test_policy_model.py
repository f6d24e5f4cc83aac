"""The policy model without a device: judging outcomes (observed, drift, out-of-set), profile
files (round trip, every loader error), the serialized simulator spec, deviations files and the
characterize decisions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from w24_harness.at.codes import ResultCode
from w24_harness.judge.deviations import DeviationsError, load_deviations
from w24_harness.judge.judgement import judge
from w24_harness.profiles.files import (
    ProfileFileError,
    diff_profiles,
    dumps_profile,
    load_profile_file,
)
from w24_harness.profiles.table import PROFILES, UNDOCUMENTED, UNKNOWN
from w24_harness.runner.characterize import DECIDERS, Observations, decide_profile
from w24_harness.runner.scenario import Outcome, server_saw
from w24_harness.scenarios import SCENARIOS, get
from w24_harness.sim.faults import Faults
from w24_harness.sim.server import decode_spec, encode_spec
from w24_harness.vocab import Deviation, Renegotiation, ResultClass, ServerSaw, Stage, Watch

ROOT = Path(__file__).resolve().parents[2]
W24, ICHIP, MODERN = PROFILES["w24"], PROFILES["ichip"], PROFILES["modern"]
ACCEPTED = Outcome(True)
REFUSED_220 = Outcome(False, ResultCode.SSL_NEGOTIATION, Stage.SSL)


# -- judging --------------------------------------------------------------------------------


def test_unknown_field_any_allowed_outcome_is_observed():
    scenario = get("server-key-4096")
    assert judge(scenario, W24, ACCEPTED).result == ResultClass.OBSERVED
    assert judge(scenario, W24, REFUSED_220).result == ResultClass.OBSERVED


def test_known_field_matching_outcome_is_observed_and_other_is_drift():
    scenario = get("server-key-4096")  # ichip: (1024, 2048) predicts a refusal
    assert judge(scenario, ICHIP, REFUSED_220).result == ResultClass.OBSERVED
    drift = judge(scenario, ICHIP, ACCEPTED)
    assert drift.result == ResultClass.DRIFT
    assert "server_key_bits" in drift.reason
    assert not drift.fails(strict=False) and drift.fails(strict=True)


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(False, ResultCode.SSL_NEGOTIATION, Stage.DATA),  # wrong stage
        Outcome(False, ResultCode.SSL_DECODE_ERROR, Stage.SSL),  # code outside the set
        Outcome(False, None, Stage.SSL),  # no code (a hang the driver timed out on)
    ],
    ids=["wrong-stage", "wrong-code", "no-code"],
)
def test_outcome_outside_the_allowed_set_fails_on_every_profile(outcome):
    scenario = get("server-key-4096")
    for profile in (W24, ICHIP, MODERN):
        verdict = judge(scenario, profile, outcome)
        assert verdict.result == ResultClass.FAILED
        assert verdict.fails(strict=False)
        assert "outside" in verdict.reason


def test_a_broken_outcome_matches_nothing():
    # A refused CA that did not keep the previous one is no allowed "bare I/ERROR".
    broken = Outcome(False, None, Stage.CA, intact=False)
    assert judge(get("ca-too-long"), W24, broken).result == ResultClass.FAILED


def test_conformance_is_passed_or_failed():
    scenario = get("wrong-ca")
    assert judge(scenario, W24, REFUSED_220).result == ResultClass.PASSED
    assert judge(scenario, W24, ACCEPTED).result == ResultClass.FAILED


def test_absent_ca_slot_allows_051_and_053_only():
    scenario = get("ca-slot-absent")
    for code in (ResultCode.SYNTAX_ERROR, ResultCode.ILLEGAL_COMMAND):
        assert judge(scenario, W24, Outcome(False, code, Stage.CA)).result == ResultClass.OBSERVED
    assert judge(scenario, W24, Outcome(False, 42, Stage.CA)).result == ResultClass.FAILED
    # A module with CA2 answers it: ichip predicts accept.
    assert judge(scenario, ICHIP, ACCEPTED).result == ResultClass.OBSERVED


# -- profile files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_builtin_profile_round_trips_through_toml(tmp_path, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(dumps_profile(PROFILES[name]))
    assert load_profile_file(path) == PROFILES[name]


def test_a_file_may_start_from_a_builtin_and_override(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'from = "w24"\ncheck_hostname = true\nserver_key_bits = [1024, 4096]\n'
        'chain_building = "unknown"\n'
    )
    profile = load_profile_file(path)
    assert profile.name == "mine"
    assert profile.check_hostname is True and profile.server_key_bits == (1024, 4096)
    assert profile.chain_building is UNKNOWN
    assert [f for f, _, _ in diff_profiles(W24, profile)] == ["server_key_bits", "check_hostname"]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('from = "w24"\ncheck_hostnames = true\n', "check_hostnames", "unknown field"),
        ('from = "w24"\nca_max_chars = "1300"\n', "ca_max_chars", "expected int"),
        ('from = "w24"\ncheck_hostname = 1\n', "check_hostname", "expected bool"),
        ('from = "w24"\nserver_key_bits = [1024]\n', "server_key_bits", "expected 2 items"),
        ('from = "w24"\nprotocols = ["SSL2.0"]\n', "protocols", "is not one of"),
        ('from = "w25"\n', "from", "unknown base profile 'w25'"),
        ('name = "bare"\n', "description", "is missing"),
    ],
    ids=[
        "unknown-field",
        "wrong-type",
        "wrong-type-bool",
        "wrong-length",
        "bad-enum",
        "unknown-base",
        "missing-field",
    ],
)
def test_loader_errors_name_the_file_and_the_field(tmp_path, text, field, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileFileError) as err:
        load_profile_file(path)
    message = str(err.value)
    assert str(path) in message and repr(field) in message and words in message
    assert "\n" not in message  # one clear message


def test_loader_error_for_a_file_that_is_not_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("from = \n")
    with pytest.raises(ProfileFileError, match="not valid TOML"):
        load_profile_file(path)


def test_the_simulator_spec_carries_the_whole_profile_and_the_faults():
    custom = W24.with_changes(name="custom", check_hostname=True, rx_buffer_bytes=777)
    profile, faults = decode_spec(encode_spec(custom, Faults(wrong_code=True)))
    assert profile == custom
    assert faults.active() == ["wrong_code"]


# -- deviations ---------------------------------------------------------------------------------


def _deviations(tmp_path: Path, text: str):
    path = tmp_path / "dev.toml"
    path.write_text(text)
    return load_deviations(path, SCENARIOS, "w24")


def test_deviations_file_matches_ids_and_globs(tmp_path):
    dev = _deviations(
        tmp_path,
        '[policy]\n"server-key-*" = "refuses big keys"\n[known-bug]\n'
        '"wrong-ca" = { reason = "FW-1", outcome = "accept" }\n',
    )
    entry = dev.find("server-key-512")
    assert entry is not None and entry.status == Deviation.POLICY
    wrong_ca = dev.find("wrong-ca")
    assert wrong_ca is not None and wrong_ca.status == Deviation.KNOWN_BUG
    assert wrong_ca.covers("accept") and not wrong_ca.covers("reject 220 at ssl")
    assert entry.covers("reject 220 at ssl")  # an entry naming no outcome: any wrong answer
    assert dev.find("no-ca") is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[policy]\n"wrong-ca" = "we trust everyone"\n', "security-critical"),
        ('[known-bug]\n"wrong-ca" = "FW-1"\n', "must name the outcome"),
        ('[known-bug]\n"wrong-ca" = { reason = "x", code = 1 }\n', "unknown key"),
        ('[not-applicable]\n"tampered-record" = "n/a"\n', "security-critical"),
        ('[wontfix]\n"wrong-ca" = "x"\n', "unknown section 'wontfix'"),
        ('[policy]\n"no-such-*" = "x"\n', "matches no scenario"),
        ('[policy]\n"md5-leaf" = ""\n', "must be a reason"),
        ('profile = "ichip"\n[policy]\n"md5-leaf" = "x"\n', "for profile 'ichip'"),
    ],
)
def test_deviations_file_errors(tmp_path, text, words):
    with pytest.raises(DeviationsError, match=words):
        _deviations(tmp_path, text)


# -- characterize decisions -----------------------------------------------------------------------


def test_every_characterization_decides_a_field():
    # Every field a characterization measures has a decider, and every decider reads only
    # characterizations (others measuring the same field add observations, not decisions).
    # A conformance row over a field (close_notify on AT+iSCLS, RFC 2246 §7.2.1) still tells
    # the field's value, which characterize writes; it just cannot pass the weaker one.
    decided = {i for ids, _ in DECIDERS.values() for i in ids}
    measuring = [s for s in SCENARIOS if s.measures is not None]
    chars = [s for s in measuring if s.kind == "characterization"]
    assert decided <= {s.id for s in measuring}
    assert {s.measures for s in chars} <= set(DECIDERS)
    assert set(DECIDERS) <= set(UNDOCUMENTED)


def test_the_server_side_fields_are_decided_from_what_the_server_saw():
    """close_notify on SCLS and the answer to a HelloRequest are not visible to the host: the
    decision reads the ServerSaw the runner took from the server's record of the device."""
    cases = {
        ServerSaw.NO_ANSWER: Renegotiation.IGNORE,
        ServerSaw.NO_RENEGOTIATION: Renegotiation.REFUSE,
        ServerSaw.CLIENT_HELLO: UNKNOWN,  # a renegotiation attempt: no profile value
    }
    for saw, value in cases.items():
        obs = Observations({"data-hello-request": Outcome(True, server_saw=saw)})
        result = decide_profile(W24, obs, name="x", identity=("P", "F"), port="p", measured=[])
        assert result.profile.renegotiation == value, saw
    failed = Observations({"data-hello-request": Outcome(False, 224, Stage.DATA)})
    result = decide_profile(W24, failed, name="x", identity=("P", "F"), port="p", measured=[])
    assert result.profile.renegotiation == Renegotiation.FAIL
    for saw, value in ((ServerSaw.CLOSE_NOTIFY, True), (ServerSaw.NO_CLOSE_NOTIFY, False)):
        obs = Observations({"data-scls-close-notify": Outcome(True, server_saw=saw)})
        result = decide_profile(W24, obs, name="x", identity=("P", "F"), port="p", measured=[])
        assert result.profile.close_notify_on_scls is value
    # An accept the server saw nothing of (it never got the close) decides nothing.
    bare = Observations({"data-scls-close-notify": ACCEPTED})
    result = decide_profile(W24, bare, name="x", identity=("P", "F"), port="p", measured=[])
    assert result.profile.close_notify_on_scls is UNKNOWN


def test_server_saw_reads_the_devices_records_after_the_plan():
    notify, reneg = "alert warning close_notify", "alert warning no_renegotiation"
    assert server_saw(Watch.CLOSE, ["application data", notify, "FIN"]) == ServerSaw.CLOSE_NOTIFY
    assert server_saw(Watch.CLOSE, ["FIN"]) == ServerSaw.NO_CLOSE_NOTIFY
    assert server_saw(Watch.CLOSE, [notify]) is None  # no FIN yet: nothing to tell
    assert server_saw(Watch.HELLO_REQUEST, [reneg, notify, "FIN"]) == ServerSaw.NO_RENEGOTIATION
    assert server_saw(Watch.HELLO_REQUEST, [notify, "FIN"]) == ServerSaw.NO_ANSWER
    assert server_saw(Watch.HELLO_REQUEST, ["handshake ClientHello"]) == ServerSaw.CLIENT_HELLO
    fatal = ["alert fatal unexpected_message", "FIN"]
    assert server_saw(Watch.HELLO_REQUEST, fatal) == ServerSaw.FATAL_ALERT


def test_a_watched_expectation_needs_what_the_server_saw():
    scenario = get("data-scls-close-notify")
    bare = Outcome(True, server_saw=ServerSaw.NO_CLOSE_NOTIFY)
    notified = Outcome(True, server_saw=ServerSaw.CLOSE_NOTIFY)
    # RFC 2246 §7.2.1 decides it: a FIN without close_notify fails on every profile.
    assert judge(scenario, W24, bare).result == ResultClass.FAILED
    assert judge(scenario, ICHIP.with_changes(close_notify_on_scls=False), bare).result == (
        ResultClass.FAILED
    )
    assert judge(scenario, W24, notified).result == ResultClass.PASSED
    # Accepted, but the server never saw the device close: outside the allowed set.
    assert judge(scenario, W24, ACCEPTED).result == ResultClass.FAILED
    assert str(bare) == "accept (FIN without close_notify)"


def test_undecidable_outcomes_leave_the_field_unknown():
    obs = Observations(
        {
            "intermediate-sent": Outcome(False, ResultCode.SSL_RECORD_TOO_BIG, Stage.SSL),
            "expired-leaf": ACCEPTED,
            "not-yet-valid-leaf": REFUSED_220,  # they disagree
        }
    )
    result = decide_profile(W24, obs, name="x", identity=("P", "F"), port="p", measured=[])
    assert result.profile.chain_building is UNKNOWN
    assert result.profile.check_validity_dates is UNKNOWN
    assert result.provenance["fields"]["chain_building"]["note"]
    assert result.provenance["rp1_firmware"] == "F"


# -- the commands, with a bad file ------------------------------------------------------------

W24_CLI = Path(sys.executable).with_name("w24")


def _bad_profile(tmp_path: Path) -> Path:
    path = tmp_path / "typo.toml"
    path.write_text('from = "w24"\ncheck_hostnames = true\n')
    return path


@pytest.mark.parametrize(
    "argv", [["sim", "--pty", "--profile-file"], ["profile", "show"]], ids=["sim", "profile-show"]
)
def test_commands_refuse_a_bad_profile_file_with_one_message(tmp_path, argv):
    bad = _bad_profile(tmp_path)
    run = subprocess.run(
        [str(W24_CLI), *argv, str(bad)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "'check_hostnames'" in lines[0]


def test_plugin_refuses_a_bad_profile_file_before_any_test(pytester, tmp_path):
    bad = _bad_profile(tmp_path)
    result = pytester.runpytest_subprocess(
        str(ROOT / "suites"),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "--w24-profile-file",
        str(bad),
        "--w24-report-dir",
        str(tmp_path / "r"),
        timeout=120,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--w24-profile-file: {bad}: unknown field 'check_hostnames'" in result.stderr.str()


def test_profile_diff_exits_1_and_names_the_fields(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('from = "w24"\ncheck_hostname = true\n')
    run = subprocess.run(
        [str(W24_CLI), "profile", "diff", "w24", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert [line.split()[0] for line in run.stdout.splitlines()[1:]] == ["check_hostname"]
