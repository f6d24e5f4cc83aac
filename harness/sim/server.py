"""Run the simulated W24 behind a pty or a TCP listener, in this process or as a child process."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from w24_harness.listener import accepted, stop_listening
from w24_harness.profiles.files import profile_from_mapping, profile_to_mapping
from w24_harness.profiles.table import DeviceProfile, get_profile
from w24_harness.sim.device import SimDevice
from w24_harness.sim.faults import Faults
from w24_harness.sim.line import InputOverrun, LineSession, SocketLink, open_pty
from w24_harness.sim.nvram import NVRam
from w24_harness.sim.status import SimStatus
from w24_harness.sim.variants import Variants
from w24_harness.vocab import LineDirection


class LineLog:
    """The simulator side of the transcript (`--log FILE`): one line per chunk, escaped."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._t0 = time.monotonic()

    def _emit(self, tag: str, text: str) -> None:
        if self._stream is None:
            return
        with self._lock:
            self._stream.write(f"{time.monotonic() - self._t0:10.4f} {tag} {text}\n")
            self._stream.flush()

    def record(self, direction: str, data: bytes) -> None:
        if self._stream is None:
            return
        shown = data[:512].decode("latin-1").encode("unicode_escape").decode("ascii")
        more = f"... ({len(data)} bytes)" if len(data) > 512 else ""
        self._emit("<-" if direction == LineDirection.RX else "->", shown + more)

    def note(self, text: str) -> None:
        self._emit("##", text)


@dataclass
class SimulatorConfig:
    profile: DeviceProfile = field(default_factory=lambda: get_profile("w24"))
    baud: int = 0
    state: Path | None = None
    faults: Faults = field(default_factory=Faults)
    # Correct-firmware variants (w24_harness.sim.variants): their profile overrides apply here.
    variants: Variants = field(default_factory=Variants)
    echo: bool | None = None
    log: Path | None = None
    status: Path | None = None  # where the internal-error count goes (w24_harness.sim.status)
    overrun: bool = False  # the UART input-overrun model (line.InputOverrun); needs a baud
    engine: str = "tlslite"  # the TLS stack behind the AT front end (w24_harness.sim.engines)


class Simulator:
    """A W24 in this process. `start_pty()` or `start_tcp()`, then `url`, then `stop()`."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._log_file = open(self.config.log, "a", encoding="utf-8") if self.config.log else None
        self.log = LineLog(self._log_file)
        profile = self.config.profile
        if self.config.echo is not None:
            profile = profile.with_changes(echo_default=self.config.echo)
        nvram = NVRam(self.config.state)
        self.device = SimDevice(
            profile,
            nvram,
            self.config.faults,
            self.log.note,
            engine=self.config.engine,
            variants=self.config.variants,
        )
        self.device.line_baud = self.config.baud
        self.device.on_internal_error = self._save_status
        self._save_status()
        self.stop_event = threading.Event()
        self.url = ""
        self._threads: list[threading.Thread] = []
        self._closers: list = []
        self._listeners: list[socket.socket] = []  # start_tcp's, shut first by stop()

    @property
    def status(self) -> SimStatus:
        return SimStatus(self.device.internal_errors, self.device.last_internal_error)

    def _save_status(self) -> None:
        if self.config.status is not None:
            self.status.save(self.config.status)

    def _session(self, link) -> None:
        LineSession(
            self.device,
            link,
            baud=self.config.baud,
            stop=self.stop_event,
            record=self.log.record,
            overrun=InputOverrun() if self.config.overrun else None,
        ).run()

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def start_pty(self) -> str:
        link, path = open_pty()
        self._closers.append(link.close)
        self.url = path
        self._spawn(lambda: self._session(link), "w24sim-pty")
        return path

    def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        listener = socket.create_server((host, port), reuse_port=False)
        listener.settimeout(0.2)
        self._listeners.append(listener)
        bound_host, bound_port = listener.getsockname()[:2]
        self.url = f"socket://{bound_host}:{bound_port}"

        def serve() -> None:
            # One host connection at a time, as a serial line has one host.
            for conn in accepted(listener, self.stop_event):
                link = SocketLink(conn)
                self.log.note(f"host connected from {conn.getpeername()}")
                try:
                    self._session(link)
                finally:
                    link.close()
                    self.log.note("host disconnected")

        self._spawn(serve, "w24sim-tcp")
        return self.url

    def stop(self) -> None:
        self.stop_event.set()
        for listener in self._listeners:
            stop_listening(listener)  # its accept loop ends now, not at its next timeout
        for thread in self._threads:
            thread.join(timeout=5)
        self.device.shutdown()
        for close in self._closers:
            close()
        if self._log_file:
            self._log_file.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# The environment variable that carries a SimulatorProcess's whole profile and faults to the
# child (`w24 sim --spec-env`): any profile, built-in or from a file, arrives field for field.
SPEC_ENV = "W24_SIM_SPEC"


def encode_spec(profile: DeviceProfile, faults: Faults, variants: Variants | None = None) -> str:
    return json.dumps(
        {
            "profile": profile_to_mapping(profile),
            "faults": faults.active(),
            "variants": (variants or Variants()).active(),
        }
    )


def decode_variants(text: str) -> Variants:
    """The variants encode_spec wrote (none in a spec without them)."""
    try:
        return Variants.parse(json.loads(text).get("variants", []))
    except (AttributeError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"${SPEC_ENV} is not a simulator spec: {exc}") from None


def decode_spec(text: str) -> tuple[DeviceProfile, Faults]:
    """The profile and faults encode_spec wrote (ValueError when it is not one)."""
    try:
        data = json.loads(text)
        profile = profile_from_mapping(data["profile"], f"${SPEC_ENV}", "simulated")
        return profile, Faults.from_names(data["faults"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"${SPEC_ENV} is not a simulator spec: {exc}") from None


class SimulatorProcess:
    """`w24 sim` as a child process: what the pytest plugin uses, so the device is a real peer.

    With `profile` (and `faults`), the whole DeviceProfile travels to the child serialized in
    $W24_SIM_SPEC, not as a name: a profile read from a file or changed in code runs unchanged.
    """

    def __init__(
        self,
        args: list[str],
        startup_timeout: float = 20.0,
        *,
        profile: DeviceProfile | None = None,
        faults: Faults | None = None,
        status: Path | None = None,
        wait: bool = True,
        variants: Variants | None = None,
    ) -> None:
        """Start it; with `wait` (the default) also wait until it is ready (wait_ready), else
        the caller does, and meanwhile does other work while the child boots (0.25 s)."""
        self.status_path = status
        self._startup_timeout = startup_timeout
        self.url = ""
        self.returncode: int | None = None
        status_args = ["--status", str(status)] if status is not None else []
        cmd = [sys.executable, "-m", "w24_harness.sim", *args, *status_args]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop(SPEC_ENV, None)
        if profile is not None or faults is not None or variants is not None:
            env[SPEC_ENV] = encode_spec(profile or get_profile("w24"), faults or Faults(), variants)
            cmd.append("--spec-env")
        # stderr goes to a file: a pipe nobody drains could fill up and stall the simulator.
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._cmd = cmd
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True
        )
        if wait:
            self.wait_ready()

    def wait_ready(self) -> str:
        """Its URL, once it has printed it (at most startup_timeout after the start)."""
        if self.url:
            return self.url
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], self._startup_timeout)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line:
            self._stderr.seek(0)
            err = self._stderr.read()  # before stop(), which closes it
            self.stop()
            raise RuntimeError(f"simulator did not start ({' '.join(self._cmd)}): {err.strip()}")
        self.url = line
        return line

    def status(self) -> SimStatus:
        """Its internal errors so far (none known without a status file)."""
        return SimStatus.load(self.status_path) if self.status_path else SimStatus()

    def stop(self) -> int | None:
        """Stop it; its exit status (3: it had internal errors, see `w24 sim`)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.returncode = self.proc.returncode
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()
        return self.returncode

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
