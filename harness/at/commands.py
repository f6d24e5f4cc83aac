"""AT+i commands, host side: a command turned into the exact bytes the module expects
(spec §2.1, §4.6, §6). The device side, reading those bytes back, is w24_harness.at.reader.
"""

from __future__ import annotations

CA_NAMES = frozenset({"CA", "CA2", "CA3", "CA4"})


def _printable(text: str, what: str) -> None:
    bad = [ch for ch in text if not 32 <= ord(ch) <= 126]
    if bad:
        raise ValueError(f"{what} must be printable ASCII; found {bad[0]!r} in {text!r}")


def encode(body: str) -> bytes:
    """`"RP4"` -> `b"AT+iRP4\\r"`; `""` -> `b"AT+i\\r"` (the ping). The body is sent as given."""
    _printable(body, "command body")
    return b"AT+i" + body.encode("ascii") + b"\r"


def encode_ssnd(handle: int, data: bytes, flush: bool = True) -> bytes:
    """`AT+iSSND%:<hn>,<sz>:` then the raw bytes, with no CR after them (spec §4.6)."""
    if handle < 0:
        raise ValueError(f"socket handle must be >= 0, got {handle}")
    flag = "%" if flush else ""
    return f"AT+iSSND{flag}:{handle},{len(data)}:".encode("ascii") + bytes(data)


def _pem_lines(pem: str) -> list[str]:
    text = pem.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text.split("\n") if text else []


def encode_ca(pem: str, slot: str = "CA") -> bytes:
    """`AT+i<slot>=` then every PEM line followed by CR (spec §6); an empty PEM clears the slot.

    Accepts "\\n", "\\r\\n" or "\\r" line ends. Surrounding whitespace is dropped, because a
    leading line end would be read by the module as the empty value ("clear"). A blank line
    inside the PEM is refused: the module ends the value there and would read the rest as
    commands.
    """
    if not (slot.isascii() and slot.isalnum()):
        raise ValueError(f"CA slot must be a parameter name like 'CA' or 'CA2', got {slot!r}")
    lines = _pem_lines(pem)
    if not lines:
        return f"AT+i{slot}=\r\r".encode("ascii")
    for number, line in enumerate(lines, start=1):
        if not line:
            raise ValueError(f"PEM line {number} is empty; the module would end the value there")
        _printable(line, f"PEM line {number}")
    return f"AT+i{slot}=".encode("ascii") + b"".join(f"{ln}\r".encode("ascii") for ln in lines)


def ca_text_length(pem: str) -> int:
    """The number of characters the module counts against its CA limit (profile.ca_max_chars).

    That is the PEM text with every line end normalised to a single "\\n", surrounding whitespace
    removed (encode_ca never sends it), plus one final "\\n" after the END line: exactly the
    payload CommandReader delivers for encode_ca(pem). An empty PEM (a clear) counts 0.
    """
    lines = _pem_lines(pem)
    return sum(len(line) + 1 for line in lines)
