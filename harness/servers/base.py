"""Configuration and per-connection records shared by both server backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from w24_harness.servers.invariants import ClientWire, Violation
from w24_harness.servers.misbehaviour.language import Misbehaviour
from w24_harness.tlsfacts import RECORD_PLAINTEXT_FITS_ANY_LIMIT
from w24_harness.vocab import Backend

if TYPE_CHECKING:
    from w24_harness.servers.capture import WireEvent
    from w24_harness.servers.misbehaviour.records import RecordPlan

BACKENDS: tuple[Backend, ...] = tuple(Backend)
# Plaintext of the one record the "oversize_record" misbehaviour sends: twice the W24's 2 KB.
OVERSIZE_RECORD_BYTES = 4096


@runtime_checkable
class CertMaterial(Protocol):
    """What a server presents: satisfied by the PKI helper's IssuedCert and by StaticCert."""

    # Read-only members, so that an IssuedCert's properties satisfy them as well as fields do.
    @property
    def cert_pem(self) -> bytes: ...  # leaf

    @property
    def key_pem(self) -> bytes: ...  # leaf private key, unencrypted PEM (PKCS#8 or RSA)

    @property
    def chain_pem(self) -> bytes: ...  # intermediates sent after the leaf, may be b""


@dataclass(frozen=True)
class StaticCert:
    """CertMaterial from PEM bytes already in hand (e.g. from trustme or a file)."""

    cert_pem: bytes
    key_pem: bytes
    chain_pem: bytes = b""


@dataclass
class ServerConfig:
    cert: CertMaterial
    backend: Backend = Backend.OPENSSL
    # Names from w24_harness.profiles.table ("SSL3.0", "TLS1.0"), plus "TLS1.1"/"TLS1.2" for
    # modern-only servers in negative tests. The server accepts min(versions)..max(versions).
    versions: tuple[str, ...] = ("TLS1.0",)
    # IANA names; None = the W24 suites the backend can do.
    suites: tuple[str, ...] | None = None
    bind: str = "127.0.0.1"
    # Max plaintext per application-data record sent: under the W24's 2 KB limit however it
    # counts (tlsfacts.RECORD_PLAINTEXT_FITS_ANY_LIMIT).
    record_cap: int = RECORD_PLAINTEXT_FITS_ANY_LIMIT
    send_on_connect: int = 0  # after the handshake, send payload(send_on_connect, seed)
    seed: int = 0
    echo: bool = False  # echo what the client sends (record_cap still applies)
    # A declarative Misbehaviour (w24_harness.servers.misbehaviour.language; tlslite only), or the
    # name of one in the library (TLSServer looks it up: w24_harness.servers.misbehaviour.library).
    misbehaviour: Misbehaviour | str | None = None
    handshake_timeout_s: float = 20.0  # bounds each read while the handshake runs
    # PEM of a CA: the server then demands a client certificate signed by it (openssl backend).
    # The W24 has no client certificate, so such a server must be refused.
    client_ca_pem: bytes | None = None
    idle_timeout_s: float = 30.0  # a connection with no traffic this long is dropped
    # What the server does at the record layer after the handshake (tlslite only); replaces
    # send_on_connect. See w24_harness.servers.misbehaviour.records.
    records: RecordPlan | None = None

    def validate_common(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; expected one of {BACKENDS}")
        if self.misbehaviour is not None:
            if not isinstance(self.misbehaviour, Misbehaviour):
                raise ValueError(f"misbehaviour must be a Misbehaviour, got {self.misbehaviour!r}")
            if self.backend != "tlslite":
                raise ValueError(f"misbehaviour {self.misbehaviour} needs backend='tlslite'")
        if not 1 <= self.record_cap <= 16384:
            raise ValueError(f"record_cap must be 1..16384, got {self.record_cap}")
        if self.records is not None and self.backend != "tlslite":
            raise ValueError("a record plan (records=) needs backend='tlslite'")
        if self.send_on_connect < 0:
            raise ValueError("send_on_connect must be >= 0")
        if not self.versions:
            raise ValueError("versions must name at least one protocol version")
        if self.suites is not None and not self.suites:
            raise ValueError("suites must be None (backend default) or non-empty")


@dataclass(frozen=True)
class ClientHelloView:
    """The client's ClientHello as the server parsed it."""

    version: str  # client_version, e.g. "TLS1.0"
    wire: tuple[int, int]
    suites: list[str]  # IANA names (hex for unknown code points), in the client's order
    compression: list[int]  # compression methods offered (0 = null)
    extensions: list[int]  # extension type numbers
    session_id_len: int


@dataclass
class ConnectionReport:
    """What the server saw on one accepted connection; updated live while it runs."""

    peer: tuple[str, int]
    handshake_ok: bool = False
    version: str | None = None  # "SSL3.0" / "TLS1.0" / ...
    cipher: str | None = None  # IANA name
    alert_received: str | None = None  # description name, e.g. "unknown_ca", "bad_record_mac"
    error: str | None = None  # what went wrong on the server side, if anything
    bytes_in: int = 0  # application plaintext received
    bytes_out: int = 0  # application plaintext sent
    sha256_in: str = ""  # hash of all plaintext received
    max_record_out: int = 0  # largest application record plaintext sent
    closed_by: str | None = None  # "client" | "server" | "timeout"
    # Additions beyond the brief's minimum:
    misbehaved: str | None = None  # the misbehaviour actually carried out on this connection
    records_out: int = 0  # application-data records sent
    handshake_s: float | None = None  # wall time of a successful handshake
    finished: bool = False  # the server is done with this connection (socket closed)
    # What the client did, read off the wire by the tlslite backend (BoGo's expectedLocalError):
    client_hello: ClientHelloView | None = None
    # Length of the encrypted premaster in the client's ClientKeyExchange; None = none sent.
    key_exchange_bytes: int | None = None
    client_records: list[str] = field(default_factory=list)  # client records, in order
    server_key_bytes: int | None = None  # modulus length of the certificate's key

    @property
    def sent_key_exchange(self) -> bool:
        return self.key_exchange_bytes is not None

    records_plan: str | None = None  # the record plan whose steps were all sent
    # Every byte each way as the server read and wrote it (servers/capture.py), and the
    # session keys in NSS key-log format: a failing scenario's capture is made from them.
    traffic: list[WireEvent] = field(default_factory=list)
    keylog: list[str] = field(default_factory=list)
    # The device's records after a watched plan, decrypted (RecordPlan.watch_client).
    client_after_plan: list[str] = field(default_factory=list)
    # Everything the client put on the wire, checked against the RFCs as it arrived
    # (w24_harness.servers.invariants).
    wire: ClientWire = field(default_factory=ClientWire)

    @property
    def violations(self) -> list[Violation]:
        """The wire invariants the client broke on this connection (field, rule, section)."""
        return self.wire.violations()
