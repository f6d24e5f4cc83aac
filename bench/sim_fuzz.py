"""The stateful fuzz of the simulator (tests/sim_machine.py) for a long run: >= 100,000 steps.

    .venv/bin/python bench/sim_fuzz.py                 # 100,000 commands, random seeds
    .venv/bin/python bench/sim_fuzz.py --steps 5000    # a shorter run
    .venv/bin/coverage run bench/sim_fuzz.py ...       # with line coverage of the simulator

A step is one command (or one piece of bad input) sent to the simulator and answered. The CI
run is tests/sim/test_sim_stateful.py (a small fixed-seed one). Any failure stops the run with
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
    failures: list[str] = []
    try:
        while sim_machine.STEPS["count"] < args.steps:
            rounds += 1
            try:
                run_state_machine_as_test(sim_machine.SimMachine, settings=config)
            except Exception as exc:  # reported and counted; the run goes on to its steps
                # Hypothesis may end in FlakyFailure when a timing-dependent failure does not
                # replay; the first assertion in the group is the finding itself.
                failures.append(_first_assertion(exc))
                print(f"round {rounds}: FAILED: {failures[-1]}", flush=True)
            done = sim_machine.STEPS["count"]
            print(f"round {rounds}: {done} steps, {time.monotonic() - started:.0f} s", flush=True)
    finally:
        sim_machine.stop_peers()
    elapsed = time.monotonic() - started
    steps = sim_machine.STEPS["count"]
    verdict = f"{len(failures)} failing round(s)" if failures else "no failure"
    print(
        f"\n{steps} steps in {rounds} rounds, {elapsed:.0f} s ({steps / elapsed:.0f} steps/s); "
        f"{verdict}"
    )
    for failure in failures:
        print(f"  FAILED: {failure}")
    print("outcomes (command -> final replies):")
    for outcome, count in sorted(sim_machine.OUTCOMES.items()):
        print(f"  {count:8d}  {outcome}")
    return 1 if failures else 0


def _first_assertion(exc: BaseException) -> str:
    queue = [exc]
    while queue:
        item = queue.pop(0)
        if isinstance(item, AssertionError):
            return f"{type(item).__name__}: {item}"[:600]
        queue.extend(getattr(item, "exceptions", ()))
        if item.__cause__ is not None:
            queue.append(item.__cause__)
    return f"{type(exc).__name__}: {exc}"[:600]


if __name__ == "__main__":
    sys.exit(main())
