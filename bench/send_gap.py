"""Benchmark (not a test): where each SSND's time goes beyond its line time at 921600 baud.

    .venv/bin/python bench/send_gap.py [--chunks 40] [--baud 921600]

Runs the simulator in this process (so its methods can be timed) on a pty paced to the baud
rate, opens a TLS 1.0 AES128-SHA session to a local OpenSSL server, and sends 2048-byte SSNDs
one after the other as the driver does. Prints the time per chunk against the line time of
its bytes, and the median time the simulator spends in each step after the last byte arrived:
handing the command from its reader thread to its worker, the SSND handler (TLS record, MAC,
cipher, socket send), and writing the reply. The simulator shares this process's GIL with the
driver and the server here, so the figures are an upper bound for `w24 sim` on its own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from line_rate import AES128, PROFILE, TLS1, CertSets  # noqa: E402

from w24_harness.at.commands import encode_ssnd  # noqa: E402
from w24_harness.device.w24 import W24  # noqa: E402
from w24_harness.runner.scenario import ca_loaded  # noqa: E402
from w24_harness.servers import TLSServer  # noqa: E402
from w24_harness.servers.base import ServerConfig  # noqa: E402
from w24_harness.sim import line  # noqa: E402
from w24_harness.sim.device import SimDevice  # noqa: E402
from w24_harness.sim.server import Simulator, SimulatorConfig  # noqa: E402

SPANS: dict[str, list[tuple[float, float]]] = {}


def timed(owner: type, name: str) -> None:
    original: Callable[..., object] = getattr(owner, name)

    def wrapper(self: object, *args: object, **kwargs: object) -> object:
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            SPANS.setdefault(name, []).append((start, time.perf_counter()))

    setattr(owner, name, wrapper)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--baud", type=int, default=921600)
    args = parser.parse_args()
    for owner, name in ((line.LineSession, "_dispatch"), (SimDevice, "handle")):
        timed(owner, name)
    timed(line.LineSession, "write")
    sets = CertSets(PROFILE.resolved())
    # Echo off: the only writes are the replies (with echo on, the header echo is one too).
    sim = Simulator(SimulatorConfig(profile=PROFILE, baud=args.baud, echo=False))
    sim.start_pty()
    device = W24.open(sim.url, baud=args.baud, profile=PROFILE)
    device.resync()
    certs = sets.get("valid")
    assert certs.server is not None
    config = ServerConfig(
        cert=certs.server, backend="openssl", versions=(TLS1,), suites=(AES128,), bind="127.0.0.1"
    )
    payload = bytes(2048)
    try:
        with ca_loaded(device, certs.ca_pem), TLSServer(config) as server:
            handle = device.open_tcp("127.0.0.1", server.port)
            device.start_ssl(handle)
            SPANS.clear()
            started = time.perf_counter()
            for _ in range(args.chunks):
                device.send_raw(handle, payload)
            per_chunk = (time.perf_counter() - started) / args.chunks
            device.close(handle)
    finally:
        device.close_port()
        sim.stop()
    line_s = len(encode_ssnd(handle, payload, True)) / (args.baud / 10)
    print(f"per chunk {per_chunk * 1e3:.2f} ms; its bytes take {line_s * 1e3:.2f} ms of line time")
    print(f"beyond the line: {(per_chunk - line_s) * 1e3:.2f} ms, of which (medians):")
    dispatch = SPANS["_dispatch"][-args.chunks :]
    handled = SPANS["handle"][-args.chunks :]
    gaps = [(h[0] - d[0]) * 1e3 for d, h in zip(dispatch, handled, strict=True)]
    handler = statistics.median((b - a) * 1e3 for a, b in handled)
    writes = SPANS["write"][-args.chunks :]
    reply = statistics.median((b - a) * 1e3 for a, b in writes)
    print(f"  reader -> worker hand-off  {statistics.median(gaps):.3f} ms")
    print(f"  SSND handler               {handler:.3f} ms")
    print(f"  writing the reply          {reply:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
