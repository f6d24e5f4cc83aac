"""A fast CBC padding-and-MAC check for tlslite-ng's record layer.

tlslite checks every incoming CBC record with `ct_check_cbc_mac_and_pad`, a constant-time
(Lucky 13) routine in pure Python that computes one HMAC per possible padding length: about
2.5 ms per 2 KB record, so the simulator spent ~20 ms decrypting each 16 KB SRCV while the serial
line stood idle (AES and 3DES at 921600 baud reached only 0.86 of the line rate). The simulator
and the harness's own servers are test equipment on loopback, not targets of a timing attack, so
here the check runs once, in C (hmac), with the same verdict: for well-formed input it computes
exactly what tlslite's routine computes; inputs too short to hold padding and a MAC are handed to
tlslite's own routine, so every verdict matches it.

`install()` / `uninstall()` are called by w24_harness.tlsaccel.cipher's install() / uninstall().
"""

from __future__ import annotations

import hmac
from typing import Any

_original: Any = None


def check_cbc_mac_and_pad(
    data: bytearray,
    mac: Any,
    seqnumBytes: bytearray,  # noqa: N803 - tlslite's parameter names
    contentType: int,  # noqa: N803
    version: tuple[int, int],
    block_size: int = 16,
) -> bool:
    """Same contract as tlslite.utils.constanttime.ct_check_cbc_mac_and_pad."""
    from tlslite.utils.constanttime import ct_check_cbc_mac_and_pad

    size = len(data)
    digest_size = mac.digest_size
    if digest_size + 1 > size:
        return False
    pad_length = data[-1]
    mac_start = size - pad_length - 1 - digest_size
    if mac_start < 0:  # padding runs into the MAC: tlslite's edge-case arithmetic decides
        return ct_check_cbc_mac_and_pad(data, mac, seqnumBytes, contentType, version, block_size)
    if version == (3, 0):
        if pad_length > block_size:  # SSL 3.0 padding bytes are arbitrary; only the length
            return False
    elif data[size - pad_length - 1 :] != bytes([pad_length]) * (pad_length + 1):
        return False
    check = mac.copy()
    check.update(bytes(seqnumBytes))
    check.update(bytes([contentType]))
    if version != (3, 0):
        check.update(bytes(version))
    check.update(mac_start.to_bytes(2, "big"))
    check.update(bytes(data[:mac_start]))
    sent = bytes(data[mac_start : mac_start + digest_size])
    return hmac.compare_digest(bytes(check.digest()), sent)


def install() -> None:
    global _original
    from tlslite import recordlayer

    if _original is None:
        _original = recordlayer.ct_check_cbc_mac_and_pad
    recordlayer.ct_check_cbc_mac_and_pad = check_cbc_mac_and_pad


def uninstall() -> None:
    global _original
    from tlslite import recordlayer

    if _original is not None:
        recordlayer.ct_check_cbc_mac_and_pad = _original
        _original = None


def installed() -> bool:
    from tlslite import recordlayer

    return recordlayer.ct_check_cbc_mac_and_pad is check_cbc_mac_and_pad
