"""Record-layer scenarios: CBC padding and MAC checked apart, empty and split records, the 2 KB
record limit to the byte, TCP segmentation, record types, versions and malformed lengths.

Sources, row by row: ../shared/notes/tls-client-test-corpus.md §4 (BoGo, tlsfuzzer, CVEs). Every
server is tlslite with a record plan (w24_harness.servers.misbehaviour.records); the device must
receive the plan's data stream exactly, up to the first record it has to refuse.
"""

from __future__ import annotations

from w24_harness.at.codes import ResultCode
from w24_harness.profiles.table import W24, DeviceProfile
from w24_harness.scenarios.model import (
    ACCEPT,
    Expect,
    Rule,
    Scenario,
    always,
    any_error,
    one_of,
    reject,
)
from w24_harness.servers.misbehaviour.records import (
    ContentType,
    Data,
    Empty,
    Encrypted,
    Raw,
    RecordPlan,
    Segments,
    Shape,
    Step,
    Typed,
)
from w24_harness.tlsfacts import W24_SUITES, ProtocolVersion, short_name
from w24_harness.vocab import Action, Backend, Basis, Family, Kind, Stage

SSL3, TLS1 = ProtocolVersion.SSL3, ProtocolVersion.TLS1
AES128 = "TLS_RSA_WITH_AES_128_CBC_SHA"
DES3 = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
RC4_SHA = "TLS_RSA_WITH_RC4_128_SHA"
DECODE = reject(ResultCode.SSL_DECODE_ERROR, Stage.DATA)
TOO_BIG = reject(ResultCode.SSL_RECORD_TOO_BIG, Stage.DATA)
ENDED = any_error(Stage.DATA)  # the session ended with an error code, the manuals fix none
GOOD = 512  # well-formed data before a bad record: it must reach the host
# 108 bytes + a 20-byte SHA-1 MAC = 128: a whole number of AES and 3DES blocks, so the padding
# length can be any value that keeps the alignment (15 or 255 for AES, 7 or 255 for 3DES).
ALIGNED = 108


def _rec(
    id: str,
    description: str,
    plan: RecordPlan,
    rule: Rule,
    *,
    suite: str = AES128,
    version: ProtocolVersion = TLS1,
    basis: Basis = Basis.RFC,
    kind: Kind = Kind.CONFORMANCE,
    measures: str | None = None,
    allowed: frozenset[Expect] | None = None,
) -> Scenario:
    return Scenario(
        id,
        description,
        Family.RECORD,
        rule,
        backend=Backend.TLSLITE,
        versions=(version,),
        suites=(suite,),
        action=Action.EXCHANGE,
        recv_size=plan.data_bytes,
        records=plan,
        basis=basis,
        kind=kind,
        measures=measures,
        allowed=one_of(*allowed) if allowed is not None else None,
    )


def _bad_record(name: str, shape: Shape, size: int = 256) -> RecordPlan:
    return RecordPlan(name, (Data(GOOD), Data(size, shape=shape)))


def _padding_scenarios() -> list[Scenario]:
    wrong = Shape(bad_padding_byte=True)
    return [
        _rec(
            "rec-bad-padding-aes128",
            "TLS 1.0 AES record, valid MAC, first padding byte "
            "wrong (POODLE-TLS, CVE-2014-8730; RFC 2246 §6.2.3.2)",
            _bad_record("bad-padding", wrong),
            always(DECODE),
        ),
        _rec(
            "rec-bad-padding-3des",
            "TLS 1.0 3DES record, valid MAC, first padding byte wrong",
            _bad_record("bad-padding", wrong),
            always(DECODE),
            suite=DES3,
        ),
        _rec(
            "rec-bad-padding-255-aes128",
            "TLS 1.0 AES record with 255 bytes of padding, valid "
            "MAC, first padding byte wrong (BoGo BadCBCPadding255)",
            _bad_record("bad-padding-255", Shape(pad_length=255, bad_padding_byte=True), ALIGNED),
            always(DECODE),
        ),
        _rec(
            "rec-max-padding-255-aes128",
            "TLS 1.0 AES record with 255 bytes of valid padding (BoGo MaxCBCPadding)",
            RecordPlan("max-padding", (Data(GOOD), Data(ALIGNED, shape=Shape(pad_length=255)))),
            always(ACCEPT),
        ),
        _rec(
            "rec-ssl3-zero-padding-aes128",
            "SSL 3.0 AES record with zero-filled padding (RFC "
            "6101: padding bytes are arbitrary; tlsfuzzer test-SSLv3-padding)",
            RecordPlan("ssl3-zero-padding", (Data(GOOD, shape=Shape(pad_fill=0)),)),
            always(ACCEPT),
            version=SSL3,
        ),
        _rec(
            "rec-ssl3-max-padding-3des",
            "SSL 3.0 3DES record with block size - 1 bytes of "
            "non-zero arbitrary padding (the longest RFC 6101 allows)",
            RecordPlan(
                "ssl3-max-padding",
                (Data(GOOD), Data(ALIGNED, shape=Shape(pad_length=7, pad_fill=0xA5))),
            ),
            always(ACCEPT),
            suite=DES3,
            version=SSL3,
        ),
        _rec(
            "rec-ssl3-overlong-padding-aes128",
            "SSL 3.0 AES record whose padding length is the "
            "block size (valid in TLS 1.0; RFC 6101: padding shorter than a block)",
            _bad_record("ssl3-overlong-padding", Shape(pad_length=16), ALIGNED - 1),
            always(DECODE),
            version=SSL3,
        ),
        _rec(
            "rec-bad-mac-aes128",
            "TLS 1.0 AES record with valid padding and a wrong MAC: the "
            "same code as bad padding (no padding oracle; Vaudenay 2002, Lucky 13)",
            _bad_record("bad-mac", Shape(bad_mac=True)),
            always(DECODE),
        ),
        _rec(
            "rec-bad-mac-pad0-aes128",
            "TLS 1.0 AES record of 11 bytes (+ 20-byte MAC + padding-length byte 0x00 = 32: "
            "the padding is that one byte) with a wrong MAC (CVE-2018-1000159: tlslite-ng "
            "<= 0.7.3 skipped the MAC check for a 0x00 padding; RFC 2246 §6.2.3.2)",
            _bad_record("bad-mac-pad0", Shape(bad_mac=True), 11),
            always(DECODE),
        ),
        _rec(
            "rec-bad-mac-3des",
            "TLS 1.0 3DES record with valid padding and a wrong MAC",
            _bad_record("bad-mac", Shape(bad_mac=True)),
            always(DECODE),
            suite=DES3,
        ),
    ]


def _empty_and_split_scenarios() -> list[Scenario]:
    return [
        _rec(
            "rec-empty-before-each-aes128",
            "an empty application record before every record "
            "(OpenSSL's TLS 1.0 CBC countermeasure; RFC 2246 allows zero-length fragments)",
            RecordPlan("empty-before-each", (Data(4096, record_size=1024, empty_before=1),)),
            always(ACCEPT),
        ),
        _rec(
            "rec-empty-before-each-ssl3-3des",
            "SSL 3.0 3DES: an empty record before every record",
            RecordPlan("empty-before-each", (Data(3000, record_size=1000, empty_before=1),)),
            always(ACCEPT),
            suite=DES3,
            version=SSL3,
        ),
        _rec(
            "rec-empty-run-33",
            "33 empty application records in a row, then data (BoGo "
            "SendEmptyRecords: no hang; a firmware may accept or refuse the run, the data before "
            "it intact)",
            RecordPlan("empty-run", (Data(GOOD), Empty(33), Data(GOOD))),
            always(ACCEPT),
            kind=Kind.ROBUSTNESS,
            allowed=frozenset({ACCEPT, ENDED}),
        ),
        _rec(
            "rec-split-1n1-aes128",
            "every record split 1/n-1 (the BEAST countermeasure), TLS 1.0 AES",
            RecordPlan("split-1n1", (Data(5000, split_1n1=True),)),
            always(ACCEPT),
        ),
        _rec(
            "rec-split-1n1-ssl3-3des",
            "every record split 1/n-1, SSL 3.0 3DES",
            RecordPlan("split-1n1", (Data(3000, split_1n1=True),)),
            always(ACCEPT),
            suite=DES3,
            version=SSL3,
        ),
    ]


def _limit_rule(p: DeviceProfile) -> Expect:
    return TOO_BIG if p.record_limit_counts_wire else ACCEPT


def _limit_scenarios() -> list[Scenario]:
    out = []
    for suite in W24_SUITES:
        name = short_name(suite)
        limit = W24.max_record_plaintext  # the catalogue sizes records by the W24's 2 KB
        out.append(
            _rec(
                f"rec-limit-exact-{name}",
                f"one {limit}-byte record ({suite}): exactly the 2 KB "
                "limit in plaintext; refused only if the limit counts the record on the wire",
                RecordPlan("limit-exact", (Data(GOOD), Data(limit, record_size=limit))),
                _limit_rule,
                suite=suite,
                basis=Basis.ICHIP_FIRMWARE,
                kind=Kind.CHARACTERIZATION,
                measures="record_limit_counts_wire",
                allowed=frozenset({ACCEPT, TOO_BIG}),
            )
        )
        out.append(
            _rec(
                f"rec-limit-over-{name}",
                f"one {limit + 1}-byte record ({suite}): one byte over "
                "the 2 KB limit (226, spec §12.3)",
                RecordPlan("limit-over", (Data(GOOD), Data(limit + 1, record_size=limit + 1))),
                always(TOO_BIG),
                suite=suite,
                basis=Basis.ICHIP_FIRMWARE,
            )
        )
    return out


def _segment_scenarios() -> list[Scenario]:
    return [
        _rec(
            "rec-tcp-trickle-aes128",
            "the whole server side, handshake flight and data, one "
            "byte per TCP segment (record headers split)",
            RecordPlan("trickle", (Data(600, record_size=300),), segments=Segments.TRICKLE),
            always(ACCEPT),
            basis=Basis.HARNESS,
        ),
        _rec(
            "rec-tcp-trickle-ssl3-rc4",
            "SSL 3.0 RC4: handshake and data one byte per segment",
            RecordPlan("trickle", (Data(600, record_size=300),), segments=Segments.TRICKLE),
            always(ACCEPT),
            suite=RC4_SHA,
            version=SSL3,
            basis=Basis.HARNESS,
        ),
        _rec(
            "rec-tcp-packed-200",
            "200 small records in one TCP segment",
            RecordPlan("packed", (Data(200 * 20, record_size=20),), segments=Segments.PACKED),
            always(ACCEPT),
            basis=Basis.HARNESS,
        ),
    ]


def _type_version_length_scenarios() -> list[Scenario]:
    out = [
        _rec(
            f"rec-type-{value}",
            f"a protected record of content type {value} ({label}) between data records: "
            "RFC 2246 §6 says a record type the client does not understand is ignored (the data "
            "after it delivered); refusing it is an error (BoGo SendInvalidRecordType). Either "
            "way the data before it arrive intact",
            RecordPlan(f"type-{value}", (Data(GOOD), Typed(value, 16), Data(GOOD))),
            always(DECODE),  # what the simulator does (224 from the header)
            allowed=frozenset({ACCEPT, ENDED}),
        )
        for value, label in (
            (ContentType.UNASSIGNED_25, "unassigned"),
            (ContentType.UNASSIGNED_255, "unassigned"),
            (ContentType.HEARTBEAT, "heartbeat, never negotiated"),
        )
    ]
    # No document says what a receiver does with another version in a record header (RFC 2246
    # §6.2.1 defines the field, not the check): either answer is robust, a hang or lost data not.
    either = frozenset({ACCEPT, ENDED})
    out += [
        _rec(
            "rec-version-03ff",
            "a data record whose header says version 3.255 (BoGo "
            "CheckRecordVersion; rustls does not look): accepted, or the session ends",
            RecordPlan("version-03ff", (Data(GOOD), Data(256, shape=Shape(version=(3, 0xFF))))),
            always(ACCEPT),
            kind=Kind.ROBUSTNESS,
            allowed=either,
        ),
        _rec(
            "rec-version-ssl3-on-tls1",
            "a data record with header version SSL 3.0 on a TLS 1.0 session: accepted, or the "
            "session ends",
            RecordPlan("version-ssl3", (Data(GOOD), Data(256, shape=Shape(version=(3, 0))))),
            always(ACCEPT),
            kind=Kind.ROBUSTNESS,
            allowed=either,
        ),
    ]
    bad: list[tuple[str, str, str, Step]] = [
        (
            "rec-rc4-shorter-than-mac",
            "an RC4 record shorter than its MAC",
            RC4_SHA,
            Raw(ContentType.APPLICATION_DATA, bytes(10)),
        ),
        (
            "rec-cbc-not-block-multiple",
            "an AES record of 33 bytes (not whole blocks)",
            AES128,
            Raw(ContentType.APPLICATION_DATA, bytes(33)),
        ),
        (
            "rec-cbc-one-block",
            "an AES record of one block (no room for a MAC)",
            AES128,
            Encrypted(ContentType.APPLICATION_DATA, bytes([0x0F] * 16)),
        ),
        (
            "rec-cbc-all-padding",
            "an AES record whose plaintext is all padding (the CVE-2016-2107 shape)",
            AES128,
            Encrypted(ContentType.APPLICATION_DATA, bytes([0x1F] * 32)),
        ),
    ]
    out += [
        _rec(
            i,
            f"{d}: refused, no crash (tlsfuzzer test-cve-2016-2107, BoGo BadRecord)",
            RecordPlan(i, (Data(GOOD), step, Data(GOOD))),
            always(DECODE),
            suite=suite,
        )
        for i, d, suite, step in bad
    ]
    return out


SCENARIOS: list[Scenario] = [
    *_padding_scenarios(),
    *_empty_and_split_scenarios(),
    *_limit_scenarios(),
    *_segment_scenarios(),
    *_type_version_length_scenarios(),
]
