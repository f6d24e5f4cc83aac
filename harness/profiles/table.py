"""Device profiles: what one firmware supports, in one table.

The simulator, the certificate factory and the scenario expectations all read this table, so a
fact about a firmware lives here and nowhere else. Where the manuals are silent (spec §11) the
choice is written here as a named field with the reason beside it, so a user with a real module
that behaves differently flips one switch instead of editing code.

Tri-state fields: a field listed in `UNDOCUMENTED` may hold UNKNOWN (None): "the manuals do not
say". The `w24` profile ships UNKNOWN for each of them; a scenario measuring such a field then
characterizes (records what the firmware does) instead of asserting. The simulator needs a
concrete behaviour, so it runs `profile.resolved()`: every UNKNOWN replaced by the documented
simulator default in `UNDOCUMENTED` (docs/simulator-choices.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Final

from w24_harness.at.codes import ResultCode
from w24_harness.tlsfacts import W24_SUITES, ProtocolVersion
from w24_harness.vocab import Renegotiation

SSL3 = ProtocolVersion.SSL3
TLS1 = ProtocolVersion.TLS1

# A tri-state field's "the manuals do not say". Written to TOML as the string "unknown".
UNKNOWN: Final = None


@dataclass(frozen=True)
class Undocumented:
    """One field the manuals leave open: where that is said, and what the simulator does."""

    spec: str  # the spec section that says it is open
    sim_default: Any  # what the simulator does when the profile says UNKNOWN
    why: str  # why that default


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    description: str
    # Identity reported by AT+iRP0 / AT+iRP1.
    part_number: str
    firmware: str
    # Trusted-CA parameters the firmware has (spec §6, §10): W24 has one, iChip 8.x four.
    ca_slots: tuple[str, ...]
    # Longest CA PEM accepted by AT+iCA=, counted as the PEM text with "\n" line ends.
    ca_max_chars: int
    # Code for a CA value over ca_max_chars. The manuals say only "I/ERROR"; the firmware
    # family reports every CA rejection as 116 ("error parsing a new trusted CA").
    ca_too_long_code: int | None = ResultCode.CA_PARSE_ERROR
    # Code for AT+iCA2? (CA3, CA4) on a module without that slot: not documented; a parser
    # may call the name an illegal command (053) or a syntax error (051).
    absent_ca_slot_code: int | None = ResultCode.ILLEGAL_COMMAND
    protocols: tuple[ProtocolVersion, ...] = (SSL3, TLS1)
    cipher_suites: tuple[str, ...] = W24_SUITES
    # RSA key sizes accepted in a CA certificate (spec §12.2: 1024 or 2048).
    ca_key_bits: tuple[int, ...] = (1024, 2048)
    # Inclusive range of RSA key sizes accepted in the server's certificate. Not documented
    # (§11.3); a 2008 client with 2 KB record buffers is taken to handle 1024..2048 only.
    server_key_bits: tuple[int, int] | None = (1024, 2048)
    # Signature hashes accepted on the CA certificate (spec §12.2: MD2, MD5 or SHA-1). MD2
    # cannot be produced or verified here, so it is left out rather than claimed.
    signature_hashes: tuple[str, ...] = ("md5", "sha1")
    # Signature hashes accepted on the server's certificate (and an intermediate): §12.2
    # constrains only the CA's, so this is open (§11.3).
    leaf_signature_hashes: tuple[str, ...] | None = ("md5", "sha1")
    # §11.3 switches: what the certificate check covers beyond "signed by the trusted CA".
    check_validity_dates: bool | None = False
    check_hostname: bool | None = False
    # Accept a leaf signed by an intermediate that the server sends, when that intermediate is
    # signed by a loaded CA. The W24 manual documents only "signed by the trusted CA".
    chain_building: bool | None = False
    # Certificate checks no manual mentions (characterized by the identity scenarios): refuse
    # at AT+iCA= a v3 certificate that is not a CA (basicConstraints CA:TRUE missing);
    ca_requires_ca_flag: bool | None = True
    # refuse a chain whose issuer has a keyUsage without keyCertSign (RFC 5280 §4.2.1.3);
    check_issuer_key_usage: bool | None = False
    # refuse a server certificate with a critical extension it does not know (RFC 5280 §4.2);
    reject_unknown_critical: bool | None = True
    # accept at AT+iCA= a CA whose RSA public exponent is 3 (§12.2 states only key sizes).
    ca_small_exponent: bool | None = True
    # §11.12: the highest version the ClientHello offers; a server choosing SSL 3.0 is accepted
    # when SSL3.0 is in `protocols`.
    hello_version: ProtocolVersion = TLS1
    max_ssnd_ssl: int = 2048
    # Largest plaintext in one incoming application-data record (226 above it).
    max_record_plaintext: int = 2048
    # Whether the 2 KB limit counts the record on the wire (ciphertext: plaintext, MAC and
    # padding) rather than its plaintext. The manual says only "Maximum SSL packet size (2 KB)
    # exceeded" (226); plaintext is assumed, as the SSND limit counts plaintext (spec §5.3).
    record_limit_counts_wire: bool | None = False
    # What the socket reports, once its buffer is empty, after the server closed TCP without a
    # close_notify (a FIN or RST: possibly a truncation). Not documented (§11.13); 203 means the
    # host cannot tell it from a clean close.
    unclean_close_code: int | None = ResultCode.SOCKET_DOWN
    # After the handshake, pass over a warning alert other than close_notify (RFC 2246 §7.2
    # leaves it to the receiver; OpenSSL does so). Not documented for the W24.
    ignore_warning_alerts: bool | None = True
    # Whether AT+iSCLS sends a close_notify alert before its FIN (RFC 2246 §7.2.1 asks for one;
    # the manual does not say, spec §5.3 and §11.13).
    close_notify_on_scls: bool | None = True
    # What the client does with a HelloRequest after the handshake (not documented).
    renegotiation: Renegotiation | None = Renegotiation.REFUSE
    # Whether the record limit also applies during the handshake (not documented; the firmware
    # is assumed to buffer the handshake separately).
    record_limit_in_handshake: bool | None = False
    socket_count: int = 10
    ssl_socket_limit: int = 1
    # Per-socket receive buffer (§11.7, not documented). TCP flow control holds the rest.
    rx_buffer_bytes: int = 16384
    # Longest command line (§11.7, not documented); longer lines get ERROR(111) overflow.
    max_command_line: int = 256
    # How long the simulator waits for the rest of an SSND payload or a CA value before it
    # answers ERROR(069) "timeout on host communication".
    host_data_timeout_s: float = 5.0
    # The device's own limits on network operations (§11.8, not documented).
    connect_timeout_s: float = 10.0
    # How long the simulator's client waits on a silent server during the handshake. The
    # driver (and the production iChip driver) allows 15 s for AT+iSSL (Timeouts.handshake):
    # any device timeout under that is as correct; 5 s keeps the stalled-server case short.
    handshake_timeout_s: float = 5.0
    echo_default: bool = True
    # RP4: spec §4.11 says every report ends with I/OK, but the manual's example (§5.4) shows
    # the I/(...) tuple alone. The simulator follows the example; flip this for a module that
    # adds I/OK, and the driver reads it too.
    rp4_final_ok: bool = False
    # W24 manual prints I/ERROR(056); iChip 8.x prints I/ERROR (056) (spec §2.3).
    error_format: str = "I/ERROR({code:03d})"
    extras: dict[str, str] = field(default_factory=dict)

    def with_changes(self, **changes: object) -> DeviceProfile:
        return replace(self, **changes)  # type: ignore[arg-type]

    def knows(self, name: str) -> bool:
        """Whether the profile holds a value for field `name` (not UNKNOWN)."""
        return getattr(self, name) is not UNKNOWN

    def unknown_fields(self) -> list[str]:
        return [name for name in UNDOCUMENTED if not self.knows(name)]

    def resolved(self) -> DeviceProfile:
        """This profile with every UNKNOWN replaced by the simulator's documented default."""
        changes: dict[str, object] = {}
        for name, info in UNDOCUMENTED.items():
            if not self.knows(name):
                default = info.sim_default
                changes[name] = default(self) if callable(default) else default
        return replace(self, **changes) if changes else self  # type: ignore[arg-type]

    @property
    def ssl3(self) -> bool:
        return SSL3 in self.protocols

    @property
    def tls1(self) -> bool:
        return TLS1 in self.protocols


# The fields the manuals leave open (spec §11, and §12 where only a later firmware says),
# with the simulator's behaviour when a profile says UNKNOWN. Each default is the behaviour the
# simulator had before the field became tri-state, so the built-in device did not change.
UNDOCUMENTED: dict[str, Undocumented] = {
    "ca_too_long_code": Undocumented(
        "§6 ('I/ERROR' only)",
        int(ResultCode.CA_PARSE_ERROR),
        "the later firmware reports every CA rejection as 116 (§12.3)",
    ),
    "absent_ca_slot_code": Undocumented(
        "§10 (CA2..CA4 are iChip 8.x only; the W24 answer is not given)",
        int(ResultCode.ILLEGAL_COMMAND),
        "an unknown parameter name is an illegal command",
    ),
    "server_key_bits": Undocumented(
        "§11.3", (1024, 2048), "the CA's own range (§12.2) for a client with 2 KB buffers"
    ),
    "leaf_signature_hashes": Undocumented(
        "§11.3 (§12.2 constrains the CA only)",
        lambda p: p.signature_hashes,
        "the hashes the CA may be signed with (§12.2)",
    ),
    "check_validity_dates": Undocumented(
        "§11.3", False, "no link between the RP8 clock and SSL is documented"
    ),
    "check_hostname": Undocumented(
        "§11.3", False, "AT+iSSL takes no host name, only a socket handle"
    ),
    "chain_building": Undocumented(
        "§11.3", False, "the manual says only 'signed by the trusted CA'"
    ),
    "record_limit_in_handshake": Undocumented(
        "§11.1 (226: 'maximum SSL packet size (2 KB) exceeded', context not given)",
        False,
        "the handshake is taken to be buffered separately from application data",
    ),
    # Certificate checks no manual mentions (§11.3 lists what the check may cover; §12.2 states
    # only the CA's key size and signature hash).
    "ca_requires_ca_flag": Undocumented(
        "§11.3, §12.2 (key size and hash only)",
        True,
        "RFC 5280 §4.2.1.9: a v3 certificate without CA:TRUE is no CA; a v1 CA still loads",
    ),
    "check_issuer_key_usage": Undocumented(
        "§11.3 (only 'signed by the trusted CA' is documented)",
        False,
        "the documented check is the signature alone; keyUsage is not read",
    ),
    "reject_unknown_critical": Undocumented(
        "§11.3 (only 'signed by the trusted CA' is documented)",
        True,
        "RFC 5280 §4.2: a certificate-using system MUST reject a certificate with a critical "
        "extension it does not recognize (leaf-unknown-critical-extension holds every firmware "
        "to it; False describes a firmware that fails it)",
    ),
    "ca_small_exponent": Undocumented(
        "§12.2 (RSA 1024 or 2048 bits; the exponent is not stated)",
        True,
        "any RSA key of a documented size loads; the PKCS#1 check is what must be strict",
    ),
    "record_limit_counts_wire": Undocumented(
        "§11.1 (226: 'maximum SSL packet size (2 KB) exceeded', what is counted not given)",
        False,
        "the SSND limit counts plaintext (spec §5.3), so the receive limit is taken to as well",
    ),
    "unclean_close_code": Undocumented(
        "§11.13 (how a peer's close shows is not documented)",
        int(ResultCode.SOCKET_DOWN),
        "203 'socket down (peer closed)' is the one close status the manual gives (§4.13)",
    ),
    "ignore_warning_alerts": Undocumented(
        "§11.2 (no alert handling is documented; RFC 2246 §7.2 leaves it to the receiver)",
        True,
        "a warning is not fatal (RFC 2246 §7.2); OpenSSL passes over it too",
    ),
    "close_notify_on_scls": Undocumented(
        "§5.3, §11.13 (whether AT+iSCLS sends close_notify is not in the retrieved text)",
        True,
        "RFC 2246 §7.2.1: each party sends close_notify before closing its write side",
    ),
    "renegotiation": Undocumented(
        "§11.2 (no +iSSL page; no renegotiation is documented)",
        Renegotiation.REFUSE,
        "a 2008 client without renegotiation answers no_renegotiation (RFC 2246 §7.2.2), as "
        "tlslite-ng does",
    ),
}

W24 = DeviceProfile(
    name="w24",
    description="Motorola W24, May 2008 manual: one CA, 1300-character CA, SSL 3.0 / TLS 1.0; "
    "unknown wherever the manual is silent",
    part_number="W24-CO2144-01",
    firmware="I2144W24T01 (MAY 31 2008)",
    ca_slots=("CA",),
    ca_max_chars=1300,
    **{name: UNKNOWN for name in UNDOCUMENTED},  # type: ignore[arg-type]
)

ICHIP = DeviceProfile(
    name="ichip",
    description="Connect One iChip 8.x firmware: CA..CA4, 1500-character CA",
    part_number="CO2144AD-01",
    firmware="I2144722P01 (NOV 2008)",
    ca_slots=("CA", "CA2", "CA3", "CA4"),
    ca_max_chars=1500,
    error_format="I/ERROR ({code:03d})",
    # No iChip document says either (spec §12 is silent): unknown here too.
    close_notify_on_scls=UNKNOWN,
    renegotiation=UNKNOWN,
)

MODERN = DeviceProfile(
    name="modern",
    description="A later firmware that also accepts SHA-256-signed RSA chains (plain trustme PKI)",
    part_number="CO2144AD-02",
    firmware="I2144801P03 (2012)",
    ca_slots=("CA", "CA2", "CA3", "CA4"),
    ca_max_chars=1500,
    signature_hashes=("md5", "sha1", "sha256"),
    leaf_signature_hashes=("md5", "sha1", "sha256"),
    server_key_bits=(1024, 4096),
    chain_building=True,
    check_validity_dates=True,
    check_issuer_key_usage=True,
    reject_unknown_critical=True,
    close_notify_on_scls=UNKNOWN,
    renegotiation=UNKNOWN,
)

PROFILES: dict[str, DeviceProfile] = {p.name: p for p in (W24, ICHIP, MODERN)}


def profile_fields() -> list[str]:
    """The profile's field names, in declaration order."""
    return [f.name for f in fields(DeviceProfile)]


def get_profile(name: str) -> DeviceProfile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown device profile {name!r}; known profiles: {known}") from None
