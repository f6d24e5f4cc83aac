"""The model suite's step generator (w24_harness.model.machine.Generator): its CA-write budget."""

from __future__ import annotations

import random

from w24_harness.model.machine import CA_WRITE_OPS, Generator
from w24_harness.model.model import Model
from w24_harness.profiles.table import get_profile

PROFILE = get_profile("w24")


def _ops(gen: Generator, steps: int) -> list[str]:
    model = Model(PROFILE)  # no sockets: the module-wide steps only
    return [gen.next(model, PROFILE).op for _ in range(steps)]


def test_a_budget_caps_the_ca_writes_and_the_run_goes_on() -> None:
    ops = _ops(Generator(random.Random(24), ca_writes=5), 2000)
    writes = [i for i, op in enumerate(ops) if op in CA_WRITE_OPS]
    assert len(writes) == 5
    assert len(ops) == 2000 and "ca_query" in ops[writes[-1] :]  # other CA steps go on


def test_no_budget_and_an_unspent_one_draw_the_same_steps() -> None:
    """A budget changes nothing until it is spent: the default seed on the simulator keeps
    the sequence it had, and a hardware run is that sequence up to its last CA write."""
    unlimited = _ops(Generator(random.Random(24)), 2000)
    assert sum(op in CA_WRITE_OPS for op in unlimited) > 100
    assert _ops(Generator(random.Random(24), ca_writes=10**6), 2000) == unlimited
    capped = _ops(Generator(random.Random(24), ca_writes=3), 2000)
    third = [i for i, op in enumerate(unlimited) if op in CA_WRITE_OPS][2]
    assert capped[: third + 1] == unlimited[: third + 1]
