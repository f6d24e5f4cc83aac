"""Benchmark (not a test): the whole device suites on the hardware path, and what the CA costs.

    python bench/hardware_path.py                  # -n 2, baud-drop pacing
    python bench/hardware_path.py -n 0 --pacing line-gap

Runs `pytest suites` against the simulator as a real module's line behaves: 115200 baud, the
UART receive FIFO modelled (`--w24-sim-overrun`), and a paced AT+iCA= (`--w24-ca-pacing`; the
production driver's 9600-baud load by default). Prints the wall time, the nonvolatile writes and
the floor: the time the serial line itself must take for the bytes the run put on it (CA values
at the 9600-baud load rate, everything else at 115200), per simulator (xdist worker); the run
cannot be faster than its busiest worker's floor.

The writes are counted from the simulators' own logs (`reports/simulator-<worker>.log`, the
bytes the module received), not from the harness's bookkeeping: an `AT+i<slot>=` command, with
a value (a load) or without (a clear), is one write of the module's parameter flash. The same
count works for any harness version, so before/after numbers compare.
"""

from __future__ import annotations

import argparse
import codecs
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BAUD = 115200
CA_BAUD = 9600  # the production driver's CA load rate (harness/device/pacing.py)
BITS_PER_BYTE = 10
# A simulator log line: "<seconds> <tag> <escaped chunk>[... (N bytes)]" (sim/server.LineLog).
LOG_LINE = re.compile(r"^\s*[\d.]+ (<-|->|##) ?(.*)$")
MORE = re.compile(r"\.\.\. \((\d+) bytes\)$")
CA_WRITE = re.compile(rb"AT\+i(CA\d*)=")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LineCount:
    """What one simulator's line carried: bytes each way, CA writes (loads, clears)."""

    bytes_in: int = 0
    bytes_out: int = 0
    ca_bytes: int = 0
    loads: int = 0
    clears: int = 0
    distinct: set[bytes] = field(default_factory=set)

    @property
    def floor_s(self) -> float:
        other = self.bytes_in + self.bytes_out - self.ca_bytes
        return BITS_PER_BYTE * (other / BAUD + self.ca_bytes / CA_BAUD)


def count_log(path: Path) -> LineCount:
    """Reassemble what the module received (only the first 512 bytes of a long chunk are
    logged: the rest is counted by its length) and count the CA writes in it."""
    count = LineCount()
    received = bytearray()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = LOG_LINE.match(line)
        if m is None or m.group(1) == "##":
            continue
        text = m.group(2)
        more = MORE.search(text)
        shown = codecs.decode(MORE.sub("", text), "unicode_escape").encode("latin-1")
        size = int(more.group(1)) if more else len(shown)
        if m.group(1) == "<-":
            count.bytes_in += size
            # The unlogged rest as placeholders: lengths stay right, values stay distinct.
            received += shown + bytes(size - len(shown))
        else:
            count.bytes_out += size
    for m in CA_WRITE.finditer(received):
        # The value runs to the next command (the driver waits for I/OK before sending one).
        stop = received.find(b"AT+i", m.end())
        value = bytes(received[m.end() : stop if stop >= 0 else len(received)])
        count.ca_bytes += len(m.group(0)) + len(value)
        if value.strip(b"\r\n"):
            count.loads += 1
            count.distinct.add(value)
        else:
            count.clears += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", default="2", help="xdist workers (0: one process)")
    parser.add_argument("--pacing", default="baud-drop", choices=["baud-drop", "line-gap"])
    parser.add_argument("--report-dir", type=Path, default=None)
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    report_dir = args.report_dir or Path(tempfile.mkdtemp(prefix="w24-hwpath-"))
    command = [
        sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
        "-n", args.n, "--w24-baud", str(BAUD), "--w24-sim-overrun",
        "--w24-ca-pacing", args.pacing, "--w24-report-dir", str(report_dir),
        *args.pytest_args,
    ]  # fmt: skip
    print("$ " + " ".join(command), flush=True)
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    tail = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
    print(f"pytest exit {done.returncode}: {tail[0]}")
    logs = sorted(report_dir.glob("simulator-*.log"))
    counts = {log.stem.removeprefix("simulator-"): count_log(log) for log in logs}
    print(f"wall time: {wall:.1f} s ({args.n} workers, CA pacing {args.pacing}, {BAUD} baud)")
    for worker, c in counts.items():
        print(
            f"  {worker}: {c.loads} loads + {c.clears} clears = {c.loads + c.clears} writes "
            f"({len(c.distinct)} distinct CAs); line {c.bytes_in} B in, {c.bytes_out} B out, "
            f"{c.ca_bytes} B of CA writes; floor {c.floor_s:.1f} s"
        )
    loads = sum(c.loads for c in counts.values())
    clears = sum(c.clears for c in counts.values())
    floors = [c.floor_s for c in counts.values()] or [0.0]
    print(f"nonvolatile writes: {loads + clears} ({loads} loads, {clears} clears)")
    busiest, together = max(floors), sum(floors)
    print(f"floor: {busiest:.1f} s (busiest worker's line time; all workers {together:.1f} s)")
    results = report_dir / "results.json"
    if results.exists():
        nv = json.loads(results.read_text()).get("nv_writes")
        if nv is not None:
            print(f"the harness's own count (results.json nv_writes): {json.dumps(nv)[:300]}")
    print(f"reports: {report_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
