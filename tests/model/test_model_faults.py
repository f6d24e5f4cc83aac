"""The model suite (w24_harness.model) catches the simulator faults written for it, shrinks the
failure to a short AT transcript that replays from its step file, and passes the faithful
simulator. The faults: harness/sim/faults.py (down_keeps_ssl_context, down_handle_reused,
stale_status_after_scls); no point scenario of the suites catches them (docs/model.md).

Each case drives a simulator child process through the same driver and peers as
suites/test_model.py, with the suite's default seed; the step budget is what finds each fault.
"""

from __future__ import annotations

import random

import pytest

from w24_harness.at.replies import Reply, ReplyKind
from w24_harness.model.machine import Generator, Runner, StepFile, World, shrink
from w24_harness.model.model import Model, Observed, Violation
from w24_harness.model.replay import device, main
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import get_profile

W24 = get_profile("w24")
SEED = 24  # suites/test_model.py's default
BUDGET = 1500

# fault -> the model rule its first failure breaks
NEW_FAULTS = {
    "down_keeps_ssl_context": "ssl-freed",
    "down_handle_reused": "stcp-handle",
    "stale_status_after_scls": "rp4",
}

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def world():
    built = World.build(CertSets(W24))
    yield built
    built.close()


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(NEW_FAULTS))
def test_model_suite_catches_and_shrinks(world, tmp_path, fault, capsys):
    with device(None, 115200, W24, [fault]) as w24:
        runner = Runner(w24, world, W24)
        _, failure = runner.run(gen=Generator(random.Random(SEED)), budget=BUDGET)
        assert failure is not None, f"{fault}: {BUDGET} steps of seed {SEED} did not catch it"
        assert failure.rule == NEW_FAULTS[fault]
        small, _ = shrink(runner, failure, max_runs=40, seconds=40)
    assert small.rule == failure.rule
    assert len(small.steps) <= min(12, len(failure.steps))
    path = tmp_path / "steps.json"
    StepFile("w24", SEED, small.rule, [fault], small.steps, small.transcript).save(path)
    # The one-command replay reproduces it from the file (and the fault named there).
    assert main([str(path)]) == 1
    assert f"VIOLATION [{small.rule}" in capsys.readouterr().out


def test_faithful_simulator_conforms(world):
    """A run of the default seed's first steps on the faithful simulator: no false failure."""
    with device(None, 115200, W24, []) as w24:
        runner = Runner(w24, world, W24)
        _, failure = runner.run(gen=Generator(random.Random(SEED)), budget=400)
    assert failure is None, str(failure and failure.transcript[-15:])


# -- the model alone, no device ----------------------------------------------------------------


def obs(kind: ReplyKind, **kw) -> Observed:
    return Observed(Reply(kind, **kw))


def test_rp4_free_handle_must_be_minus_200():
    model = Model(W24)
    model.rp4(obs(ReplyKind.TUPLE, values=(-200,) * 10))
    with pytest.raises(Violation, match="rp4"):
        model.rp4(obs(ReplyKind.TUPLE, values=(0,) + (-200,) * 9))


def test_ssl_refusals_allow_any_applicable_code():
    """No CA and another SSL socket active: 222 and 225 both apply; the manuals give no order."""
    model = Model(W24)
    first = model.stcp(0, True, True, obs(ReplyKind.NUMBER, value=0))
    assert first == 0
    model.ca = "root"
    assert model.ssl(model.sockets[0], "root", obs(ReplyKind.OK))
    model.stcp(1, True, True, obs(ReplyKind.NUMBER, value=1))
    model.ca = None
    for code in (222, 225):
        model.ssl(model.sockets[1], "root", obs(ReplyKind.ERROR, code=code))
    with pytest.raises(Violation):
        model.ssl(model.sockets[1], "root", obs(ReplyKind.ERROR, code=220))


def test_close_notify_on_scls_follows_the_profile():
    """w24 leaves close_notify_on_scls unknown: both allowed; a profile that decided narrows."""
    for profile, allowed in ((W24, {True, False}), (W24.resolved(), {True})):
        model = Model(profile)
        model.stcp(0, True, True, obs(ReplyKind.NUMBER, value=0))
        model.ca = "root"
        model.ssl(model.sockets[0], "root", obs(ReplyKind.OK))
        owed = model.scls(
            model.sockets[0], Observed(Reply(ReplyKind.OK), (), Reply(ReplyKind.DONE))
        )
        assert owed is not None and set(owed.close_notify) == allowed
