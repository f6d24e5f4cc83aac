"""The library of handshake-level misbehaviours, as declarative `Misbehaviour` values.

The four original ones (close_mid_handshake, stall, oversize_record, tamper) behave as before;
the rest are the corpus note's BoGo / tlsfuzzer rows (../shared/notes/tls-client-test-corpus.md
§2), each built from the edits in w24_harness.servers.misbehaviour.language. A catalogue entry
refers to one of these objects; the server has no branch for any of them.
"""

from __future__ import annotations

import hashlib

from tlslite.constants import AlertDescription, AlertLevel, HandshakeType
from tlslite.utils.cryptomath import numberToByteArray

from w24_harness.pki.keys import rsa_key
from w24_harness.servers.base import OVERSIZE_RECORD_BYTES
from w24_harness.servers.misbehaviour.engine import parse_client_hello
from w24_harness.servers.misbehaviour.language import (
    REGISTRY,
    FlightContext,
    FlightItem,
    Misbehaviour,
    SendCCS,
    SendFinished,
    SendRecord,
    Wire,
    alert,
    app_data,
    ccs,
    drop,
    duplicate,
    fake_finished,
    insert,
    misbehaviour,
    move_before,
    pack_all,
    raw_handshake,
    retyped,
    rewrite,
    set_fields,
    with_trailing,
)
from w24_harness.servers.misbehaviour.sockets import hold_until_closed, read_first_record
from w24_harness.servers.payload import payload
from w24_harness.servers.session import slices

SH = HandshakeType.server_hello
CERT = HandshakeType.certificate
SKE = HandshakeType.server_key_exchange
SHD = HandshakeType.server_hello_done

# A warning-alert flood this long must still end inside the handshake timeout.
ALERT_FLOOD = 100


# -- the original four -----------------------------------------------------------------------------


def _read_hello(ctx) -> bool:
    """Read the ClientHello (parsed into the report); False if the client closed first."""
    report = ctx.report
    ctx.raw.settimeout(ctx.config.handshake_timeout_s)
    try:
        hello = read_first_record(ctx.raw)
    except Exception as exc:  # recorded in the report
        ctx.fail(exc, None, "handshake")
        return False
    if not hello:
        report.closed_by = "server" if ctx.stopping.is_set() else "client"
        return False
    report.client_records.append("ClientHello")
    report.client_hello = parse_client_hello(hello[5:])
    return True


def _close_after_hello(ctx) -> None:
    if _read_hello(ctx):
        ctx.report.misbehaved = "close_mid_handshake"
        ctx.report.closed_by = "server"


def _stall_after_hello(ctx) -> None:
    if not _read_hello(ctx):
        return
    ctx.report.misbehaved = "stall"
    ctx.raw.settimeout(ctx.config.idle_timeout_s)
    ended_by = hold_until_closed(ctx.raw)
    ctx.report.closed_by = "server" if ctx.stopping.is_set() else ended_by


def _oversize_records(size: int, seed: int, cap: int) -> list[bytes]:
    data = payload(max(size, OVERSIZE_RECORD_BYTES), seed)
    return [data[:OVERSIZE_RECORD_BYTES], *slices(data[OVERSIZE_RECORD_BYTES:], cap)]


def _tamper_records(size: int, seed: int, cap: int) -> list[bytes]:
    # Only the tampered record: whatever follows would meet a client that has failed.
    return [payload(min(max(size, 1), cap), seed)]


CLOSE_MID_HANDSHAKE = misbehaviour(
    "close_mid_handshake",
    "read the ClientHello, then close TCP without answering",
    before_handshake=_close_after_hello,
)
STALL = misbehaviour(
    "stall",
    "read the ClientHello, then answer nothing until idle timeout, close or stop",
    before_handshake=_stall_after_hello,
)
OVERSIZE_RECORD = misbehaviour(
    "oversize_record",
    f"the first application record carries {OVERSIZE_RECORD_BYTES} bytes",
    first_records=_oversize_records,
)
TAMPER = misbehaviour(
    "tamper",
    "the last ciphertext byte of the first application record is flipped",
    tamper=True,
    first_records=_tamper_records,
)


# -- ServerHello: what the client never offered ------------------------------------------------

UNOFFERED_SUITES: dict[str, int] = {
    "null": 0x0001,  # TLS_RSA_WITH_NULL_MD5: plaintext on the air
    "export": 0x0003,  # TLS_RSA_EXPORT_WITH_RC4_40_MD5: 40-bit
    "tls12": 0x003C,  # TLS_RSA_WITH_AES_128_CBC_SHA256: TLS 1.2 only
}
UNOFFERED_SUITE = {
    key: misbehaviour(
        f"unoffered_suite_{key}",
        f"ServerHello picks suite 0x{code:04X}, which the client did not offer",
        flight=(set_fields(SH, cipher_suite=code),),
    )
    for key, code in UNOFFERED_SUITES.items()
}
UNOFFERED_VERSIONS: dict[str, tuple[int, int]] = {"tls11": (3, 2), "tls12": (3, 3), "3.5": (3, 5)}
UNOFFERED_VERSION = {
    key: misbehaviour(
        f"unoffered_version_{key}",
        f"ServerHello version {wire[0]}.{wire[1]}, above what the client offered",
        flight=(set_fields(SH, server_version=wire),),
    )
    for key, wire in UNOFFERED_VERSIONS.items()
}
UNOFFERED_COMPRESSION = misbehaviour(
    "unoffered_compression",
    "ServerHello picks DEFLATE (1); the client offered only null",
    flight=(set_fields(SH, compression_method=1),),
)


# -- ChangeCipherSpec and Finished ------------------------------------------------------------

BAD_FINISHED = misbehaviour(
    "bad_finished",
    "the server's Finished verify_data is off by one in its first byte",
    finish=(SendCCS(), SendFinished(corrupt=True)),
)
SKIP_CCS = misbehaviour(
    "skip_ccs",
    "Finished without a ChangeCipherSpec before it (sent in the clear)",
    finish=(SendFinished(),),
)
DUPLICATE_CCS = misbehaviour(
    "duplicate_ccs",
    "a second ChangeCipherSpec (under the new keys) before Finished",
    finish=(SendCCS(), SendCCS(switch_keys=False), SendFinished()),
)
EARLY_CCS = misbehaviour(
    "early_ccs",
    "ChangeCipherSpec right after ServerHello, before Certificate (CVE-2014-0224)",
    flight=(insert(None, ccs(), after=SH),),
)
SKIP_TO_FINISHED = misbehaviour(
    "skip_to_finished",
    "ServerHello, then ChangeCipherSpec and Finished: no Certificate, no "
    "ServerHelloDone (SKIP-TLS)",
    flight=(drop(CERT, SHD), insert(None, ccs()), insert(None, fake_finished)),
)
APPDATA_AFTER_CCS = misbehaviour(
    "appdata_after_ccs",
    "application data between the server's ChangeCipherSpec and Finished",
    finish=(SendCCS(), SendRecord(app_data(b"TEST")), SendFinished()),
)


# -- Certificate -----------------------------------------------------------------------------

EMPTY_CERTIFICATE = misbehaviour(
    "empty_certificate",
    "a Certificate message with an empty certificate list",
    flight=(rewrite(CERT, lambda raw: bytes([CERT]) + (3).to_bytes(3, "big") + bytes(3)),),
)
NO_CERTIFICATE = misbehaviour(
    "no_certificate",
    "no Certificate message: ServerHello, then ServerHelloDone",
    flight=(drop(CERT),),
)


def _export_key_exchange(ctx: FlightContext) -> FlightItem:
    """An RSA_EXPORT-style ServerKeyExchange: a 512-bit key, signed by the certificate's key."""
    numbers = rsa_key(512).private_numbers().public_numbers
    params = b"".join(
        len(b).to_bytes(2, "big") + b
        for b in (bytes(numberToByteArray(numbers.n)), bytes(numberToByteArray(numbers.e)))
    )
    conn = ctx.conn
    signed = conn.client_random + conn.server_random + params
    digest = hashlib.md5(signed).digest() + hashlib.sha1(signed).digest()  # noqa: S324
    signature = bytes(conn.private_key.sign(bytearray(digest)))
    if ctx.version != (3, 0):
        signature = len(signature).to_bytes(2, "big") + signature
    return raw_handshake(SKE, params + signature)(ctx)


EXPORT_KEY_EXCHANGE = misbehaviour(
    "export_key_exchange",
    "a ServerKeyExchange with a 512-bit RSA key in a static-RSA suite (FREAK, CVE-2015-0204)",
    flight=(insert(None, _export_key_exchange, before=SHD),),
)


# -- the state machine: types, lengths, order, duplicates, strays ----------------------------

WRONG_TYPE = {
    "server_hello": misbehaviour(
        "wrong_type_server_hello",
        "the ServerHello carries the ServerHelloDone type byte",
        flight=(rewrite(SH, retyped(SHD)),),
    ),
    "certificate": misbehaviour(
        "wrong_type_certificate",
        "the Certificate carries the ServerKeyExchange type byte",
        flight=(rewrite(CERT, retyped(SKE)),),
    ),
    "server_hello_done": misbehaviour(
        "wrong_type_server_hello_done",
        "the ServerHelloDone carries the CertificateRequest type byte",
        flight=(rewrite(SHD, retyped(HandshakeType.certificate_request)),),
    ),
}
TRAILING_DATA = {
    name: misbehaviour(
        f"trailing_{name}",
        f"one extra byte at the end of the {label} body (length fixed up)",
        flight=(rewrite(htype, with_trailing(b"\x00")),),
    )
    for name, label, htype in (
        ("server_hello", "ServerHello", SH),
        ("certificate", "Certificate", CERT),
        ("server_hello_done", "ServerHelloDone", SHD),
    )
}
DUPLICATED = {
    name: misbehaviour(
        f"duplicate_{name}", f"the {label} is sent twice", flight=(duplicate(htype),)
    )
    for name, label, htype in (
        ("server_hello", "ServerHello", SH),
        ("certificate", "Certificate", CERT),
        ("server_hello_done", "ServerHelloDone", SHD),
    )
}
DONE_BEFORE_CERTIFICATE = misbehaviour(
    "done_before_certificate",
    "ServerHelloDone before Certificate",
    flight=(move_before(SHD, CERT),),
)
CERTIFICATE_BEFORE_HELLO = misbehaviour(
    "certificate_before_hello", "Certificate before ServerHello", flight=(move_before(CERT, SH),)
)
APPDATA_BEFORE_HELLO = misbehaviour(
    "appdata_before_hello",
    "an application-data record before the ServerHello",
    flight=(insert(0, app_data(b"TEST")),),
)
FATAL_ALERT_AFTER = {
    name: misbehaviour(
        f"fatal_alert_after_{name}",
        f"a fatal handshake_failure alert after the {label}",
        flight=(insert(None, alert(AlertDescription.handshake_failure), after=htype),),
    )
    for name, label, htype in (
        ("server_hello", "ServerHello", SH),
        ("certificate", "Certificate", CERT),
    )
}


def _warnings(n: int):
    def edit(items: list[FlightItem], _ctx: FlightContext) -> list[FlightItem]:
        flood = [alert(AlertDescription.user_canceled, AlertLevel.warning)(_ctx) for _ in range(n)]
        return [items[0], *flood, *items[1:]]

    return edit


WARNING_ALERTS = {
    n: misbehaviour(
        f"warning_alerts_{n}",
        f"{n} warning alert(s) (user_canceled) after the ServerHello",
        flight=(_warnings(n),),
    )
    for n in (1, ALERT_FLOOD)
}


# -- record and segment shapes of a valid handshake -----------------------------------------------

ONE_BYTE_RECORDS = misbehaviour(
    "one_byte_handshake_records",
    "every server handshake message in 1-byte records",
    handshake_record_size=1,
)
PACKED_FLIGHT = misbehaviour(
    "packed_flight",
    "ServerHello, Certificate and ServerHelloDone in one record; "
    "ChangeCipherSpec, Finished and the first data in one TCP segment",
    flight=(pack_all(),),
    wire=Wire(coalesce=True, handshake_only=False),
)
TRICKLE = misbehaviour(
    "trickled_handshake", "the server's handshake bytes one per TCP segment", wire=Wire(chunk=1)
)
CERT_RECORDS_2K = misbehaviour(
    "certificate_records_2k",
    "handshake records of at most 2048 bytes (a long Certificate message split across records)",
    handshake_record_size=2048,
)


def resolve(name: str) -> Misbehaviour:
    """The library's Misbehaviour called `name` (ValueError names the known ones)."""
    return REGISTRY.get(name)
