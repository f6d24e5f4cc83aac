"""Daemon configurations, written the way an administrator would write them.

One function per daemon: it writes the config files into the context's directory and returns the
command line. Cipher and protocol settings are the daemon's own configuration language, fitted to
what the device offers: TLS 1.0 (or SSL 3.0) and the W24 suites, with OpenSSL's security level 0
(OpenSSL 3 refuses SHA-1 and TLS 1.0 above it). Used by w24_harness.interop.daemons.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from w24_harness.profiles.table import SSL3, TLS1
from w24_harness.servers.names import IANA_TO_OPENSSL
from w24_harness.tlsfacts import ProtocolVersion

ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
FTP_BANNER = "w24 field-interop FTPS ready"


@dataclass(frozen=True)
class TLSSettings:
    version: str  # TLS1 or SSL3: the one version the daemon is configured to speak
    suites: tuple[str, ...]  # IANA names, in the administrator's order of preference

    def openssl_ciphers(self) -> str:
        return ":".join(IANA_TO_OPENSSL[s] for s in self.suites) + ":@SECLEVEL=0"

    def gnutls_priority(self) -> str:
        # GnuTLS priorities name ciphers and MACs separately; the suites wanted are exactly
        # the RSA-kx combinations of these (all five W24 suites are such combinations).
        ciphers = {
            "TLS_RSA_WITH_RC4_128_MD5": ("ARCFOUR-128", "MD5"),
            "TLS_RSA_WITH_RC4_128_SHA": ("ARCFOUR-128", "SHA1"),
            "TLS_RSA_WITH_3DES_EDE_CBC_SHA": ("3DES-CBC", "SHA1"),
            "TLS_RSA_WITH_AES_128_CBC_SHA": ("AES-128-CBC", "SHA1"),
            "TLS_RSA_WITH_AES_256_CBC_SHA": ("AES-256-CBC", "SHA1"),
        }
        parts = [ciphers[s] for s in self.suites]
        bulk = dict.fromkeys(c for c, _ in parts)
        macs = dict.fromkeys(m for _, m in parts)
        version = {TLS1: "VERS-TLS1.0", SSL3: "VERS-SSL3.0"}[ProtocolVersion(self.version)]
        items = [
            "NONE",
            f"+{version}",
            "+RSA",
            *(f"+{c}" for c in bulk),
            *(f"+{m}" for m in macs),
            "+COMP-NULL",
            "+SIGN-ALL",
            "+CTYPE-X509",
        ]
        return ":".join(items)


@dataclass
class ConfigContext:
    """What a config function needs: where to write, the port to listen on (127.0.0.1), the
    certificate files, the TLS settings, and the plain service's port (stunnel)."""

    workdir: Path
    port: int
    cert: Path
    key: Path
    tls: TLSSettings
    backend_port: int = 0
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the daemon
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "daemon.log"


def nginx_config(ctx: ConfigContext) -> list[str]:
    www = ctx.workdir / "www"
    www.mkdir(exist_ok=True)
    tmp = ctx.workdir / "tmp"
    tmp.mkdir(exist_ok=True)
    echo = ECHO_MODULE.is_file()
    protocols = {TLS1: "TLSv1", SSL3: "SSLv3"}[ProtocolVersion(ctx.tls.version)]
    conf = f"""
{f"load_module {ECHO_MODULE};" if echo else ""}
daemon off;
master_process off;
pid {ctx.workdir}/nginx.pid;
error_log {ctx.log} info;
events {{ worker_connections 64; }}
http {{
    access_log {ctx.workdir}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{ctx.port} ssl;
        ssl_certificate {ctx.cert};
        ssl_certificate_key {ctx.key};
        ssl_protocols {protocols};
        ssl_ciphers {ctx.tls.openssl_ciphers()};
        root {www};
        {"location = /echo { echo_read_request_body; echo_request_body; }" if echo else ""}
    }}
}}
"""
    path = ctx.workdir / "nginx.conf"
    path.write_text(conf)
    return ["nginx", "-p", str(ctx.workdir), "-c", str(path), "-e", str(ctx.log)]


def stunnel_config(ctx: ConfigContext) -> list[str]:
    version = {TLS1: "TLSv1", SSL3: "SSLv3"}[ProtocolVersion(ctx.tls.version)]
    conf = f"""foreground = yes
pid =
debug = info
output = {ctx.log}
[w24]
accept = 127.0.0.1:{ctx.port}
connect = 127.0.0.1:{ctx.backend_port}
cert = {ctx.cert}
key = {ctx.key}
sslVersionMin = {version}
sslVersionMax = {version}
ciphers = {ctx.tls.openssl_ciphers()}
securityLevel = 0
"""
    path = ctx.workdir / "stunnel.conf"
    path.write_text(conf)
    return ["stunnel4", str(path)]


def gnutls_config(ctx: ConfigContext) -> list[str]:
    serv = [
        "gnutls-serv",
        "--echo",
        "--crlf",
        "-p",
        str(ctx.port),
        "--x509certfile",
        str(ctx.cert),
        "--x509keyfile",
        str(ctx.key),
        "--priority",
        ctx.tls.gnutls_priority(),
    ]
    # `unshare --net` execs the shell in a fresh namespace whose loopback starts down.
    return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *serv]


def vsftpd_config(ctx: ConfigContext) -> list[str]:
    """FTPS as vsftpd's implicit mode runs it: TLS from the first byte (port 990 style)."""
    return _vsftpd(ctx, implicit=True)


def vsftpd_auth_tls_config(ctx: ConfigContext) -> list[str]:
    """FTPS as most FTP servers run it (explicit, RFC 4217): a plain control connection that
    the client upgrades with AUTH TLS, the workflow of the module's FOPS (spec §5.5)."""
    return _vsftpd(ctx, implicit=False)


def _vsftpd(ctx: ConfigContext, implicit: bool) -> list[str]:
    empty = ctx.workdir / "empty"
    empty.mkdir(mode=0o755, exist_ok=True)
    ssl3, tls1 = ("YES", "NO") if ctx.tls.version == SSL3 else ("NO", "YES")
    implicit_ssl = "YES" if implicit else "NO"
    conf = f"""listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={ctx.port}
background=NO
anonymous_enable=NO
local_enable=YES
pam_service_name=vsftpd
secure_chroot_dir={empty}
seccomp_sandbox=NO
ftpd_banner={FTP_BANNER}
ssl_enable=YES
implicit_ssl={implicit_ssl}
rsa_cert_file={ctx.cert}
rsa_private_key_file={ctx.key}
ssl_sslv2=NO
ssl_sslv3={ssl3}
ssl_tlsv1={tls1}
ssl_ciphers={ctx.tls.openssl_ciphers()}
require_ssl_reuse=NO
debug_ssl=YES
log_ftp_protocol=YES
xferlog_enable=YES
xferlog_std_format=NO
vsftpd_log_file={ctx.log}
"""
    path = ctx.workdir / "vsftpd.conf"
    path.write_text(conf)
    os.chmod(path, 0o600)  # vsftpd refuses a config others can write
    # vsftpd loads the certificate before it applies ssl_ciphers, so the @SECLEVEL=0 there
    # comes too late for a SHA-1 or MD5 signed certificate: the administrator's fix is the
    # system default security level, here in a private OpenSSL config.
    ctx.env["OPENSSL_CONF"] = str(_openssl_conf_seclevel0(ctx.workdir))
    return ["vsftpd", str(path)]


def _openssl_conf_seclevel0(workdir: Path) -> Path:
    path = workdir / "openssl.cnf"
    path.write_text(
        "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n"
        "[ssl_sect]\nsystem_default = system_default_sect\n"
        "[system_default_sect]\nCipherString = DEFAULT:@SECLEVEL=0\n"
    )
    return path


def s_server_config(ctx: ConfigContext) -> list[str]:
    version = {TLS1: "-tls1", SSL3: "-ssl3"}[ProtocolVersion(ctx.tls.version)]
    return [
        "openssl",
        "s_server",
        "-accept",
        f"127.0.0.1:{ctx.port}",
        "-cert",
        str(ctx.cert),
        "-key",
        str(ctx.key),
        version,
        "-cipher",
        ctx.tls.openssl_ciphers(),
        "-www",
    ]
