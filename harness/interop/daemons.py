"""Real TLS daemons as the field runs them: nginx, stunnel, gnutls-serv, vsftpd, openssl s_server.

Each is started from a config written into a fresh directory, with certificates from our PKI (or
an administrator's own), in the foreground so it is stopped by its process id. Daemons listen on
loopback; the device reaches them through a RecordRelay (w24_harness.interop.relay) bound to the
harness's address. gnutls-serv has no listen-address option (it binds every interface), so it
runs in a private network namespace holding only its own loopback, and is reached from there.

The configurations themselves are in w24_harness.interop.daemon_configs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from w24_harness.interop import daemon_configs as configs
from w24_harness.interop.daemon_configs import ConfigContext, TLSSettings
from w24_harness.interop.echo import BannerEchoService

__all__ = [
    "SPECS",
    "App",
    "Daemon",
    "DaemonError",
    "DaemonKind",
    "DaemonSpec",
    "ServerFiles",
    "TLSSettings",
]

CLONE_NEWNET = 0x40000000  # <sched.h>
TCP_LISTEN = "0A"  # socket state in /proc/net/tcp
_ERROR_WORDS = ("error", "emerg", "oops", "fail", "invalid", "unknown")


class DaemonKind(StrEnum):
    NGINX = "nginx"
    STUNNEL = "stunnel"
    GNUTLS = "gnutls-serv"
    VSFTPD = "vsftpd"
    VSFTPD_AUTH_TLS = "vsftpd-auth-tls"  # the same daemon, explicit FTPS (AUTH TLS)
    S_SERVER = "s_server"


class App(StrEnum):
    """What the daemon does once the TLS session is up."""

    HTTP_ECHO = "https GET of a file, POST echoed back (nginx echo module)"
    BANNER_ECHO = "banner line, then every byte echoed (plain service behind stunnel)"
    ECHO = "every byte echoed"
    FTP_BANNER = "FTP 220 banner over implicit TLS, QUIT answered 221"
    # Explicit FTPS (RFC 4217 §4): banner and AUTH TLS in the clear, the handshake on the same
    # connection (w24_harness.interop.daemon_session.starttls), then QUIT answered 221 inside TLS.
    FTP_AUTH_TLS = "FTP AUTH TLS on the plain control connection, then QUIT answered 221 in TLS"
    STATUS_PAGE = "GET / answered with the s_server status page (-www)"


@dataclass(frozen=True)
class DaemonSpec:
    kind: DaemonKind
    package: str  # the Debian package that provides it
    command: str
    app: App
    library: str  # the TLS library it links (what decides which suites it can offer)
    configure: Callable[[ConfigContext], list[str]]  # writes its config, returns its argv
    private_netns: bool = False
    needs_root: str = ""  # why it must run as root, if it must

    def missing(self) -> str | None:
        """Why this daemon cannot run here (None: it can)."""
        if shutil.which(self.command) is None:
            return f"{self.command} is not installed (apt-get install {self.package})"
        if self.needs_root and os.geteuid() != 0:
            return f"{self.command} must run as root: {self.needs_root}"
        if self.private_netns:
            if os.geteuid() != 0:
                return (
                    f"{self.command} binds every interface; running it in a private "
                    "network namespace needs root"
                )
            if shutil.which("unshare") is None or shutil.which("ip") is None:
                return f"{self.command} needs unshare and ip (apt-get install util-linux iproute2)"
        return None


SPECS: dict[DaemonKind, DaemonSpec] = {
    s.kind: s
    for s in (
        DaemonSpec(
            DaemonKind.NGINX, "nginx-light", "nginx", App.HTTP_ECHO, "OpenSSL", configs.nginx_config
        ),
        DaemonSpec(
            DaemonKind.STUNNEL,
            "stunnel4",
            "stunnel4",
            App.BANNER_ECHO,
            "OpenSSL",
            configs.stunnel_config,
        ),
        DaemonSpec(
            DaemonKind.GNUTLS,
            "gnutls-bin",
            "gnutls-serv",
            App.ECHO,
            "GnuTLS",
            configs.gnutls_config,
            private_netns=True,
        ),
        DaemonSpec(
            DaemonKind.VSFTPD,
            "vsftpd",
            "vsftpd",
            App.FTP_BANNER,
            "OpenSSL",
            configs.vsftpd_config,
            needs_root="it chroots each session and drops privileges",
        ),
        DaemonSpec(
            DaemonKind.VSFTPD_AUTH_TLS,
            "vsftpd",
            "vsftpd",
            App.FTP_AUTH_TLS,
            "OpenSSL",
            configs.vsftpd_auth_tls_config,
            needs_root="it chroots each session and drops privileges",
        ),
        DaemonSpec(
            DaemonKind.S_SERVER,
            "openssl",
            "openssl",
            App.STATUS_PAGE,
            "OpenSSL",
            configs.s_server_config,
        ),
    )
}


@dataclass(frozen=True)
class ServerFiles:
    """What the daemon presents: certificate (with any chain after it) and key, as PEM."""

    cert_pem: bytes
    key_pem: bytes


class DaemonError(Exception):
    """The daemon did not start or did not listen; the message holds its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _listening(pid: int, port: int) -> bool:
    """Is `port` in LISTEN state in the network namespace of `pid` (/proc/<pid>/net/tcp*)?"""
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if (
                len(cols) > 3
                and cols[3] == TCP_LISTEN
                and int(cols[1].rsplit(":", 1)[1], 16) == port
            ):
                return True
    return False


def connect_in_netns(pid: int, port: int, timeout: float = 5.0) -> socket.socket:
    """A TCP connection to 127.0.0.1:port inside the network namespace of `pid`.

    setns() moves only the calling thread, so a short-lived thread enters the namespace and
    opens the socket; the socket stays in that namespace when used from any other thread.
    """
    result: queue.Queue[socket.socket | BaseException] = queue.Queue()

    def run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into the namespace of pid {pid}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result.put(socket.create_connection(("127.0.0.1", port), timeout=timeout))
        except BaseException as exc:  # handed to the caller's thread
            result.put(exc)

    thread = threading.Thread(target=run, name="netns-connect", daemon=True)
    thread.start()
    got = result.get(timeout=timeout + 5)
    if isinstance(got, BaseException):
        raise got
    got.settimeout(None)
    return got


class Daemon:
    """One daemon process. Use as a context manager; the config lives in `workdir`."""

    def __init__(
        self,
        spec: DaemonSpec,
        workdir: Path,
        files: ServerFiles,
        tls: TLSSettings,
        startup_timeout: float = 10.0,
    ) -> None:
        self.spec = spec
        self.tls = tls
        self.workdir = workdir
        self.startup_timeout = startup_timeout
        workdir.mkdir(parents=True, exist_ok=True)
        cert, key = workdir / "server.crt", workdir / "server.key"
        cert.write_bytes(files.cert_pem)
        key.write_bytes(files.key_pem)
        os.chmod(key, 0o600)
        self.backend = BannerEchoService() if spec.app is App.BANNER_ECHO else None
        self.ctx = ConfigContext(
            workdir,
            free_port(),
            cert,
            key,
            tls,
            backend_port=self.backend.port if self.backend else 0,
        )
        self.argv = spec.configure(self.ctx)
        self.proc: subprocess.Popen[bytes] | None = None
        self._out = workdir / "stdout.log"

    @property
    def port(self) -> int:
        return self.ctx.port

    def start(self) -> Daemon:
        with self._out.open("wb") as out:
            # Its own process group: stop() ends the daemon's children (vsftpd forks per
            # connection) with it, and nothing else.
            # stdin too: vsftpd writes its "500 OOPS" start-up errors to descriptor 0.
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=out,
                env={**os.environ, **self.ctx.env},
                start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_timeout
        while not _listening(self.proc.pid, self.port):
            if self.proc.poll() is not None:
                self.stop()
                raise DaemonError(
                    f"{self.spec.command} exited with {self.proc.returncode} "
                    f"before listening: {self.last_lines()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise DaemonError(
                    f"{self.spec.command} not listening on port {self.port} "
                    f"after {self.startup_timeout} s"
                )
            time.sleep(0.02)
        return self

    def connect(self) -> socket.socket:
        """A plain TCP connection to the daemon (what the relay forwards to)."""
        assert self.proc is not None, "start() first"
        if self.spec.private_netns:
            return connect_in_netns(self.proc.pid, self.port)
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def _logs(self) -> tuple[Path, Path]:
        return (self.ctx.log, self._out)  # its log file, then what it printed

    def log_mark(self) -> tuple[int, ...]:
        """Where the logs end now: log_text(since=mark) is what was logged after it."""
        return tuple(p.stat().st_size if p.exists() else 0 for p in self._logs())

    def log_text(self, since: tuple[int, ...] | None = None) -> str:
        """The daemon's log, all of it or what came after a log_mark()."""
        parts = []
        for i, path in enumerate(self._logs()):
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(since[i] if since else 0)
                    parts.append(fh.read().decode(errors="replace"))
        return "\n".join(parts)

    def last_lines(self, count: int = 3) -> str:
        """The log lines that say why, for an error message: the last ones naming an error,
        else the last lines."""
        lines = [ln.strip() for ln in self.log_text().splitlines() if ln.strip()]
        errors = [ln for ln in lines if any(w in ln.lower() for w in _ERROR_WORDS)]
        return " | ".join((errors or lines)[-count:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.proc is not None:
            try:  # children left in the group (a vsftpd session process)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.backend is not None:
            self.backend.stop()

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
