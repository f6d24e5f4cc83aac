"""Self-test switches that break the simulator the way real firmware breaks.

A suite that still passes with one of these switched on has a hole: `tests/` runs the suites
against each fault and checks that the right scenarios fail.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# How long the host must leave a socket alone before rx_overflow_drops takes data from TCP.
RX_OVERFLOW_IDLE_S = 1.0


@dataclass(frozen=True)
class Faults:
    # Skip the server-certificate check: any certificate is trusted.
    accept_any_cert: bool = False
    # With no CA loaded, run the handshake anyway (and trust anything) instead of answering 222.
    ignore_empty_ca: bool = False
    # Report every SSL failure as 220, whatever its real cause (224, 226, 222, 225 ...).
    wrong_code: bool = False
    # Flip one bit in every SRCV payload of an SSL socket.
    corrupt_rx: bool = False
    # TLS 1.0 CBC padding bytes not checked, only the MAC (POODLE-TLS, CVE-2014-8730).
    padding_unchecked: bool = False
    # An empty application-data record is taken for the end of the connection.
    empty_record_eof: bool = False
    # A record one byte over the plaintext limit is accepted (the limit check is `>`, off by one).
    record_limit_off_by_one: bool = False
    # When the peer closes, the data still buffered for the host are thrown away.
    drop_data_at_close: bool = False
    # A close_notify from the peer is swallowed: the socket still looks up (SRCV keeps giving I/0).
    ignore_close_notify: bool = False
    # AT+iSRCV:<hn>,<max> returns everything buffered, whatever <max> says.
    srcv_max_ignored: bool = False
    # While the host is away (no command on the socket for RX_OVERFLOW_IDLE_S), the module goes
    # on taking TCP data and drops what does not fit its receive buffer, instead of leaving it to
    # TCP flow control.
    rx_overflow_drops: bool = False

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_names(cls, names: list[str] | tuple[str, ...]) -> Faults:
        known = set(cls.names())
        unknown = [n for n in names if n.replace("-", "_") not in known]
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown}; known: {sorted(known)}")
        return cls(**{n.replace("-", "_"): True for n in names})

    def active(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]
