"""The model suite: a random sequence of CA, socket, SSL, status and reset commands against the
device, with live peers (plain TCP, TLS servers of four certificate kinds, peers that send,
close with close_notify or FIN), each answer and each peer-side observation checked against the
executable model (w24_harness.model.model). A failure is shrunk to a minimal step sequence; the
report shows its AT transcript and the one command that replays it.

Fixed seed and step budget by default; `--w24-model-steps N --w24-model-seed S` for long runs.
On a real module the CA steps stop after HARDWARE_CA_WRITES writes of its parameter flash (on
the simulator the default seed makes about 560); `--w24-model-ca-writes N` sets another budget.
"""

from __future__ import annotations

import random
import time

import pytest

from w24_harness.model.machine import Generator, Runner, StepFile, World, shrink
from w24_harness.model.replay import restored

DEFAULT_STEPS = 6000
DEFAULT_SEED = 24
# A guard, not the budget: on a badly loaded machine the run stops here and says how far it got.
WALL_CAP_S = 45.0
# AT+iCA= loads and clears on a real module: enough to exercise the CA steps among the others,
# not hundreds of erase cycles of its parameter flash every run (report/nvwrites.py counts them).
HARDWARE_CA_WRITES = 16

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_model_sequence(w24, pki, w24_options, w24_record, pytestconfig):
    steps = pytestconfig.getoption("--w24-model-steps") or DEFAULT_STEPS
    seed = pytestconfig.getoption("--w24-model-seed")
    seed = DEFAULT_SEED if seed is None else seed
    cap = None if pytestconfig.getoption("--w24-model-steps") else WALL_CAP_S
    ca_writes = pytestconfig.getoption("--w24-model-ca-writes")
    if ca_writes is None and not w24_options.simulated:
        ca_writes = HARDWARE_CA_WRITES
    profile = w24_options.profile
    world = World.build(pki, host=w24_options.host, bind=w24_options.bind)
    detail = ""
    try:
        with restored(w24):
            runner = Runner(w24, world, profile)
            started = time.monotonic()
            deadline = started + cap if cap else None
            _, failure = runner.run(
                gen=Generator(random.Random(seed), ca_writes=ca_writes),
                budget=steps,
                deadline=deadline,
            )
            ran, secs = runner.steps_run, time.monotonic() - started
            if failure is not None:
                found_at = failure.step_index + 1
                small, replays = shrink(runner, failure)
                path = w24_options.report_dir / "model" / f"model-seed{seed}-{small.rule}.json"
                StepFile(
                    profile.name,
                    seed,
                    small.rule,
                    list(w24_options.faults),
                    small.steps,
                    small.transcript,
                ).save(path)
                replay = f"python -m w24_harness.model.replay {path}" + (
                    f" --port {w24_options.port}" if w24_options.port else ""
                )
                detail = (
                    f"{small.violation}\nfound at step {found_at} of seed {seed}; shrunk to "
                    f"{len(small.steps)} steps in {replays} replays\nminimal transcript:\n  "
                    + "\n  ".join(small.transcript)
                    + f"\nreplay: {replay}"
                )
    finally:
        world.close()
    actual = (
        f"violation of {failure.rule}"
        if failure is not None
        else f"{ran} steps conform ({ran / max(secs, 1e-6):.0f} steps/s)"
    )
    w24_record(
        id="model-sequence",
        description=f"random sequence (seed {seed}, {steps} steps"
        + (f", at most {ca_writes} CA writes" if ca_writes is not None else "")
        + ") checked against the model",
        expected="every answer and peer observation allowed by the model",
        actual=actual,
        passed=failure is None,
        detail=detail,
    )
    if failure is not None:
        pytest.fail(f"model suite: {detail}", pytrace=False)
