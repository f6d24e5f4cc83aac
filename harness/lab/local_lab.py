"""A labgrid lab on this machine: W24 simulators as places, for tests and for trying it out.

    python -m w24_harness.lab.local_lab --places 2 --tags lab=ci
    # prints LG_COORDINATOR=127.0.0.1:PORT; then, in another shell:
    LG_COORDINATOR=127.0.0.1:PORT ./w24-test suites -n 2 --w24-lg-tags lab=ci

It starts `w24 sim --pty` per place, a labgrid coordinator on 127.0.0.1 with the places
pre-seeded (places.yaml), and a labgrid exporter publishing each pty as a RawSerialPort: on
acquire, the exporter starts ser2net for it and publishes the RFC 2217 port, as in a real lab.
labgrid's exporter starts ser2net on *every* interface (its accepter names no address), so the
exporter runs with a ser2net shim first on its PATH that binds 127.0.0.1 only. Every process
is started and stopped here, by its pid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from w24_harness.lab import ser2net
from w24_harness.lab.ser2net import free_port
from w24_harness.sim.server import SimulatorProcess

EXPORTER = "w24-lab"

# The shim labgrid's exporter runs instead of ser2net: the same command line with the accepter
# bound to 127.0.0.1, then exec of the real ser2net (so the pid the exporter holds is its).
# Its pid goes to a file, so the lab can make sure no ser2net outlives it.
_SHIM = """#!{python}
import os, re, sys
args = [re.sub(r"\\),tcp,(\\d+)$", r"),tcp,127.0.0.1,\\1", a) for a in sys.argv[1:]]
with open({pids!r}, "a") as f:
    f.write(f"{{os.getpid()}}\\n")
os.execv({real!r}, [{real!r}, *args])
"""


class LabError(RuntimeError):
    """labgrid or ser2net is missing, or a lab process did not come up."""


def missing() -> str | None:
    """Why a local lab cannot run here, or None."""
    if shutil.which("labgrid-coordinator", path=_bin_path()) is None:
        return "labgrid is not installed (pip install 'w24-harness[labgrid]')"
    if ser2net.available() is None:
        return "ser2net is not installed (apt-get install ser2net)"
    return None


def _bin_path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _tool(name: str) -> str:
    found = shutil.which(name, path=_bin_path())
    if found is None:
        raise LabError(f"{name} not found: pip install 'w24-harness[labgrid]'")
    return found


@dataclass
class LocalLab:
    places: int = 2
    tags: dict[str, str] = field(default_factory=lambda: {"lab": "ci"})
    profile: str = "w24"
    sim_args: list[str] = field(default_factory=list)
    name_prefix: str = "w24-sim"

    def __post_init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="w24-lab-"))
        self.coordinator = ""
        self.place_names = [f"{self.name_prefix}-{i + 1}" for i in range(self.places)]
        self._sims: list[SimulatorProcess] = []
        self._procs: list[tuple[str, subprocess.Popen]] = []

    # -- start --------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> LocalLab:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        reason = missing()
        if reason:
            raise LabError(reason)
        for _ in self.place_names:
            args = ["--pty", "--profile", self.profile, *self.sim_args]
            self._sims.append(SimulatorProcess(args))
        port = free_port()
        self.coordinator = f"127.0.0.1:{port}"
        self._write_places()
        self._spawn(
            "coordinator", [_tool("labgrid-coordinator"), "-l", self.coordinator], cwd=self.dir
        )
        self._wait(lambda: ser2net.listening("127.0.0.1", port), timeout, "coordinator")
        shim_dir = self._write_shim()
        config = self._write_exporter_config()
        env = dict(os.environ, PATH=os.pathsep.join([str(shim_dir), _bin_path()]))
        self._spawn(
            "exporter",
            [
                _tool("labgrid-exporter"),
                "-c",
                self.coordinator,
                "-n",
                EXPORTER,
                "--hostname",
                "127.0.0.1",
                str(config),
            ],
            env=env,
        )
        self._wait(self._exported, timeout, "exporter")

    def _write_places(self) -> None:
        now = time.time()
        places = {
            name: {
                "aliases": [],
                "comment": "W24 simulator",
                "tags": {**self.tags, "profile": self.profile},
                "matches": [
                    {"exporter": EXPORTER, "group": name, "cls": "NetworkSerialPort", "name": None}
                ],
                "created": now,
                "changed": now,
            }
            for name in self.place_names
        }
        (self.dir / "places.yaml").write_text(json.dumps(places, indent=1))  # JSON is YAML

    def _write_shim(self) -> Path:
        real = ser2net.available()
        assert real is not None
        shim_dir = self.dir / "bin"
        shim_dir.mkdir()
        shim = shim_dir / "ser2net"
        shim.write_text(
            _SHIM.format(python=sys.executable, pids=str(self.dir / "ser2net.pids"), real=real)
        )
        shim.chmod(0o755)
        return shim_dir

    def _write_exporter_config(self) -> Path:
        # A Jinja2 template to the exporter: comments must start with '##'.
        lines = ["## W24 simulators on ptys; the exporter runs ser2net for each on acquire"]
        for name, sim in zip(self.place_names, self._sims, strict=True):
            lines += [f"{name}:", "  RawSerialPort:", f'    port: "{sim.url}"', "    speed: 115200"]
        path = self.dir / "exporter.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _spawn(self, what: str, cmd: list[str], **kwargs: object) -> None:
        log = open(self.dir / f"{what}.log", "w")  # noqa: SIM115 - closed with the lab dir
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
        log.close()
        self._procs.append((what, proc))

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [w for w, p in self._procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                log = (self.dir / f"{what}.log").read_text(errors="replace")[-2000:]
                raise LabError(f"labgrid {what} did not come up: {log}")
            time.sleep(0.1)

    def _exported(self) -> bool:
        from labgrid.remote.client import start_session

        session = start_session(self.coordinator)
        try:
            groups = session.resources.get(EXPORTER, {})
            return all(name in groups for name in self.place_names)
        finally:
            session.loop.run_until_complete(session.stop())
            session.loop.run_until_complete(session.close())

    # -- stop ---------------------------------------------------------------------------

    def stop(self) -> None:
        # Exporter first: it stops the ser2net processes it started.
        for _what, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self._procs.clear()
        self._stop_stray_ser2net()
        for sim in self._sims:
            sim.stop()
        self._sims.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _stop_stray_ser2net(self) -> None:
        pids_file = self.dir / "ser2net.pids"
        if not pids_file.exists():
            return
        for line in pids_file.read_text().split():
            pid = int(line)
            try:
                os.kill(pid, signal.SIGTERM)  # only pids our own shim recorded
            except ProcessLookupError:
                continue

    def __enter__(self) -> LocalLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m w24_harness.lab.local_lab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--places", type=int, default=2)
    parser.add_argument("--tags", nargs="*", default=["lab=ci"], metavar="KEY=VALUE")
    parser.add_argument("--profile", default="w24")
    args = parser.parse_args(argv)
    tags = dict(t.split("=", 1) for t in args.tags)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        lab = LocalLab(places=args.places, tags=tags, profile=args.profile).start()
    except LabError as exc:
        print(f"local_lab: {exc}", file=sys.stderr)
        return 2
    print(f"LG_COORDINATOR={lab.coordinator}", flush=True)
    print(f"places: {', '.join(lab.place_names)} (tags {tags}); Ctrl-C to stop", file=sys.stderr)
    while not done.wait(0.5):
        pass
    lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
