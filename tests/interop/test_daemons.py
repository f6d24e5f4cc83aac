"""The daemon plumbing of the field-interop suite (w24_harness.interop.daemons): a missing
daemon names its package, configs say what the administrator means, and a daemon started is
listening when start() returns and gone when stop() returns."""

from __future__ import annotations

import os
import socket
from dataclasses import replace

import pytest

from w24_harness.interop.daemons import (
    SPECS,
    Daemon,
    DaemonError,
    DaemonKind,
    ServerFiles,
    TLSSettings,
)
from w24_harness.pki import CertFactory
from w24_harness.profiles.table import SSL3, TLS1, W24_SUITES

pytestmark = pytest.mark.timeout(60)

AES128 = "TLS_RSA_WITH_AES_128_CBC_SHA"


def test_a_missing_daemon_names_the_package_to_install():
    spec = replace(SPECS[DaemonKind.VSFTPD], command="w24-no-such-daemon")
    assert spec.missing() == "w24-no-such-daemon is not installed (apt-get install vsftpd)"


def test_openssl_cipher_string_keeps_the_order_and_drops_the_security_level():
    tls = TLSSettings(TLS1, (AES128, "TLS_RSA_WITH_RC4_128_MD5"))
    assert tls.openssl_ciphers() == "AES128-SHA:RC4-MD5:@SECLEVEL=0"


def test_gnutls_priority_names_exactly_the_version_cipher_and_mac():
    assert TLSSettings(SSL3, ("TLS_RSA_WITH_RC4_128_MD5",)).gnutls_priority() == (
        "NONE:+VERS-SSL3.0:+RSA:+ARCFOUR-128:+MD5:+COMP-NULL:+SIGN-ALL:+CTYPE-X509"
    )
    every = TLSSettings(TLS1, W24_SUITES).gnutls_priority()
    assert every.count("+VERS-") == 1 and "+ARCFOUR-128" in every and "+3DES-CBC" in every


@pytest.fixture(scope="module")
def files() -> ServerFiles:
    leaf = CertFactory().ca("daemon test CA", hash_name="sha1").issue("localhost", hash_name="sha1")
    return ServerFiles(leaf.cert_pem, leaf.key_pem)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(SPECS[DaemonKind.S_SERVER].missing() is not None, reason="no openssl")
def test_started_daemon_listens_and_stop_ends_it(tmp_path, files):
    daemon = Daemon(SPECS[DaemonKind.S_SERVER], tmp_path, files, TLSSettings(TLS1, (AES128,)))
    with daemon:
        assert daemon.proc is not None
        pid = daemon.proc.pid
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=5):
            pass
    assert daemon.proc.returncode is not None
    assert not _alive(pid)


@pytest.mark.skipif(SPECS[DaemonKind.S_SERVER].missing() is not None, reason="no openssl")
def test_a_daemon_that_exits_at_start_is_an_error_quoting_its_log(tmp_path, files):
    broken = ServerFiles(files.cert_pem, b"not a key\n")
    with pytest.raises(DaemonError, match="exited with .* before listening"):
        Daemon(SPECS[DaemonKind.S_SERVER], tmp_path, broken, TLSSettings(TLS1, (AES128,))).start()
