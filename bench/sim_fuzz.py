"""The stateful fuzz of the simulator (tests/sim_machine.py) for a long run: >= 100,000 steps.

    .venv/bin/python bench/sim_fuzz.py                 # 100,000 commands, random seeds
    .venv/bin/python bench/sim_fuzz.py --steps 5000    # a shorter run
    .venv/bin/coverage run bench/sim_fuzz.py ...       # with line coverage of the simulator

A step is one command (or one piece of bad input) sent to the simulator and answered. The CI
run is tests/test_sim_stateful.py (a small fixed-seed one). Any failure stops the run with
Hypothesis's minimal failing sequence of rules.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import sim_machine  # noqa: E402  (lives next to the test that runs it in CI)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="commands to send at least")
    parser.add_argument("--examples-per-round", type=int, default=100)
    parser.add_argument("--steps-per-example", type=int, default=100)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    config = settings(
        max_examples=args.examples_per_round,
        stateful_step_count=args.steps_per_example,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    started = time.monotonic()
    rounds = 0
    try:
        while sim_machine.STEPS["count"] < args.steps:
            run_state_machine_as_test(sim_machine.SimMachine, settings=config)
            rounds += 1
            done = sim_machine.STEPS["count"]
            print(f"round {rounds}: {done} steps, {time.monotonic() - started:.0f} s", flush=True)
    finally:
        sim_machine.stop_peers()
    elapsed = time.monotonic() - started
    steps = sim_machine.STEPS["count"]
    print(f"\n{steps} steps in {rounds} rounds, {elapsed:.0f} s ({steps / elapsed:.0f} steps/s); "
          "no failure")
    print("outcomes (command -> final replies):")
    for outcome, count in sorted(sim_machine.OUTCOMES.items()):
        print(f"  {count:8d}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
