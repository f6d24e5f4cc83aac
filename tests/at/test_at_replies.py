"""Tests of the AT+i reply parser (harness/at/replies.py)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from w24_harness.at.codes import ProtocolError
from w24_harness.at.replies import (
    MAX_LINE,
    Reply,
    ReplyKind,
    ReplyOverflowError,
    ReplyParser,
)

K = ReplyKind


def parse(stream: bytes) -> list[Reply]:
    return ReplyParser().feed(stream)


def parse_split(stream: bytes, cuts: list[int]) -> list[Reply]:
    parser = ReplyParser()
    replies: list[Reply] = []
    start = 0
    for cut in sorted(set(cuts)) + [len(stream)]:
        replies += parser.feed(stream[start:cut])
        start = cut
    assert parser.pending == b""
    return replies


# ------------------------------------------------------------------------ table of forms

TABLE: list[tuple[bytes, list[Reply]]] = [
    (b"I/OK\r\n", [Reply(K.OK)]),
    (b"I/OK\r", [Reply(K.OK)]),
    (b"I/OK\n", [Reply(K.OK)]),
    (b"I/OK  \r\n", [Reply(K.OK)]),
    (b"I/BUSY\r\n", [Reply(K.BUSY)]),
    (b"I/DONE\r\n", [Reply(K.DONE)]),
    (b"I/ONLINE\r\n", [Reply(K.ONLINE)]),
    (b"I/OFFLINE\r\n", [Reply(K.OFFLINE)]),
    (b"I/ERROR\r\n", [Reply(K.ERROR)]),
    (b"I/ERROR(056)\r\n", [Reply(K.ERROR, code=56)]),
    (b"I/ERROR (056)\r\n", [Reply(K.ERROR, code=56)]),
    (b"I/ERROR(56)\r\n", [Reply(K.ERROR, code=56)]),
    (b"I/ERROR(220)\r", [Reply(K.ERROR, code=220)]),
    (b"I/ERROR(x)\r\n", [Reply(K.TEXT, text="I/ERROR(x)")]),
    (b"I/0\r\n", [Reply(K.NUMBER, value=0)]),
    (b"I/7\r\n", [Reply(K.NUMBER, value=7)]),
    (b"I/4294967295\r\n", [Reply(K.NUMBER, value=4294967295)]),
    (b"I/-5\r\n", [Reply(K.TEXT, text="I/-5")]),
    (b"I/12x\r\n", [Reply(K.TEXT, text="I/12x")]),
    (b"I/(1267,-200,-200)\r\n", [Reply(K.TUPLE, values=(1267, -200, -200))]),
    (b"I/(000)\r\n", [Reply(K.TUPLE, values=(0,))]),
    (b"I/(-203)\r\n", [Reply(K.TUPLE, values=(-203,))]),
    (b"I/(0, -200,  5)\r\n", [Reply(K.TUPLE, values=(0, -200, 5))]),
    (b"I/()\r\n", [Reply(K.TEXT, text="I/()")]),
    (b"I/(1,a)\r\n", [Reply(K.TEXT, text="I/(1,a)")]),
    (b"I/RCV\r\n", [Reply(K.TEXT, text="I/RCV")]),
    (b"I/UPDATE\r\n", [Reply(K.TEXT, text="I/UPDATE")]),
    (b"I/xyz\r\n", [Reply(K.TEXT, text="I/xyz")]),
    (b"Command mode\r\n", [Reply(K.TEXT, text="Command mode")]),
    (b"  two  spaces \t\r\n", [Reply(K.TEXT, text="  two  spaces \t")]),
    (b"caf\xe9\xff\r\n", [Reply(K.TEXT, text="caf\xe9\xff")]),
    (b"AT+iRP4\r\n", [Reply(K.ECHO, text="AT+iRP4")]),
    (b"at+I\r", [Reply(K.ECHO, text="at+I")]),
    (b"Attached to AP\r\n", [Reply(K.TEXT, text="Attached to AP")]),
    (b"\r\n\r\n\n\rI/OK\r\n\r\n", [Reply(K.OK)]),
    (b"I/5:hello", [Reply(K.DATA, data=b"hello")]),
    (b"I/0:", [Reply(K.DATA, data=b"")]),
    (b"I/0:\r\nI/OK\r\n", [Reply(K.DATA, data=b""), Reply(K.OK)]),
    (
        b"I/9:\r\nI/OK\r\n\x00\r\nI/OK\r\n",
        [Reply(K.DATA, data=b"\r\nI/OK\r\n\x00"), Reply(K.OK)],
    ),
    (b"I/3:abcI/OK\r", [Reply(K.DATA, data=b"abc"), Reply(K.OK)]),
    (b"I/0003:abc\r\n", [Reply(K.DATA, data=b"abc")]),
    # An echoed SSND header ends at its second ':' (the payload is not echoed, and no line end
    # comes before the reply), so the I/OK after it is not swallowed into the echo.
    (b"AT+iSSND%:0,5:I/OK\r\n", [Reply(K.ECHO, text="AT+iSSND%:0,5:"), Reply(K.OK)]),
    (b"AT+iSSND:0,5:\r\nI/OK\r\n", [Reply(K.ECHO, text="AT+iSSND:0,5:"), Reply(K.OK)]),
    # A real exchange with echo on (spec §12.1) ...
    (
        b"AT+iRP8\r\n2008-05-31T12:00:00+00:00\r\nI/OK\r\n",
        [
            Reply(K.ECHO, text="AT+iRP8"),
            Reply(K.TEXT, text="2008-05-31T12:00:00+00:00"),
            Reply(K.OK),
        ],
    ),
    # ... and SRCV with echo on and a payload holding line ends.
    (
        b"AT+iSRCV:0\r\nI/6:a\r\nb\r\n\r\nI/OK\r\n",
        [Reply(K.ECHO, text="AT+iSRCV:0"), Reply(K.DATA, data=b"a\r\nb\r\n"), Reply(K.OK)],
    ),
    (
        b"AT+iSCLS:0\rI/OK\rI/DONE\r",
        [Reply(K.ECHO, text="AT+iSCLS:0"), Reply(K.OK), Reply(K.DONE)],
    ),
]


@pytest.mark.parametrize(("stream", "expected"), TABLE, ids=[repr(s)[:40] for s, _ in TABLE])
def test_reply_forms(stream: bytes, expected: list[Reply]) -> None:
    assert parse(stream) == expected
    # Byte by byte gives the same answer as one chunk.
    assert parse_split(stream, list(range(len(stream)))) == expected


def test_echo_on_and_off_give_the_same_results_plus_the_echo() -> None:
    with_echo = parse(b"AT+iSTCP:127.0.0.1,443\r\nI/0\r\nAT+iSST:0\r\nI/(0)\r\n")
    without = parse(b"I/0\r\nI/(0)\r\n")
    assert [r for r in with_echo if r.kind is not K.ECHO] == without
    assert [r.text for r in with_echo if r.kind is K.ECHO] == [
        "AT+iSTCP:127.0.0.1,443",
        "AT+iSST:0",
    ]


def test_number_or_data_is_not_decided_before_the_next_byte() -> None:
    parser = ReplyParser()
    assert parser.feed(b"I/12") == []
    assert parser.pending == b"I/12"
    assert parser.feed(b"\r") == [Reply(K.NUMBER, value=12)]
    assert parser.feed(b"\n") == []

    parser = ReplyParser()
    assert parser.feed(b"I/12") == []
    assert parser.feed(b":hello") == []
    assert parser.pending == b"I/12:hello"
    assert parser.feed(b" world!\r\n") == [Reply(K.DATA, data=b"hello world!")]
    assert parser.pending == b""


def test_cr_lf_split_across_feeds_is_one_line_end() -> None:
    parser = ReplyParser()
    assert parser.feed(b"I/OK\r") == [Reply(K.OK)]
    assert parser.feed(b"\nI/3:") == []
    assert parser.feed(b"\r\nx") == [Reply(K.DATA, data=b"\r\nx")]
    assert parser.feed(b"\r") == []
    assert parser.feed(b"\nI/0\r") == [Reply(K.NUMBER, value=0)]
    assert parser.feed(b"\n") == []
    assert parser.pending == b""


def test_reset_drops_a_partial_line_and_a_partial_payload() -> None:
    parser = ReplyParser()
    parser.feed(b"I/10:abc")
    assert parser.pending == b"I/10:abc"
    parser.reset()
    assert parser.pending == b""
    assert parser.feed(b"I/OK\r\n") == [Reply(K.OK)]
    parser.feed(b"I/ERR")
    parser.reset()
    assert parser.feed(b"I/BUSY\r\n") == [Reply(K.BUSY)]


@pytest.mark.parametrize(
    ("reply", "final"),
    [
        (Reply(K.OK), True),
        (Reply(K.ERROR, code=220), True),
        (Reply(K.BUSY), True),
        (Reply(K.DONE), True),
        (Reply(K.ONLINE), True),
        (Reply(K.OFFLINE), True),
        (Reply(K.NUMBER, value=0), True),
        (Reply(K.TUPLE, values=(0,)), True),
        (Reply(K.DATA, data=b"x"), True),
        (Reply(K.TEXT, text="Command mode"), False),
        (Reply(K.ECHO, text="AT+iRP4"), False),
    ],
)
def test_final(reply: Reply, final: bool) -> None:
    assert reply.final is final


# ------------------------------------------------------------------------ size guards


def test_line_without_end_over_64k_raises_and_resets() -> None:
    parser = ReplyParser()
    assert parser.feed(b"I/OK\r\n" + b"x" * MAX_LINE) == [Reply(K.OK)]
    with pytest.raises(
        ProtocolError, match="reply line longer than 65536 bytes without a line end"
    ):
        parser.feed(b"y")
    assert parser.pending == b""
    assert parser.feed(b"I/OK\r\n") == [Reply(K.OK)]


def test_overflow_keeps_the_replies_parsed_before_it() -> None:
    parser = ReplyParser()
    with pytest.raises(ReplyOverflowError) as info:
        parser.feed(b"I/OK\r\nI/7\r\n" + b"z" * (MAX_LINE + 1) + b"\r\n")
    assert info.value.replies == [Reply(K.OK), Reply(K.NUMBER, value=7)]
    assert parser.pending == b""


def test_a_64k_line_with_its_end_is_accepted() -> None:
    assert parse(b"t" * MAX_LINE + b"\r\n") == [Reply(K.TEXT, text="t" * MAX_LINE)]


def test_data_count_over_16_mib_raises() -> None:
    with pytest.raises(ProtocolError, match="16 MiB"):
        ReplyParser().feed(b"I/16777217:")
    with pytest.raises(ProtocolError, match="16 MiB"):
        ReplyParser().feed(b"I/" + b"9" * 5000 + b":")
    parser = ReplyParser()
    assert parser.feed(b"I/16777216:ab") == []  # exactly 16 MiB is allowed
    assert parser.pending == b"I/16777216:ab"


def test_huge_numbers_never_hit_the_int_conversion_limit() -> None:
    digits = "9" * 5000
    assert parse(f"I/{digits}\r\n".encode()) == [Reply(K.TEXT, text=f"I/{digits}")]
    assert parse(f"I/({digits})\r\n".encode())[0].kind is K.TEXT
    assert parse(f"I/ERROR({digits})\r\n".encode())[0].kind is K.TEXT


@pytest.mark.parametrize(("form", "field"), [("I/{}", "value"), ("I/ERROR({})", "code")])
def test_numbers_up_to_20_significant_digits_are_read_and_21_are_text(
    form: str, field: str
) -> None:
    """The digit cap (replies._MAX_DIGITS = 20), exactly at it and one over; leading zeros
    do not count."""
    at_cap, over = "9" * 20, "1" + "0" * 20
    for digits in (at_cap, "0" * 30 + at_cap):
        [reply] = parse(form.format(digits).encode() + b"\r\n")
        assert getattr(reply, field) == int(at_cap)
    line = form.format(over)
    assert parse(line.encode() + b"\r\n") == [Reply(K.TEXT, text=line)]


def test_tuple_items_up_to_21_characters_are_read_and_22_are_text() -> None:
    # An item is at most 20 digits and a sign: counted as written, leading zeros included.
    assert parse(b"I/(-" + b"9" * 20 + b",1)\r\n") == [Reply(K.TUPLE, values=(-int("9" * 20), 1))]
    for item in (b"-" + b"9" * 21, b"0" * 22):
        line = b"I/(1," + item + b")"
        assert parse(line + b"\r\n") == [Reply(K.TEXT, text=line.decode())]


def test_data_count_over_the_limit_is_named_with_at_most_30_digits() -> None:
    # Both over 16 MiB; the message shows at most 30 digits of the count.
    with pytest.raises(ProtocolError, match=r"^DATA count 0{10}9{20} above the 16 MiB limit$"):
        ReplyParser().feed(b"I/" + b"0" * 10 + b"9" * 20 + b":")
    with pytest.raises(ProtocolError, match=r"^DATA count 1{30} above the 16 MiB limit$"):
        ReplyParser().feed(b"I/" + b"1" * 40 + b":")


def test_a_reply_is_a_value() -> None:
    # Frozen: the driver keeps replies in transcripts and sets; none may be edited later.
    reply = parse(b"I/ERROR(220)\r\n")[0]
    assert {reply, Reply(K.ERROR, code=220)} == {reply}
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.code = 221  # type: ignore[misc]


def test_reset_forgets_how_far_a_partial_line_was_scanned() -> None:
    parser = ReplyParser()
    assert parser.feed(b"Command mo") == []
    parser.reset()
    # A line end at the very first byte after the reset ends a (blank) line there.
    assert parser.feed(b"\rI/OK\r") == [Reply(K.OK)]


# ------------------------------------------------------------------------ properties

_WORD_KINDS = [K.OK, K.BUSY, K.DONE, K.ONLINE, K.OFFLINE]
_I_TEXTS = ["I/RCV", "I/PART", "I/EOP", "I/EOM", "I/MBE", "I/UPDATE", "I/xyz"]
_SSND_ECHO = re.compile(r"AT\+I!?SSND%?:[0-9]+,[0-9]+:", re.IGNORECASE)


def _plain_text(text: str) -> bool:
    return bool(text) and not text.startswith("I/") and text[:3].upper() != "AT+"


replies_st = st.one_of(
    st.sampled_from(_WORD_KINDS).map(Reply),
    st.none().map(lambda _: Reply(K.ERROR)),
    st.integers(0, 999).map(lambda code: Reply(K.ERROR, code=code)),
    st.integers(0, 2**32).map(lambda value: Reply(K.NUMBER, value=value)),
    st.lists(st.integers(-999, 99999), min_size=1, max_size=10).map(
        lambda values: Reply(K.TUPLE, values=tuple(values))
    ),
    st.binary(max_size=300).map(lambda data: Reply(K.DATA, data=data)),
    st.text(st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n"))
    .filter(_plain_text)
    .map(lambda text: Reply(K.TEXT, text=text)),
    st.sampled_from(_I_TEXTS).map(lambda text: Reply(K.TEXT, text=text)),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
    .map(lambda body: "AT+i" + body)
    .filter(lambda text: not _SSND_ECHO.match(text))
    .map(lambda text: Reply(K.ECHO, text=text)),
)


@st.composite
def rendered_stream(draw: st.DrawFn) -> tuple[bytes, list[Reply]]:
    """A list of replies and one rendering of it, as various firmwares would write it."""
    replies = draw(st.lists(replies_st, max_size=12))
    out = bytearray()
    for reply in replies:
        end = draw(st.sampled_from([b"\r\n", b"\r", b"\n"]))
        if draw(st.booleans()):
            out += draw(st.sampled_from([b"\r\n", b"\r", b"\n"]))  # a blank line
        if reply.kind is K.DATA:
            out += f"I/{len(reply.data)}:".encode() + reply.data
            out += draw(st.sampled_from([b"", b"\r\n"]))
            continue
        if reply.kind is K.ERROR and reply.code is not None:
            form = draw(st.sampled_from(["I/ERROR({:03d})", "I/ERROR ({:03d})", "I/ERROR({})"]))
            line = form.format(reply.code)
        elif reply.kind is K.ERROR:
            line = "I/ERROR"
        elif reply.kind is K.NUMBER:
            line = f"I/{reply.value}"
        elif reply.kind is K.TUPLE:
            sep = draw(st.sampled_from([",", ", "]))
            line = "I/(" + sep.join(str(v) for v in reply.values) + ")"
        elif reply.kind in (K.TEXT, K.ECHO):
            line = reply.text
        else:
            line = f"I/{reply.kind.value}"
        out += line.encode("latin-1") + end
    return bytes(out), replies


cuts_st = st.lists(st.integers(0, 6000), max_size=30)


@settings(max_examples=300, deadline=None)
@given(rendered_stream(), cuts_st)
def test_any_split_of_a_valid_stream_gives_the_same_replies(
    rendered: tuple[bytes, list[Reply]], cuts: list[int]
) -> None:
    stream, replies = rendered
    assert parse(stream) == replies
    assert parse_split(stream, [c for c in cuts if c <= len(stream)]) == replies


# Keep digit runs short so that a DATA count can never pass the 16 MiB guard.
_LONG_DIGITS = re.compile(rb"[0-9]{8,}")
noise_st = st.lists(
    st.one_of(
        st.sampled_from([b"I/", b"AT+i", b"SSND:", b"0", b"12", b":", b",", b"(", b")", b"-"]),
        st.sampled_from([b"\r", b"\n", b"\r\n", b"OK", b"ERROR", b" ", b"%"]),
        st.binary(max_size=8),
    ),
    max_size=200,
).map(lambda parts: _LONG_DIGITS.sub(b"1234567", b"".join(parts)))


@settings(max_examples=300, deadline=None)
@given(noise_st, cuts_st)
def test_arbitrary_bytes_never_raise_and_splits_agree(noise: bytes, cuts: list[int]) -> None:
    parser = ReplyParser()
    whole = parser.feed(noise)
    assert all(isinstance(reply, Reply) and isinstance(reply.kind, K) for reply in whole)
    pieces = ReplyParser()
    split: list[Reply] = []
    start = 0
    for cut in sorted({c for c in cuts if c <= len(noise)}) + [len(noise)]:
        split += pieces.feed(noise[start:cut])
        start = cut
    assert split == whole
    assert pieces.pending == parser.pending
