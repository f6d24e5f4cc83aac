"""Run the simulated W24 behind a pty or a TCP listener, in this process or as a child process."""

from __future__ import annotations

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

from w24_harness.profiles import DeviceProfile, get_profile
from w24_harness.sim.device import SimDevice
from w24_harness.sim.faults import Faults
from w24_harness.sim.line import InputOverrun, LineSession, SocketLink, open_pty
from w24_harness.sim.nvram import NVRam


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
        shown = data[:512].decode("latin-1").encode("unicode_escape").decode("ascii")
        more = f"... ({len(data)} bytes)" if len(data) > 512 else ""
        self._emit("<-" if direction == "rx" else "->", shown + more)

    def note(self, text: str) -> None:
        self._emit("##", text)


@dataclass
class SimulatorConfig:
    profile: DeviceProfile = field(default_factory=lambda: get_profile("w24"))
    baud: int = 0
    state: Path | None = None
    faults: Faults = field(default_factory=Faults)
    echo: bool | None = None
    log: Path | None = None
    overrun: bool = False  # the UART input-overrun model (line.InputOverrun); needs a baud


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
        self.device = SimDevice(profile, nvram, self.config.faults, self.log.note)
        self.stop_event = threading.Event()
        self.url = ""
        self._threads: list[threading.Thread] = []
        self._closers: list = []

    def _session(self, link) -> None:
        LineSession(
            self.device, link, baud=self.config.baud, stop=self.stop_event,
            record=self.log.record, overrun=InputOverrun() if self.config.overrun else None,
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
        self._closers.append(listener.close)
        bound_host, bound_port = listener.getsockname()[:2]
        self.url = f"socket://{bound_host}:{bound_port}"

        def serve() -> None:
            # One host connection at a time, as a serial line has one host.
            while not self.stop_event.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
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


class SimulatorProcess:
    """`w24 sim` as a child process: what the pytest plugin uses, so the device is a real peer."""

    def __init__(self, args: list[str], startup_timeout: float = 20.0) -> None:
        cmd = [sys.executable, "-m", "w24_harness.sim", *args]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # stderr goes to a file: a pipe nobody drains could fill up and stall the simulator.
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], startup_timeout)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line:
            self.stop()
            self._stderr.seek(0)
            err = self._stderr.read()
            raise RuntimeError(f"simulator did not start ({' '.join(cmd)}): {err.strip()}")
        self.url = line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
