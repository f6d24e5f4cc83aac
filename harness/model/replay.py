"""Replay a model-suite step file, or run a seeded sequence, against a device in one command.

    python -m w24_harness.model.replay reports/model/<file>.json            # built-in simulator
    python -m w24_harness.model.replay FILE --fault ignore_close_notify      # ... with a fault
    python -m w24_harness.model.replay FILE --port /dev/ttyUSB0 --baud 115200  # a real W24
    python -m w24_harness.model.replay --seed 7 --steps 500                  # generate, no file

Prints the AT transcript with each answer, and the rule broken (exit status 1) or "conforms".
The peers are started here (127.0.0.1); the device's CA is put back afterwards.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from w24_harness.device.w24 import W24
from w24_harness.model.machine import Failure, Generator, Runner, StepFile, World
from w24_harness.pki.sets import CertSets
from w24_harness.profiles.table import DeviceProfile, get_profile
from w24_harness.sim.faults import Faults
from w24_harness.sim.server import SimulatorProcess


@contextmanager
def restored(w24: W24) -> Iterator[None]:
    """Close every socket and put back the CA the device held, whatever happens."""
    before = w24.get_ca()
    try:
        yield
    finally:
        w24.execute("DOWN", second_stage=True, timeout=w24.timeouts.reset)
        if before.pem:
            w24.set_ca(before.pem, check=False)
        else:
            w24.clear_ca()


@contextmanager
def device(port: str | None, baud: int, profile: DeviceProfile, faults: list[str]) -> Iterator[W24]:
    """A driver on `port`, or on the built-in simulator started as a child process (with
    `faults`), as the suites start it: a fault's effects stay in that process."""
    with ExitStack() as stack:
        if port is None:
            sim = stack.enter_context(
                SimulatorProcess(
                    ["--pty", "--baud", "0"], profile=profile, faults=Faults.from_names(faults)
                )
            )
            url = sim.url
        else:
            url = port
        w24 = W24.open(url, baud=baud, profile=profile)
        stack.callback(w24.close_port)
        w24.ping(timeout=5)
        yield w24


def run_seeded(runner: Runner, seed: int, steps: int) -> tuple[int, Failure | None, float]:
    """Generate and run `steps` steps from `seed`; returns steps run, failure, seconds."""
    started = time.monotonic()
    before = runner.steps_run
    _, failure = runner.run(gen=Generator(random.Random(seed)), budget=steps)
    return runner.steps_run - before, failure, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m w24_harness.model.replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("file", nargs="?", type=Path, help="a step file the model suite wrote")
    ap.add_argument(
        "--port", default=None, help="device path or pyserial URL (default: the built-in simulator)"
    )
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--profile", default=None, help="device profile (default: the file's, w24)")
    ap.add_argument(
        "--fault",
        action="append",
        default=None,
        help="simulator self-test fault (default: the file's)",
    )
    ap.add_argument(
        "--no-faults",
        action="store_true",
        help="the faithful simulator, whatever faults the file names",
    )
    ap.add_argument("--seed", type=int, default=0, help="without a file: generate from this seed")
    ap.add_argument("--steps", type=int, default=300, help="without a file: this many steps")
    args = ap.parse_args(argv)
    loaded = StepFile.load(args.file) if args.file else None
    profile = get_profile(args.profile or (loaded.profile if loaded else "w24"))
    faults = args.fault if args.fault is not None else (loaded.faults if loaded else [])
    if (args.port is not None or args.no_faults) and faults:
        faults = []  # a real device has no self-test faults
    world = World.build(CertSets(profile))
    try:
        with device(args.port, args.baud, profile, faults) as w24, restored(w24):
            runner = Runner(w24, world, profile)
            if loaded is not None:
                _, failure = runner.run(list(loaded.steps))
            else:
                n, failure, secs = run_seeded(runner, args.seed, args.steps)
                print(f"{n} steps in {secs:.1f} s ({n / secs:.0f} steps/s)")
            lines = failure.transcript if failure else runner.transcript
            print("\n".join(lines))
            if failure is not None:
                print(f"\nVIOLATION {failure.violation}")
                return 1
            print("\nconforms: every answer was one the model allows")
            return 0
    finally:
        world.close()


if __name__ == "__main__":
    sys.exit(main())
