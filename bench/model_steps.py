"""Steps per second of the model suite (harness/model), and which simulator self-test faults
it catches on its own.

    .venv/bin/python bench/model_steps.py                       # default seed and budget
    .venv/bin/python bench/model_steps.py --steps 100000         # a long run (faithful sim)
    .venv/bin/python bench/model_steps.py --faults all           # each fault: caught or not

Runs the built-in simulator in this process (a pty, as the suites use) with the peers of the
model suite; prints steps, seconds, steps/s, and a violation's rule when there is one.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from w24_harness.model.machine import Generator, Runner, World
from w24_harness.model.replay import device
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import get_profile
from w24_harness.sim.faults import Faults

DEFAULT_STEPS = 6000  # suites/test_model.py's default budget
DEFAULT_SEED = 24


def run_once(
    world: World, profile_name: str, faults: list[str], seed: int, steps: int, chunk: int = 5000
) -> tuple[int, float, str]:
    """Returns steps run, seconds, and the violation ('' if none). Long runs go in chunks of
    `chunk` steps, each from a reset, seeds seed, seed+1, ... (one generator per chunk)."""
    profile = get_profile(profile_name)
    ran, started = 0, time.monotonic()
    with device(None, 115200, profile, faults) as w24:
        runner = Runner(w24, world, profile)
        part = 0
        while ran < steps:
            budget = min(chunk, steps - ran)
            _, failure = runner.run(gen=Generator(random.Random(seed + part)), budget=budget)
            ran = runner.steps_run
            part += 1
            if failure is not None:
                return ran, time.monotonic() - started, str(failure.violation)
            if part % 4 == 0:
                print(f"  ... {ran} steps, {time.monotonic() - started:.0f} s", flush=True)
    return ran, time.monotonic() - started, ""


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--profile", default="w24")
    ap.add_argument("--faults", default="", help="'all', or comma-separated fault names")
    args = ap.parse_args()
    world = World.build(CertSets(get_profile(args.profile)))
    try:
        if not args.faults:
            n, secs, violation = run_once(world, args.profile, [], args.seed, args.steps)
            print(
                f"faithful simulator: {n} steps in {secs:.1f} s = {n / secs:.0f} steps/s"
                + (f"; FALSE FAILURE: {violation}" if violation else "; no violation")
            )
            return 1 if violation else 0
        names = Faults.names() if args.faults == "all" else args.faults.split(",")
        for name in names:
            n, secs, violation = run_once(world, args.profile, [name], args.seed, args.steps)
            verdict = f"CAUGHT at step {n + 1}: {violation}" if violation else "not caught"
            print(f"{name:28s} {secs:5.1f} s  {verdict}", flush=True)
        return 0
    finally:
        world.close()


if __name__ == "__main__":
    sys.exit(main())
