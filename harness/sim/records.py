"""The device's check of an incoming CBC record: decrypt, then padding, then MAC.

Replaces tlslite's `_decryptThenMAC` on the simulator's client record layer, for two reasons:
- SSL 3.0 (RFC 6101 §5.2.3.2): "the length of the padding must be less than the cipher's block
  length". tlslite (like its constant-time routine) still takes a padding length equal to the
  block size; a correct W24 refuses it, as OpenSSL does.
- The `padding_unchecked` self-test fault needs a place to skip the TLS 1.0 padding-byte rule
  (RFC 2246 §6.2.3.2: every padding byte holds the padding length): the POODLE-TLS bug.
Every failure is tlslite's TLSBadRecordMAC (or TLSDecryptionFailed for a length that is not a
whole number of blocks), which the channel reports as 224: bad padding and a bad MAC look the
same to the host (no padding oracle).
"""

from __future__ import annotations

import hmac
from typing import Any

from tlslite.errors import TLSBadRecordMAC, TLSDecryptionFailed

SSL3_WIRE = (3, 0)


def install(layer: Any, *, check_padding_bytes: bool = True) -> None:
    """Make `layer` (a tlslite RecordLayer) check CBC records with `decrypt_then_mac`."""

    def checked(record_type: int, data: bytearray) -> bytearray:
        return decrypt_then_mac(layer, record_type, data, check_padding_bytes=check_padding_bytes)

    layer._decryptThenMAC = checked


def decrypt_then_mac(
    layer: Any, record_type: int, data: bytearray, *, check_padding_bytes: bool = True
) -> bytearray:
    state = layer._readState
    block = state.encContext.block_size
    if len(data) % block:
        raise TLSDecryptionFailed("record length is not a whole number of blocks")
    plain = state.encContext.decrypt(data)
    version = tuple(layer.version)
    digest_size = state.macContext.digest_size
    # The sequence number is used once per record, whatever the verdict.
    seq = state.getSeqNumBytes()
    if len(plain) < digest_size + 1:
        raise TLSBadRecordMAC("record too short for a MAC and padding")
    pad = plain[-1]
    mac_start = len(plain) - pad - 1 - digest_size
    good = mac_start >= 0
    if good and version == SSL3_WIRE:
        good = pad < block  # RFC 6101: padding shorter than one block; its bytes are arbitrary
    elif good and check_padding_bytes:
        good = plain[len(plain) - pad - 1 :] == bytearray([pad]) * (pad + 1)
    if not good:
        raise TLSBadRecordMAC("bad padding")
    content = plain[:mac_start]
    mac = layer.calculateMAC(state.macContext.copy(), seq, record_type, content)
    if not hmac.compare_digest(bytes(mac), bytes(plain[mac_start : mac_start + digest_size])):
        raise TLSBadRecordMAC("MAC mismatch")
    return content
