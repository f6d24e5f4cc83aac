"""ser2net as a child process: one serial device exported as RFC 2217 on a loopback address.

What a lab does to put a W24 on the network (and what labgrid's exporter does on acquire), here
so that tests and benches can reach a tty -- or the pty of `w24 sim --pty` -- through a real
RFC 2217 server. The accepter always names its address: ser2net binds every interface when it
is left out. The options are the low-latency ones (README, "Over the network"): TCP_NODELAY,
no character delay, 4 KiB buffers; ser2net's defaults add ~40 ms to a handshake (Nagle against
delayed ACKs).
"""

from __future__ import annotations

import errno
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SER2NET = "ser2net"


class Ser2netError(RuntimeError):
    """ser2net is missing, or did not start listening in time."""


@dataclass(frozen=True)
class Ser2netConfig:
    device: str  # tty path, e.g. the pty `w24 sim --pty` printed
    port: int  # TCP port to listen on
    host: str = "127.0.0.1"
    baud: int = 115200
    low_latency: bool = True  # nodelay, no chardelay, 4 KiB buffers

    def yaml(self) -> str:
        tcp = "tcp(nodelay=true)" if self.low_latency else "tcp"
        lines = [
            "%YAML 1.1",
            "---",
            "connection: &w24",
            f"  accepter: telnet(rfc2217,mode=server),{tcp},{self.host},{self.port}",
            # nouucplock: a pty has no uucp lock directory entry; local: ignore modem lines.
            f"  connector: serialdev(nouucplock=true),{self.device},{self.baud}n81,local",
            "  options:",
            "    max-connections: 1",  # one host on the line, as on a bench
        ]
        if self.low_latency:
            lines += [
                "    chardelay: false",
                "    dev-to-net-bufsize: 4096",
                "    net-to-dev-bufsize: 4096",
            ]
        return "\n".join(lines) + "\n"


def available() -> str | None:
    """Path of the ser2net binary, or None."""
    return shutil.which(SER2NET) or next(
        (p for p in ("/usr/sbin/ser2net", "/usr/local/sbin/ser2net") if Path(p).exists()), None
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening(host: str, port: int) -> bool:
    # Probe by binding, not connecting: a connection would make ser2net open the device.
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


class Ser2net:
    """Start ser2net in the foreground (-n) on `config`; stop() ends it by its pid."""

    def __init__(self, config: Ser2netConfig, startup_timeout: float = 10.0) -> None:
        binary = available()
        if binary is None:
            raise Ser2netError("ser2net is not installed (Debian/Ubuntu: apt-get install ser2net)")
        self.config = config
        self._dir = tempfile.TemporaryDirectory(prefix="w24-ser2net-")
        conf = Path(self._dir.name) / "ser2net.yaml"
        conf.write_text(config.yaml(), encoding="ascii")
        self._log = open(Path(self._dir.name) / "ser2net.log", "w+")  # noqa: SIM115
        # -n: stay in the foreground (our child, our pid); -d: log to stderr, not syslog;
        # -P: a pid file of its own, not /run/ser2net.pid which another instance may own.
        self.proc = subprocess.Popen(
            [binary, "-n", "-d", "-c", str(conf), "-P", str(Path(self._dir.name) / "pid")],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + startup_timeout
        while not listening(config.host, config.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log_text()
                self.stop()
                raise Ser2netError(
                    f"ser2net did not listen on {config.host}:{config.port}: {log.strip()}"
                )
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"rfc2217://{self.config.host}:{self.config.port}"

    def log_text(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=6)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        self._dir.cleanup()

    def __enter__(self) -> Ser2net:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
