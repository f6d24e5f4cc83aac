"""Tests of AT+i command encoding and the simulator's command reader (harness/at/commands.py)."""

from __future__ import annotations

import base64
import textwrap

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from w24_harness.at.codes import ResultCode
from w24_harness.at.commands import ca_text_length, encode, encode_ca, encode_ssnd
from w24_harness.at.reader import BadInput, Command, CommandReader

BEGIN = "-----BEGIN CERTIFICATE-----"
END = "-----END CERTIFICATE-----"
PEM_LF = f"{BEGIN}\nMIIBszCCAVmgAwIBAgIU\nAbCdEf==\n{END}\n"
PEM_CRLF = PEM_LF.replace("\n", "\r\n")
PAYLOAD = f"{BEGIN}\nMIIBszCCAVmgAwIBAgIU\nAbCdEf==\n{END}\n".encode()


@pytest.fixture(scope="module")
def trustme_pem() -> str:
    return trustme.CA().cert_pem.bytes().decode("ascii")


def read(stream: bytes, **options: object) -> list[Command | BadInput]:
    return CommandReader(**options).feed(stream, 0.0)  # type: ignore[arg-type]


def read_split(stream: bytes, cuts: list[int], **options: object) -> list[Command | BadInput]:
    reader = CommandReader(**options)  # type: ignore[arg-type]
    items: list[Command | BadInput] = []
    start = 0
    for cut in sorted({c for c in cuts if c <= len(stream)}) + [len(stream)]:
        items += reader.feed(stream[start:cut], 0.0)
        start = cut
    return items


def codes_of(items: list[Command | BadInput]) -> list[int | str]:
    return [item.code if isinstance(item, BadInput) else item.name for item in items]


# ------------------------------------------------------------------------ host side encoding


def test_encode() -> None:
    assert encode("RP4") == b"AT+iRP4\r"
    assert encode("") == b"AT+i\r"
    assert encode("STCP:127.0.0.1,443") == b"AT+iSTCP:127.0.0.1,443\r"
    with pytest.raises(ValueError, match="printable ASCII"):
        encode("RP4\rAT+iDOWN")


def test_encode_ssnd() -> None:
    assert encode_ssnd(0, b"hello") == b"AT+iSSND%:0,5:hello"
    assert encode_ssnd(3, b"hello", flush=False) == b"AT+iSSND:3,5:hello"
    assert encode_ssnd(1, b"") == b"AT+iSSND%:1,0:"
    assert encode_ssnd(2, b"\r\n\x00\xff") == b"AT+iSSND%:2,4:\r\n\x00\xff"
    with pytest.raises(ValueError):
        encode_ssnd(-1, b"x")


def test_encode_ca_lf_and_crlf_pems_give_the_same_bytes() -> None:
    expected = f"AT+iCA={BEGIN}\rMIIBszCCAVmgAwIBAgIU\rAbCdEf==\r{END}\r".encode()
    assert encode_ca(PEM_LF) == expected
    assert encode_ca(PEM_CRLF) == expected
    assert encode_ca(PEM_LF.rstrip("\n")) == expected
    assert encode_ca("\n\n" + PEM_LF + "\n\n  ") == expected
    assert encode_ca(PEM_LF, slot="CA2").startswith(b"AT+iCA2=" + BEGIN.encode() + b"\r")


def test_encode_ca_clear_and_refusals() -> None:
    assert encode_ca("") == b"AT+iCA=\r\r"
    assert encode_ca(" \r\n\t") == b"AT+iCA=\r\r"
    assert encode_ca("", slot="CA3") == b"AT+iCA3=\r\r"
    with pytest.raises(ValueError, match="line 2 is empty"):
        encode_ca(f"{BEGIN}\n\nMIIB\n{END}\n")
    with pytest.raises(ValueError, match="slot"):
        encode_ca(PEM_LF, slot="CA=")
    with pytest.raises(ValueError, match="printable"):
        encode_ca(f"{BEGIN}\nMII\u00e9\n{END}\n")


def test_ca_text_length(trustme_pem: str) -> None:
    assert ca_text_length(PEM_LF) == len(PEM_LF)
    assert ca_text_length(PEM_CRLF) == len(PEM_LF)
    assert ca_text_length(PEM_LF.rstrip("\n")) == len(PEM_LF)
    assert ca_text_length(PEM_LF + "\n \n") == len(PEM_LF)
    assert ca_text_length("") == 0
    assert ca_text_length(trustme_pem) == len(trustme_pem)
    assert ca_text_length(trustme_pem.replace("\n", "\r\n")) == len(trustme_pem)


# ------------------------------------------------------------------------ device side: table

LONG = b"AT+iSTCP:" + b"x" * 300
C = Command
B = BadInput

TABLE: list[tuple[bytes, list[Command | BadInput]]] = [
    (b"AT+i\r", [C("", "", "", line=b"AT+i")]),
    (b"AT+iRP4\r", [C("RP", "", "4", line=b"AT+iRP4")]),
    (b"at+irp4\r\n", [C("RP", "", "4", line=b"at+irp4")]),
    (b"\r\n\r\r\n", []),
    (b"AT+iCA?\r", [C("CA", "?", "", line=b"AT+iCA?")]),
    (b"AT+iCA=?\r", [C("CA", "=?", "", line=b"AT+iCA=?")]),
    (b"AT+iCA3?\r", [C("CA3", "?", "", line=b"AT+iCA3?")]),
    (b"AT+iBDRF~5\r", [C("BDRF", "~", "5", line=b"AT+iBDRF~5")]),
    (b"AT+i!SCLS:0\r", [C("SCLS", ":", "0", stay_online=True, line=b"AT+i!SCLS:0")]),
    (
        b"AT+iSTCP:127.0.0.1,443\r",
        [C("STCP", ":", "127.0.0.1,443", line=b"AT+iSTCP:127.0.0.1,443")],
    ),
    (b"AT+iSFSH%:0\r", [C("SFSH", ":", "0", flush=True, line=b"AT+iSFSH%:0")]),
    (b"AT+iXYZZY:1\r", [C("XYZZY", ":", "1", line=b"AT+iXYZZY:1")]),
    (b"AT+iSTCP:h,\t80\r", [C("STCP", ":", "h,\t80", line=b"AT+iSTCP:h,\t80")]),
    # BS edits the line; bit 7 is cleared (0xC1 = 'A' | 0x80, 0x8D = CR | 0x80).
    (b"AT+iRP5\x084\r", [C("RP", "", "4", line=b"AT+iRP4")]),
    (b"\x08\x08AT+i\r", [C("", "", "", line=b"AT+i")]),
    (b"\xc1\xd4+iRP4\x8d", [C("RP", "", "4", line=b"AT+iRP4")]),
    (b"HELLO\r", [B(51, "line does not start with AT+i: 'HELLO'", b"HELLO")]),
    (b"AT+RP4\r", [B(51, "line does not start with AT+i: 'AT+RP4'", b"AT+RP4")]),
    (
        b"AT+iRP\x014\r",
        [B(51, "control byte 0x01 in command line: 'AT+iRP\\x014'", b"AT+iRP\x014")],
    ),
    (
        b"AT+iRP4\x7f\r",
        [B(51, "control byte 0x7F in command line: 'AT+iRP4\\x7f'", b"AT+iRP4\x7f")],
    ),
    (b"AT+i#$\r", [B(53, "illegal command code: '#$' is not a command name", b"AT+i#$")]),
    (
        LONG + b"\rAT+iRP4\r",
        [
            B(111, "command line longer than 256 characters", LONG[:256]),
            C("RP", "", "4", line=b"AT+iRP4"),
        ],
    ),
    (b"AT+iSSL:" + b"0" * 248 + b"\r", [C("SSL", ":", "0" * 248, line=b"AT+iSSL:" + b"0" * 248)]),
    # SSND: payload mode at the second ':', 8-bit clean, no CR after it.
    (
        b"AT+iSSND%:0,5:he\rlo",
        [C("SSND", ":", "0,5", flush=True, payload=b"he\rlo", line=b"AT+iSSND%:0,5:")],
    ),
    (b"AT+iSSND:3,0:", [C("SSND", ":", "3,0", line=b"AT+iSSND:3,0:")]),
    (
        b"at+i!ssnd:1,2:\r\n",
        [C("SSND", ":", "1,2", stay_online=True, payload=b"\r\n", line=b"at+i!ssnd:1,2:")],
    ),
    (
        b"AT+iSSND:0,3:\x80\xff\x00\rAT+iRP4\r",
        [
            C("SSND", ":", "0,3", payload=b"\x80\xff\x00", line=b"AT+iSSND:0,3:"),
            C("RP", "", "4", line=b"AT+iRP4"),
        ],
    ),
    (b"AT+iSSND:0,4:AT+i\r", [C("SSND", ":", "0,4", payload=b"AT+i", line=b"AT+iSSND:0,4:")]),
    (b"AT+iSSND:x\r", [B(44, "socket handle 'x' is not a number", b"AT+iSSND:x")]),
    (b"AT+iSSND\r", [B(49, "':' or '=' expected after SSND: 'AT+iSSND'", b"AT+iSSND")]),
    (
        b"AT+iSSND 0,5:\r",
        [B(49, "':' or '=' expected after SSND: 'AT+iSSND 0,5:'", b"AT+iSSND 0,5:")],
    ),
    (b"AT+iSSND:0\r", [B(52, "',' expected after the socket handle in SSND: '0'", b"AT+iSSND:0")]),
    (b"AT+iSSND:0,x:\r", [B(44, "SSND size 'x' is not a number", b"AT+iSSND:0,x:")]),
    (b"AT+iSSND:0,5\r", [B(49, "':' expected after the SSND size: '0,5'", b"AT+iSSND:0,5")]),
    # CA values: multi-line, END line inclusive, CR or CR LF.
    (encode_ca(PEM_LF), [C("CA", "=", BEGIN, payload=PAYLOAD, line=f"AT+iCA={BEGIN}".encode())]),
    (
        encode_ca(PEM_LF).replace(b"\r", b"\r\n"),
        [C("CA", "=", BEGIN, payload=PAYLOAD, line=f"AT+iCA={BEGIN}".encode())],
    ),
    (
        encode_ca(PEM_LF, "CA4"),
        [C("CA4", "=", BEGIN, payload=PAYLOAD, line=f"AT+iCA4={BEGIN}".encode())],
    ),
    (b"AT+iCA=\r\r", [C("CA", "=", "", line=b"AT+iCA=")]),
    (b"AT+iCA2=\r\r", [C("CA2", "=", "", line=b"AT+iCA2=")]),
    (b"AT+iCA=xyz\r", [C("CA", "=", "xyz", payload=b"xyz\n", line=b"AT+iCA=xyz")]),
    # An empty line ends the value early; an AT+i line interrupts it.
    (
        f"AT+iCA={BEGIN}\rMIIB\r\rAT+iRP4\r".encode(),
        [
            C(
                "CA",
                "=",
                BEGIN,
                payload=f"{BEGIN}\nMIIB\n".encode(),
                line=f"AT+iCA={BEGIN}".encode(),
            ),
            C("RP", "", "4", line=b"AT+iRP4"),
        ],
    ),
    (
        f"AT+iCA={BEGIN}\rMIIB\rAT+iRP4\r".encode(),
        [
            B(116, "CA value interrupted by a new command", f"AT+iCA={BEGIN}".encode()),
            C("RP", "", "4", line=b"AT+iRP4"),
        ],
    ),
    (
        f"AT+iCA={BEGIN}\rMIIB\rAT+iSSND:0,2:\r\r".encode(),
        [
            B(116, "CA value interrupted by a new command", f"AT+iCA={BEGIN}".encode()),
            C("SSND", ":", "0,2", payload=b"\r\r", line=b"AT+iSSND:0,2:"),
        ],
    ),
    (
        f"AT+iCA={BEGIN}\r{'A' * 300}\r{END}\r".encode(),
        [B(111, "CA value line longer than 256 characters", f"AT+iCA={BEGIN}".encode())],
    ),
    (
        f"AT+iCA={BEGIN}\rMI\x02IB\r{END}\r".encode(),
        [B(51, "control byte 0x02 in CA value", f"AT+iCA={BEGIN}".encode())],
    ),
]


@pytest.mark.parametrize(("stream", "expected"), TABLE, ids=[repr(s)[:40] for s, _ in TABLE])
def test_command_reader_table(stream: bytes, expected: list[Command | BadInput]) -> None:
    assert read(stream) == expected
    assert read_split(stream, list(range(len(stream)))) == expected


def test_codes_in_the_table_are_known_result_codes() -> None:
    for _, expected in TABLE:
        for item in expected:
            if isinstance(item, BadInput):
                assert item.code in set(ResultCode)


def test_overlong_line_reports_once_at_its_cr_and_its_tail_is_not_a_command() -> None:
    reader = CommandReader()
    tail = b"AT+iDOWN" * 40  # would be commands if the tail were read as lines
    assert reader.feed(b"AT+iRP4" + b"x" * 300 + tail, 0.0) == []
    items = reader.feed(b"\r", 0.0)
    assert codes_of(items) == [111]
    assert codes_of(reader.feed(b"AT+iRP4\r", 0.0)) == ["RP"]


def test_max_line_is_configurable() -> None:
    assert codes_of(read(b"AT+iRP4\r", max_line=6)) == [111]
    assert codes_of(read(b"AT+iRP4\r", max_line=7)) == ["RP"]
    assert read(b"AT+i" + b"A" * 600 + b"\r", max_line=512)[0].reason == (
        "command line longer than 512 characters"
    )


def test_ssnd_switches_to_payload_mode_without_waiting_for_cr() -> None:
    reader = CommandReader()
    assert reader.feed(b"AT+iSSND:0,3:", 0.0) == []
    assert reader.busy_collecting
    assert reader.feed(b"\r\n", 0.0) == []
    items = reader.feed(b"xAT+iRP4\r", 0.0)
    assert items == [
        C("SSND", ":", "0,3", payload=b"\r\nx", line=b"AT+iSSND:0,3:"),
        C("RP", "", "4", line=b"AT+iRP4"),
    ]
    assert not reader.busy_collecting


def test_ssnd_over_the_socket_limit_is_consumed_then_refused() -> None:
    def limit(handle: int) -> int | None:
        return 2048 if handle == 1 else None

    payload = b"AT+iDOWN\r" * 300  # 2700 bytes that must not be read as commands
    stream = encode_ssnd(1, payload) + encode("RP4") + encode_ssnd(0, payload)
    items = read(stream, ssnd_limit=limit)
    assert codes_of(items) == [227, "RP", "SSND"]
    assert items[0].reason == "SSND of 2700 bytes on socket 1 exceeds its 2048-byte limit"
    assert items[2].payload == payload
    assert codes_of(read(encode_ssnd(1, b"y" * 2048), ssnd_limit=limit)) == ["SSND"]


def test_ca_value_over_8192_characters_is_refused_when_it_ends() -> None:
    body = "\r".join(["B" * 200] * 45)
    items = read(f"AT+iCA={BEGIN}\r{body}\r{END}\rAT+iRP4\r".encode())
    assert codes_of(items) == [111, "RP"]
    assert items[0].reason.startswith("CA value longer than 8192 characters")


def test_ca_value_of_a_real_certificate(trustme_pem: str) -> None:
    items = read(encode_ca(trustme_pem, slot="CA2"))
    assert len(items) == 1
    command = items[0]
    assert isinstance(command, Command)
    assert (command.name, command.op) == ("CA2", "=")
    assert command.payload == trustme_pem.encode()
    assert len(command.payload) == ca_text_length(trustme_pem)


def test_busy_collecting_during_a_ca_value() -> None:
    reader = CommandReader()
    reader.feed(f"AT+iCA={BEGIN}\rMIIB\r".encode(), 0.0)
    assert reader.busy_collecting
    assert codes_of(reader.feed(f"{END}\r".encode(), 0.0)) == ["CA"]
    assert not reader.busy_collecting


# ------------------------------------------------------------------------ timeouts


def test_ssnd_payload_times_out() -> None:
    reader = CommandReader(host_data_timeout_s=5.0)
    assert reader.feed(b"AT+iSSND:0,10:abc", 100.0) == []
    assert reader.expire(105.0) == []
    assert reader.busy_collecting
    items = reader.expire(105.01)
    assert items == [
        B(69, "SSND payload incomplete: got 3 of 10 bytes after 5.0 s", b"AT+iSSND:0,10:")
    ]
    assert not reader.busy_collecting
    assert reader.expire(200.0) == []
    # The bytes that come later are command lines again.
    assert codes_of(reader.feed(b"defghij\rAT+iRP4\r", 200.0)) == [51, "RP"]


def test_feed_reports_the_timeout_before_reading_new_bytes() -> None:
    reader = CommandReader(host_data_timeout_s=1.0)
    reader.feed(b"AT+iSSND:0,10:ab", 0.0)
    reader.feed(b"c", 0.9)  # the clock restarts at each byte
    assert reader.expire(1.8) == []
    items = reader.feed(b"AT+iRP4\r", 2.0)
    assert codes_of(items) == [69, "RP"]


def test_ca_value_times_out() -> None:
    reader = CommandReader(host_data_timeout_s=2.0)
    reader.feed(f"AT+iCA={BEGIN}\rMIIB".encode(), 0.0)
    items = reader.expire(2.5)
    assert codes_of(items) == [69]
    assert items[0].reason == (
        "CA value incomplete: got 1 lines (28 characters), no -----END line after 2.0 s"
    )
    assert codes_of(reader.feed(f"{END}\r".encode(), 3.0)) == [51]


def test_no_timeout_in_line_mode() -> None:
    reader = CommandReader(host_data_timeout_s=1.0)
    reader.feed(b"AT+iRP", 0.0)
    assert reader.expire(100.0) == []
    assert codes_of(reader.feed(b"4\r", 100.0)) == ["RP"]


# ------------------------------------------------------------------------ properties

arg_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=20)


@st.composite
def simple_command(draw: st.DrawFn) -> tuple[bytes, Command]:
    name = draw(st.sampled_from(["RP", "STCP", "SSL", "SST", "SCS", "SCLS", "DOWN", "BDRF", "E"]))
    op = draw(st.sampled_from(["", ":", "=", "~", "?", "=?"]))
    args = draw(arg_text) if op not in ("?", "=?") else ""
    if op == "":
        args = draw(st.text("0123456789", max_size=3))
    if op == "=" and args.startswith("?"):
        op, args = "=?", args[1:]
    stay = draw(st.booleans())
    cased = draw(st.sampled_from([name, name.lower()]))
    prefix = draw(st.sampled_from(["AT+i", "at+I", "AT+I"]))
    line = (prefix + ("!" if stay else "") + cased + op + args).encode()
    end = draw(st.sampled_from([b"\r", b"\r\n"]))
    return line + end, Command(name, op, args, stay_online=stay, line=line)


@st.composite
def ssnd_command(draw: st.DrawFn) -> tuple[bytes, Command]:
    handle = draw(st.integers(0, 9))
    data = draw(st.binary(max_size=600))
    flush = draw(st.booleans())
    wire = encode_ssnd(handle, data, flush)
    header = wire[: len(wire) - len(data)]
    return wire, Command("SSND", ":", f"{handle},{len(data)}", False, flush, data, header)


@st.composite
def ca_command(draw: st.DrawFn) -> tuple[bytes, Command]:
    der = draw(st.binary(min_size=1, max_size=700))
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), draw(st.integers(40, 76))))
    pem = f"{BEGIN}\n{body}\n{END}\n"
    if draw(st.booleans()):
        pem = pem.replace("\n", "\r\n")
    slot = draw(st.sampled_from(["CA", "CA2", "CA3", "CA4"]))
    payload = f"{BEGIN}\n{body}\n{END}\n".encode()
    line = f"AT+i{slot}={BEGIN}".encode()
    return encode_ca(pem, slot), Command(slot, "=", BEGIN, payload=payload, line=line)


commands_st = st.lists(st.one_of(simple_command(), ssnd_command(), ca_command()), max_size=8)
cuts_st = st.lists(st.integers(0, 5000), max_size=30)


@settings(max_examples=300, deadline=None)
@given(commands_st, cuts_st)
def test_any_split_of_a_valid_command_stream_reads_the_same(
    commands: list[tuple[bytes, Command]], cuts: list[int]
) -> None:
    stream = b"".join(wire for wire, _ in commands)
    expected = [command for _, command in commands]
    assert read(stream) == expected
    assert read_split(stream, cuts) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 50), st.binary(max_size=3000), st.booleans())
def test_encode_ssnd_round_trip(handle: int, data: bytes, flush: bool) -> None:
    items = read(encode_ssnd(handle, data, flush))
    assert len(items) == 1 and isinstance(items[0], Command)
    assert (items[0].name, items[0].flush, items[0].payload) == ("SSND", flush, data)
    assert items[0].args == f"{handle},{len(data)}"


@settings(max_examples=200, deadline=None)
@given(ca_command(), st.sampled_from(["\n", "\r\n", "\r"]))
def test_encode_ca_round_trip(case: tuple[bytes, Command], newline: str) -> None:
    _, expected = case
    pem = expected.payload.decode().replace("\n", newline)
    items = read(encode_ca(pem, expected.name))
    assert items == [expected]
    assert len(expected.payload) == ca_text_length(pem)


noise_st = st.lists(
    st.one_of(
        st.sampled_from([b"AT+i", b"at+I!", b"SSND%:", b"SSND:", b"CA=", b"CA2=", b"RP4"]),
        st.sampled_from([b"0", b"12", b",", b":", b"\r", b"\n", b"\x08", b"\x00", b"\xff"]),
        st.sampled_from([BEGIN.encode(), END.encode(), b"MIIB", b"#"]),
        st.binary(max_size=8),
    ),
    max_size=200,
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(noise_st, cuts_st, st.lists(st.floats(0, 3), max_size=31))
def test_arbitrary_bytes_never_raise(noise: bytes, cuts: list[int], gaps: list[float]) -> None:
    reader = CommandReader(host_data_timeout_s=1.0, ssnd_limit=lambda h: 16 if h % 2 else None)
    items: list[Command | BadInput] = []
    now = 0.0
    start = 0
    for number, cut in enumerate(sorted({c for c in cuts if c <= len(noise)}) + [len(noise)]):
        now += gaps[number] if number < len(gaps) else 0.0
        items += reader.feed(noise[start:cut], now)
        items += reader.expire(now)
        start = cut
    items += reader.expire(now + 10.0)
    assert not reader.busy_collecting
    for item in items:
        assert isinstance(item, Command | BadInput)
        if isinstance(item, BadInput):
            assert item.code in set(ResultCode)
            assert item.reason
        else:
            assert item.name == item.name.upper()
            assert item.op in ("", ":", "=", "~", "?", "=?")
