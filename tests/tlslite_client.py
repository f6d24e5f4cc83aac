"""A tlslite-ng test client for the harness's own servers: one version, one suite, and the
size of every application-data record it receives."""

from __future__ import annotations

import socket

from tlslite.api import HandshakeSettings, TLSConnection
from tlslite.constants import ContentType

from w24_harness.servers import TLSServer
from w24_harness.servers.names import IANA_TO_TLSLITE
from w24_harness.tlsfacts import ProtocolVersion


class TlsliteClient:
    """A tlslite-ng client restricted to one version and one suite, logging record sizes."""

    def __init__(
        self,
        server: TLSServer,
        version: ProtocolVersion = ProtocolVersion.TLS1,
        suite: str = "TLS_RSA_WITH_AES_128_CBC_SHA",
        timeout: float = 5.0,
        kex: str = "rsa",
    ) -> None:
        self.sock = socket.create_connection(server.address, timeout=timeout)
        self.conn = TLSConnection(self.sock)
        self.app_records_in: list[int] = []
        receive = self.conn._recordLayer.recvRecord

        def logged_receive():  # type: ignore[no-untyped-def]
            for result in receive():
                if result not in (0, 1) and result[0].type == ContentType.application_data:
                    self.app_records_in.append(len(result[1].bytes))
                yield result

        self.conn._recordLayer.recvRecord = logged_receive
        settings = HandshakeSettings()
        settings.minVersion = settings.maxVersion = version.wire
        cipher, mac = IANA_TO_TLSLITE[suite]
        settings.cipherNames, settings.macNames = [cipher], [mac]
        settings.keyExchangeNames = [kex]
        settings.useExtendedMasterSecret = False
        settings.useEncryptThenMAC = False
        self.settings = settings

    def handshake(self) -> TlsliteClient:
        self.conn.handshakeClientCert(settings=self.settings)
        return self

    def read_exactly(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self.conn.read(max=n - len(data))
            if not chunk:
                break
            data += chunk
        return bytes(data)

    def drop(self) -> None:
        """Close the socket alone: no close_notify (a test of how the server ends)."""
        self.sock.close()

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self.sock.close()
