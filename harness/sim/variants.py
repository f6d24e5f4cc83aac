"""Correct-firmware variants: the simulator behaving as each firmware the manuals allow.

Where the W24 manual is silent (spec §11) a real firmware may do one of several correct things.
Each field here switches the simulator to one of them. Unlike a `Faults` switch, a variant
never breaks the firmware: a harness that fails a run under any variant (or any combination,
see w24_harness.sim.pairwise and bench/variant_matrix.py) judges something the documents do not
decide.

Two kinds of switch:
- behaviours of the simulator's own (`status_error_early`, `close_notify_code`, ...);
- profile overrides (`unclean_close_code`, `rp4_final_ok`, ...): a DeviceProfile field applied
  to the SIMULATOR's profile only. The harness keeps the profile it was given (`w24`, which
  holds these fields as unknown), so the run shows whether the harness copes with a firmware
  that chose the other way.

`w24 sim --variant NAME[=VALUE]` and pytest's `--w24-sim-variant NAME[=VALUE]` set one switch
(a bare NAME sets a boolean to true). `SWITCHES` names, per switch, the spec section that leaves
it open, the values the variant matrix takes (the first is the simulator's default) and what
the switch does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from w24_harness.at.codes import ResultCode
from w24_harness.profiles.table import DeviceProfile
from w24_harness.vocab import Renegotiation


class WarningAlert(StrEnum):
    """What the client does with a warning alert (not close_notify) after the handshake."""

    IGNORE = "ignore"  # passed over, the session goes on (OpenSSL)
    FAIL = "fail"  # a decoding error, 224
    END = "end"  # the end of the session: the data before it, then the close code


class CertCheckAt(StrEnum):
    """When the client checks the server's certificate."""

    CERTIFICATE = "certificate"  # at the Certificate message, before ClientKeyExchange
    FINISHED = "finished"  # after the server's Finished: the handshake completes, then 220


class ErrorFormat(StrEnum):
    """How an error reply is printed (spec §2.3, §12.1)."""

    PAREN = "paren"  # I/ERROR(nnn): the W24 manual
    SPACE = "space"  # I/ERROR (nnn): iChip 8.x and the production driver's firmware


ERROR_FORMATS: dict[ErrorFormat, str] = {
    ErrorFormat.PAREN: "I/ERROR({code:03d})",
    ErrorFormat.SPACE: "I/ERROR ({code:03d})",
}


@dataclass(frozen=True)
class Switch:
    spec: str  # the spec section (or RFC) that leaves the choice open
    # What the matrix takes; values[0] is what the simulator does by default (for a profile
    # override: the w24 profile's resolved value).
    values: tuple[Any, ...]
    doc: str


# The TLS_EMPTY_RENEGOTIATION_INFO_SCSV signalling value (RFC 5746 §3.3).
EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF


@dataclass(frozen=True)
class Variants:
    # -- behaviours of the simulator's own ----------------------------------------------
    # SST, SCS and RP4 show the negated error as soon as the peer closed (or the session
    # failed) while SRCV still returns every buffered byte first. Default: the byte count
    # until the buffer is drained.
    status_error_early: bool = False
    # The code once a close_notify from the peer was read and the data drained.
    close_notify_code: int = ResultCode.SOCKET_DOWN
    # The code for a fatal alert from the server after the handshake (data before it first).
    fatal_alert_code: int = ResultCode.SSL_DECODE_ERROR
    # A warning alert (not close_notify) after the handshake: None = the profile's
    # ignore_warning_alerts (ignore or fail); END = the end of the session.
    warning_alert: WarningAlert | None = None
    # The ClientHello carries TLS_EMPTY_RENEGOTIATION_INFO_SCSV among its suites.
    hello_scsv: bool = False
    # The ClientHello carries an empty renegotiation_info extension (RFC 5746 §3.4).
    hello_reneg_ext: bool = False
    # When the server certificate is checked.
    cert_check_at: CertCheckAt = CertCheckAt.CERTIFICATE
    # A warning alert (not close_notify) inside the handshake is passed over instead of ending
    # the handshake with 220.
    handshake_warning_ignored: bool = False
    # A record of a type outside 20..23 after the handshake is decrypted and skipped (RFC 2246
    # §6: "should just ignore it") instead of refused with 224. Types 128..255 stay refused:
    # the simulator's tlslite reads such a header as SSLv2.
    unknown_record_ignored: bool = False
    # The record header's version is checked after the handshake: another one is 224.
    record_version_checked: bool = False
    # At most this many empty application records in a row (OpenSSL: 32), then 224; 0: any.
    empty_record_limit: int = 0
    # After a failed handshake the TCP socket stays in the table (down, -203) until the host
    # closes it, instead of being closed and freed by the module.
    tcp_kept_after_failed_ssl: bool = False
    # A CA value over the size limit is refused with a bare I/ERROR (the manual's words, §6)
    # instead of the profile's code.
    ca_too_long_bare_error: bool = False
    # Every reply opens with an empty line (CR LF) before its first line.
    reply_leading_crlf: bool = False
    # -- profile overrides (None: the profile's own value) -------------------------------
    rp4_final_ok: bool | None = None
    absent_ca_slot_code: int | None = None
    unclean_close_code: int | None = None
    renegotiation: Renegotiation | None = None
    echo_default: bool | None = None
    error_format: ErrorFormat | None = None
    check_validity_dates: bool | None = None
    chain_building: bool | None = None
    ca_requires_ca_flag: bool | None = None
    check_issuer_key_usage: bool | None = None
    ca_small_exponent: bool | None = None
    record_limit_counts_wire: bool | None = None
    record_limit_in_handshake: bool | None = None

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def parse(cls, items: list[str] | tuple[str, ...]) -> Variants:
        """Variants from `NAME[=VALUE]` items (ValueError naming what is wrong)."""
        values: dict[str, Any] = {}
        for item in items:
            name, sep, text = item.partition("=")
            name = name.strip().replace("-", "_")
            if name not in SWITCHES:
                raise ValueError(f"unknown variant {name!r}; known: {sorted(SWITCHES)}")
            values[name] = _convert(name, text.strip() if sep else None)
        return cls(**values)

    def active(self) -> list[str]:
        """The switches set away from the default, as `NAME=VALUE` items parse() reads."""
        default = Variants()
        return [
            f"{f.name}={_text(getattr(self, f.name))}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]

    def label(self) -> str:
        return ",".join(self.active()) or "default"

    def apply(self, profile: DeviceProfile) -> DeviceProfile:
        """The simulator's profile: `profile` with this variant's overrides."""
        changes: dict[str, Any] = {
            name: getattr(self, name)
            for name in PROFILE_OVERRIDES
            if getattr(self, name) is not None
        }
        if self.error_format is not None:
            changes["error_format"] = ERROR_FORMATS[self.error_format]
        if self.warning_alert is not None:
            changes["ignore_warning_alerts"] = self.warning_alert == WarningAlert.IGNORE
        return replace(profile, **changes) if changes else profile


_BOOL = (False, True)
_CLOSE_CODES = (int(ResultCode.SOCKET_DOWN), int(ResultCode.SOCKET_NO_CARRIER))
_DECODE = int(ResultCode.SSL_DECODE_ERROR)

SWITCHES: dict[str, Switch] = {
    "status_error_early": Switch(
        "§4.13 (peer closed: -203, buffered data still readable with SRCV), §11.13",
        _BOOL,
        "SST/SCS/RP4 show the error as soon as the peer closed, data still buffered",
    ),
    "close_notify_code": Switch(
        "§4.13, §11.13 (how a peer's close shows is not documented); §12.3 203, 215",
        _CLOSE_CODES,
        "the code after the peer's close_notify, once the data are drained",
    ),
    "fatal_alert_code": Switch(
        "§11.2, §11.13 (no alert handling is documented)",
        (_DECODE, *_CLOSE_CODES),
        "the code for a fatal alert from the server after the handshake",
    ),
    "warning_alert": Switch(
        "§11.2 (no alert handling documented); RFC 2246 §7.2 leaves warnings to the receiver",
        (WarningAlert.IGNORE, WarningAlert.FAIL, WarningAlert.END),
        "a warning alert after the handshake: passed over, 224, or the end of the session",
    ),
    "hello_scsv": Switch(
        "§11.12 (the ClientHello is not documented); RFC 5746 §3.3",
        _BOOL,
        "the ClientHello carries TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    ),
    "hello_reneg_ext": Switch(
        "§11.12 (the ClientHello is not documented); RFC 5746 §3.4, RFC 2246 §7.4.1.2",
        _BOOL,
        "the ClientHello carries an empty renegotiation_info extension",
    ),
    "cert_check_at": Switch(
        "§11.2, §11.3 (only 'signed by the trusted CA' is documented, not when)",
        (CertCheckAt.CERTIFICATE, CertCheckAt.FINISHED),
        "the certificate checked at the Certificate message, or after the handshake (220)",
    ),
    "handshake_warning_ignored": Switch(
        "§11.2; RFC 2246 §7.2 (a warning is not fatal)",
        _BOOL,
        "a warning alert inside the handshake is passed over instead of ending it (220)",
    ),
    "unknown_record_ignored": Switch(
        "§11.2; RFC 2246 §6 ('should just ignore it'), RFC 6101 §5.2",
        _BOOL,
        "an unknown record type after the handshake is skipped instead of 224",
    ),
    "record_version_checked": Switch(
        "§11.2; RFC 2246 §6.2.1 (the version field; receivers' checks differ)",
        _BOOL,
        "a record header version other than the session's is 224 after the handshake",
    ),
    "empty_record_limit": Switch(
        "§11.2; RFC 2246 §6.2.1 (empty fragments may be sent; a run limit is the client's)",
        (0, 32),
        "at most this many empty application records in a row, then 224 (0: no limit)",
    ),
    "tcp_kept_after_failed_ssl": Switch(
        "§11.2 (whether the TCP socket survives a failed handshake is not documented)",
        _BOOL,
        "after a failed AT+iSSL the TCP handle stays open, down (-203), until SCLS",
    ),
    "ca_too_long_bare_error": Switch(
        "§6 ('I/ERROR otherwise': no code given for a CA over 1300 characters)",
        _BOOL,
        "a CA over the size limit gets a bare I/ERROR",
    ),
    "reply_leading_crlf": Switch(
        "§11.5 (whether replies start with a CR LF is not documented)",
        _BOOL,
        "each reply opens with CR LF",
    ),
    "rp4_final_ok": Switch(
        "§4.11 (every report ends with I/OK) against §5.4's example (no I/OK)",
        _BOOL,
        "RP4's I/(...) tuple followed by I/OK",
    ),
    "absent_ca_slot_code": Switch(
        "§10 (CA2..CA4 are iChip 8.x only; the W24 answer is not given)",
        (int(ResultCode.ILLEGAL_COMMAND), int(ResultCode.SYNTAX_ERROR)),
        "the code a one-slot firmware gives AT+iCA2?",
    ),
    "unclean_close_code": Switch(
        "§11.13 (how a TCP close without close_notify shows is not documented)",
        (*_CLOSE_CODES, _DECODE),
        "the code after a FIN or RST without close_notify, once the data are drained",
    ),
    # RFC 2246 §7.4.1.1 lets a client ignore a HelloRequest or refuse it (no_renegotiation);
    # a session that fails on it is no correct firmware (data-hello-request), so no `fail`.
    "renegotiation": Switch(
        "§11.2 (no renegotiation documented); RFC 2246 §7.4.1.1",
        (Renegotiation.REFUSE, Renegotiation.IGNORE),
        "the answer to a HelloRequest after the handshake",
    ),
    # No close_notify_on_scls switch: RFC 2246 §7.2.1 requires the close_notify, so a firmware
    # without it is no correct one (data-scls-close-notify); likewise reject_unknown_critical
    # (RFC 5280 §4.2 MUST, leaf-unknown-critical-extension).
    "echo_default": Switch(
        "§11.5 (the echo default is not documented; §12.1: the production firmware echoes)",
        (True, False),
        "the command line is echoed at power-up",
    ),
    "error_format": Switch(
        "§2.3, §12.1 (I/ERROR(nnn) in the W24 manual, I/ERROR (nnn) on iChip 8.x)",
        (ErrorFormat.PAREN, ErrorFormat.SPACE),
        "how an error reply is printed",
    ),
    "check_validity_dates": Switch("§11.3", (False, True), "validity dates checked"),
    "chain_building": Switch("§11.3", (False, True), "one intermediate followed"),
    "ca_requires_ca_flag": Switch(
        "§11.3, §12.2", (True, False), "AT+iCA= refuses a v3 certificate without CA:TRUE"
    ),
    "check_issuer_key_usage": Switch(
        "§11.3", (False, True), "an issuer keyUsage without keyCertSign is refused"
    ),
    "ca_small_exponent": Switch(
        "§12.2 (key sizes only)", (True, False), "AT+iCA= loads a CA whose exponent is 3"
    ),
    "record_limit_counts_wire": Switch(
        "§11.1 (226: what is counted is not given)",
        (False, True),
        "the 2 KB record limit counts the record on the wire",
    ),
    "record_limit_in_handshake": Switch(
        "§11.1 (226: context not given)",
        (False, True),
        "the 2 KB record limit applies during the handshake",
    ),
}
# The switches that are DeviceProfile fields of the same name, applied by Variants.apply
# (error_format and warning_alert are mapped there).
PROFILE_OVERRIDES: tuple[str, ...] = tuple(
    name
    for name in SWITCHES
    if name in DeviceProfile.__dataclass_fields__ and name not in ("error_format",)
)


def _convert(name: str, text: str | None) -> Any:
    kind = {f.name: f.type for f in fields(Variants)}[name]
    kind = kind if isinstance(kind, str) else str(kind)
    if "bool" in kind:
        if text is None or text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"variant {name}: true or false expected, got {text!r}")
    if text is None:
        raise ValueError(f"variant {name} needs a value: {name}=VALUE")
    if "int" in kind:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"variant {name}: a number expected, got {text!r}") from None
    enum = {
        "warning_alert": WarningAlert,
        "cert_check_at": CertCheckAt,
        "renegotiation": Renegotiation,
        "error_format": ErrorFormat,
    }[name]
    try:
        return enum(text)
    except ValueError:
        known = ", ".join(e.value for e in enum)
        raise ValueError(f"variant {name}: one of {known}, got {text!r}") from None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
