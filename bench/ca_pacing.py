"""Benchmark (not a test): what pacing a CA load costs, on a simulator line at 115200 baud.

    python bench/ca_pacing.py            # 3 rounds of each strategy, with and without --overrun

For each CA pacing strategy (burst, baud-drop, line-gap), the wall time of set_ca + get_ca of a
real 2048-bit RSA CA (PEM ~1140 characters), and whether it loaded intact. With the overrun
model on, the unpaced burst loses bytes and the load fails (after the module's 5 s host-data
timeout); the difference between a paced load and the burst on a line without the model is
what pacing costs.
"""

from __future__ import annotations

import argparse
import statistics
import time

from w24_harness.at.codes import W24Error
from w24_harness.device.pacing import CAPacing
from w24_harness.device.w24 import W24
from w24_harness.pki import CertFactory
from w24_harness.sim.server import Simulator, SimulatorConfig

BAUD = 115200


def one_load(pacing: CAPacing, overrun: bool, pem: str) -> tuple[float, str]:
    sim = Simulator(SimulatorConfig(baud=BAUD, overrun=overrun))
    url = sim.start_pty()
    device = W24.open(url, baud=BAUD, ca_pacing=pacing)
    try:
        device.resync()
        device.clear_ca()
        started = time.monotonic()
        try:
            device.set_ca(pem)
            verdict = "intact" if device.get_ca().pem == pem else "corrupted"
        except W24Error as exc:
            verdict = f"refused: {exc}"
        return time.monotonic() - started, verdict
    finally:
        device.close_port()
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pem = CertFactory().ca("bench").cert_pem.decode()
    print(f"CA PEM: {len(pem)} characters; line {BAUD} baud")
    print("| overrun model | pacing | median s | result |")
    print("|---|---|---|---|")
    for overrun in (False, True):
        for pacing in CAPacing:
            runs = [one_load(pacing, overrun, pem) for _ in range(args.rounds)]
            verdicts = sorted({v for _, v in runs})
            median = statistics.median(t for t, _ in runs)
            model = "on" if overrun else "off"
            print(f"| {model} | {pacing} | {median:.2f} | {'; '.join(verdicts)} |")


if __name__ == "__main__":
    main()
