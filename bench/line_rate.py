"""Benchmark (not a test): how close the simulator comes to its emulated serial line, what the
harness costs per scenario, and how long the whole matrix takes.

    python bench/line_rate.py                      # everything, a few minutes
    python bench/line_rate.py --parts throughput   # or overhead, matrix (comma-separated)
    python bench/line_rate.py --markdown bench.md  # also write the tables to a file

throughput: SSL payload through the pty (the way pytest reaches the simulator), server to device
  (receive) and device to server (send): unthrottled, and at 115200, 230400 and 921600 emulated
  baud; all five W24 suites unthrottled and at 921600 (the goal: every suite >= 0.95 of the
  framing bound there), AES128-SHA at the other rates (--all-suites for every suite at every
  rate); then AES128-SHA at 115200 on a simulator with the slow_delivery fault (SSL data at a
  third of the line rate). Beside the framing bound the suite judges by (the least framing the
  protocol needs, linerate.minimal_wire) stands the old bound, from the bytes this run put on
  the line: idle `I/0` polls of a slow firmware shrink that one and flatter the ratio.
overhead: every handshake scenario of the catalogue through ScenarioRunner on an unthrottled
  simulator, its wall time split into device time (AT+i round trips, of which the AT+iSSL
  handshake and the CA load/restore) and harness time (certificate lookup, TLS server
  setup/start/stop, waiting for the server to have the bytes the device sent, the rest).
  Certificates are built once beforehand; that one-time cost is shown.
matrix: wall time of `pytest suites` single-process and with `-n 2`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matrix_time  # noqa: E402  (bench/, this script's own directory)

from w24_harness.device.w24 import W24  # noqa: E402
from w24_harness.pki.sets import CertSets  # noqa: E402
from w24_harness.profiles.table import TLS1, W24_SUITES, get_profile  # noqa: E402
from w24_harness.runner.linerate import rates, transfer_size  # noqa: E402
from w24_harness.runner.scenario import Outcome, ScenarioRunner  # noqa: E402
from w24_harness.runner.throughput import RECEIVE, SEND, ThroughputCase  # noqa: E402
from w24_harness.scenarios import SCENARIOS  # noqa: E402
from w24_harness.servers import TLSServer  # noqa: E402
from w24_harness.sim.server import SimulatorProcess  # noqa: E402
from w24_harness.tlsfacts import short_name  # noqa: E402

PARTS = ("throughput", "overhead", "matrix")
BAUDS = (0, 115200, 230400, 921600)
ALL_SUITES_AT = (0, 921600)
AES128 = "TLS_RSA_WITH_AES_128_CBC_SHA"
PROFILE = get_profile("w24")


def table(title: str, head: list[str], rows: list[list[str]]) -> str:
    lines = [
        f"### {title}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def open_device(baud: int, *faults: str) -> tuple[SimulatorProcess, W24]:
    fault_args = [arg for fault in faults for arg in ("--fault", fault)]
    sim = SimulatorProcess(["--pty", "--profile", PROFILE.name, "--baud", str(baud), *fault_args])
    device = W24.open(sim.url, baud=baud or 115200, profile=PROFILE)
    device.resync()
    return sim, device


# -- throughput ---------------------------------------------------------------------------


def bench_throughput(sets: CertSets, all_suites: bool, unthrottled_bytes: int) -> str:
    rows = []
    runs: list[tuple[int, tuple[str, ...], tuple[str, ...]]] = [
        (baud, W24_SUITES if all_suites or baud in ALL_SUITES_AT else (AES128,), ())
        for baud in BAUDS
    ]
    runs.append((115200, (AES128,), ("slow_delivery",)))
    for baud, suites, faults in runs:
        size = transfer_size(baud or None) if baud else unthrottled_bytes
        sim, device = open_device(baud, *faults)
        runner = ScenarioRunner(device, sets, data_timeout=60.0)
        try:
            for direction in (RECEIVE, SEND):
                for suite in suites:
                    case = ThroughputCase(direction, TLS1, suite)
                    out = runner.run(case, size)
                    rows.append(_throughput_row(case, baud, size, out, faults))
        finally:
            device.close_port()
            sim.stop()
    head = [
        "direction",
        "baud",
        "simulator",
        "suite",
        "bytes",
        "s",
        "payload rate",
        "of line rate",
        "of framing bound",
        "of old bound (this run's bytes)",
        "handshake ms",
        "ok",
    ]
    return table("SSL throughput through the simulator pty (TLS 1.0)", head, rows)


def _throughput_row(
    case: ThroughputCase, baud: int, size: int, out: Outcome, faults: tuple[str, ...]
) -> list[str]:
    t = out.transfer
    assert t is not None  # the runner always reports a throughput case's transfer
    r = rates(size, t.seconds, t.minimal, baud or None) if out.accepted else None
    old = rates(size, t.seconds, t.wire, baud or None) if out.accepted else None
    rate = (
        ""
        if r is None
        else (
            f"{r.throughput_bps / 1e6:.2f} MB/s"
            if not baud
            else f"{r.throughput_bps / 1e3:.1f} KB/s"
        )
    )
    return [
        case.direction,
        str(baud or "unthrottled"),
        ", ".join(faults) or "faithful",
        short_name(case.suite),
        str(size),
        f"{t.seconds:.3f}",
        rate,
        f"{r.line_ratio:.3f}" if r and r.line_ratio is not None else "-",
        f"{r.framing_ratio:.3f}" if r and r.framing_ratio is not None else "-",
        f"{old.framing_ratio:.3f}" if old and old.framing_ratio is not None else "-",
        f"{out.handshake_ms or 0:.1f}",
        "yes" if out.accepted else f"NO: {out.detail}",
    ]


# -- harness overhead ---------------------------------------------------------------------


class Stopwatch:
    """Accumulates wall time per bucket by wrapping methods (nested wrappers both count)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)

    def wrap(self, owner: object, name: str, bucket: str) -> Callable[[], None]:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[bucket] += time.perf_counter() - started

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)


def bench_overhead(sets: CertSets, include_slow: bool) -> str:
    scenarios = [s for s in SCENARIOS if s.family == "handshake" and (include_slow or not s.slow)]
    started = time.perf_counter()
    for name in dict.fromkeys(s.certs for s in scenarios):
        sets.get(name)
    build_ms = 1000 * (time.perf_counter() - started)
    sim, device = open_device(0)
    watch = Stopwatch()
    undo = [
        watch.wrap(device, "execute", "device"),
        watch.wrap(device, "start_ssl", "ssl"),
        watch.wrap(device, "set_ca", "ca"),
        watch.wrap(device, "get_ca", "ca"),
        watch.wrap(device, "clear_ca", "ca"),
        watch.wrap(sets, "get", "certs"),
        watch.wrap(TLSServer, "__init__", "server"),
        watch.wrap(TLSServer, "start", "server"),
        watch.wrap(TLSServer, "stop", "server"),
        watch.wrap(TLSServer, "wait_bytes_in", "wait"),
    ]
    runner = ScenarioRunner(device, sets)
    rows, harness_ms, device_ms = [], [], []
    try:
        for scenario in scenarios:
            watch.totals.clear()
            t0 = time.perf_counter()
            outcome = runner.run(scenario)
            total = 1000 * (time.perf_counter() - t0)
            ms = {k: 1000 * v for k, v in watch.totals.items()}
            harness = total - ms.get("device", 0.0)
            harness_ms.append(harness)
            device_ms.append(ms.get("device", 0.0))
            accounted = ms.get("certs", 0) + ms.get("server", 0) + ms.get("wait", 0)
            rows.append(
                [
                    scenario.id,
                    str(outcome),
                    f"{total:.1f}",
                    f"{ms.get('device', 0):.1f}",
                    f"{ms.get('ssl', 0):.1f}",
                    f"{ms.get('ca', 0):.1f}",
                    f"{harness:.1f}",
                    f"{ms.get('certs', 0):.2f}",
                    f"{ms.get('server', 0):.1f}",
                    f"{ms.get('wait', 0):.1f}",
                    f"{harness - accounted:.1f}",
                ]
            )
    finally:
        for restore in undo:
            restore()
        device.close_port()
        sim.stop()
    rows.append(
        [
            f"**median of {len(scenarios)}**",
            "",
            "",
            f"{statistics.median(device_ms):.1f}",
            "",
            "",
            f"{statistics.median(harness_ms):.1f}",
            "",
            "",
            "",
            "",
        ]
    )
    head = [
        "scenario",
        "outcome",
        "total ms",
        "device ms",
        "of which AT+iSSL",
        "of which CA",
        "harness ms",
        "certs",
        "server setup/start/stop",
        "waiting for server",
        "other",
    ]
    note = (
        f"\nOne-time certificate build for these scenarios: {build_ms:.0f} ms "
        "(keys cached per process).\n"
    )
    return (
        table("Harness overhead per handshake scenario (unthrottled simulator)", head, rows) + note
    )


# -- whole matrix -------------------------------------------------------------------------


def bench_matrix() -> str:
    # One timed run each, the way bench/matrix_time.py times them (it takes the median of
    # several and writes the scheduling floor beside them).
    env = matrix_time.child_env(as_is=True)
    rows = []
    for label, workers in (("single process", 0), ("-n 2", 2)):
        run = matrix_time.run_once(workers, [], env)
        rows.append([label, f"{run.wall_s:.1f}", run.summary])
    return table("Whole matrix: `pytest suites` wall time", ["run", "wall s", "result"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated, from {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument(
        "--all-suites",
        action="store_true",
        help="every suite at every baud rate (default: all five unthrottled "
        "and at 921600, AES128-SHA elsewhere)",
    )
    parser.add_argument(
        "--unthrottled-bytes",
        type=int,
        default=1 << 20,
        help="transfer size on the unthrottled line (default 1 MB)",
    )
    parser.add_argument(
        "--include-slow",
        action="store_true",
        help="overhead: include slow scenarios (a 5 s stalled handshake)",
    )
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {list(PARTS)}")
    sets = CertSets(PROFILE)
    sections = []
    for part in parts:
        started = time.perf_counter()
        if part == "throughput":
            text = bench_throughput(sets, args.all_suites, args.unthrottled_bytes)
        elif part == "overhead":
            text = bench_overhead(sets, args.include_slow)
        else:
            text = bench_matrix()
        text += f"\n_{part}: {time.perf_counter() - started:.1f} s_\n"
        print(text, flush=True)
        sections.append(text)
    if args.markdown:
        args.markdown.write_text("\n".join(sections), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
