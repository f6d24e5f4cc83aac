"""The harness's typed vocabulary: every word that travels between layers or into a report.

StrEnum where the value is written to JSON, a transcript or a test id, so a report reads the
same words the code uses; comparing with a bare string still works, but nothing spells one out.
Result codes live beside their meanings in `w24_harness.at.codes.ResultCode`; protocol versions
and cipher suites with their wire facts in `w24_harness.tlsfacts`.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Where in a scenario the device showed a rejection."""

    CA = "ca"  # AT+iCA= refused the value
    CONNECT = "connect"  # AT+iSTCP could not open the socket
    SSL = "ssl"  # AT+iSSL: the handshake failed
    DATA = "data"  # AT+iSRCV reported an error after the handshake
    SEND = "send"  # AT+iSSND refused or failed


class Action(StrEnum):
    """What the runner makes the device do in a scenario."""

    HANDSHAKE = "handshake"  # AT+iSTCP, AT+iSSL, close
    EXCHANGE = "exchange"  # handshake, then data both ways, checked by hash
    SECOND_SSL = "second_ssl"  # a second SSL socket while one is active
    SSND_OVER = "ssnd_over"  # one AT+iSSND over the profile's limit
    SSL_BAD_HANDLE = "ssl_bad_handle"  # AT+iSSL on a handle that is no open TCP socket
    LOAD_CA = "load_ca"  # AT+iCA= and read back only
    QUERY_CA_SLOT = "query_ca_slot"  # AT+iCA2? (a slot the profile may lack)
    RECEIVE_TO_CLOSE = "receive_to_close"  # once the server has sent and closed: read it all
    RECEIVE_PAUSED = "receive_paused"  # no SRCV for a while after the handshake, then read
    SRCV_MAX = "srcv_max"  # read with AT+iSRCV:<hn>,<max> only, each reply checked
    FULL_DUPLEX = "full_duplex"  # SSND and SRCV interleaved while the server streams
    # Exactly one AT+iSSND of send_size bytes (no driver splitting), checked at the server.
    SSND_ONE = "ssnd_one"


class Family(StrEnum):
    """Which suite file runs a scenario (and the report's grouping)."""

    HANDSHAKE = "handshake"
    CA = "ca"
    DATA = "data"
    IDENTITY = "identity"  # whose certificate the device trusts (suites/test_identity.py)
    THROUGHPUT = "throughput"  # suites/test_throughput.py: throughput cases, not catalogue rows
    RECORD = "record"  # the record layer: padding, MAC, lengths, types, segmentation


class Backend(StrEnum):
    """Which TLS stack plays the server."""

    OPENSSL = "openssl"  # Python's ssl: real OpenSSL, TLS 1.0 with AES here
    TLSLITE = "tlslite"  # tlslite-ng: SSL 3.0, RC4, 3DES, and every misbehaviour


class ClientCheck(StrEnum):
    """A check a correct TLS client makes that a misbehaving server tests (and a simulator
    self-test fault of the same name switches off: w24_harness.sim.faults)."""

    FINISHED = "finished"  # the server's Finished verify_data
    OFFERED_SUITE = "offered_suite"  # the ServerHello's suite is one the client offered
    CCS_ORDER = "ccs_order"  # a ChangeCipherSpec only right before the server's Finished
    KEY_EXCHANGE = "key_exchange"  # no ServerKeyExchange in a static-RSA suite (FREAK)


class Watch(StrEnum):
    """What the scenario's server watches the device do where the host cannot see it: the
    runner turns the server's record of the device's records into a ServerSaw."""

    CLOSE = "close"  # does AT+iSCLS send close_notify before the FIN?
    HELLO_REQUEST = "hello_request"  # the device's answer to a HelloRequest mid-session


class ServerSaw(StrEnum):
    """What the server saw the device send (Expect.server; Outcome.server_saw)."""

    CLOSE_NOTIFY = "close_notify before FIN"
    NO_CLOSE_NOTIFY = "FIN without close_notify"
    NO_ANSWER = "no answer"  # a HelloRequest passed over
    NO_RENEGOTIATION = "no_renegotiation warning"
    CLIENT_HELLO = "ClientHello"  # a renegotiation attempt
    FATAL_ALERT = "fatal alert"


class Renegotiation(StrEnum):
    """What a client does with a HelloRequest after the handshake (RFC 2246 §7.4.1.1: it may
    ignore it, or answer no_renegotiation; RFC 5746 does not bind a 2008 client)."""

    IGNORE = "ignore"  # passed over: no answer, the session goes on
    REFUSE = "refuse"  # a no_renegotiation warning alert, the session goes on
    FAIL = "fail"  # the session fails (224 at the next AT+iSRCV)


class DataDirection(StrEnum):
    """Which way application data moves."""

    RECEIVE = "receive"  # server to device (AT+iSRCV)
    SEND = "send"  # device to server (AT+iSSND)


class LineDirection(StrEnum):
    """A serial transcript entry's direction."""

    TX = "tx"  # host to device
    RX = "rx"  # device to host
    NOTE = "note"  # the harness's own annotation


class ResultClass(StrEnum):
    """How one scenario's actual outcome compares with its expectation."""

    PASSED = "passed"  # conformance: the outcome is the expected one
    FAILED = "failed"  # the outcome is not one the expectation allows
    OBSERVED = "observed"  # characterization: an allowed outcome, recorded
    DRIFT = "drift"  # characterization: allowed, but not what the profile holds
    ERROR = "error"  # no outcome: the harness, the port or the device failed
    XFAIL = "xfail"  # failed, as a deviations-file entry says it does
    XPASS = "xpass"  # a deviations-file entry that passed: fails the run
    WEDGED = "wedged"  # the sanity check after the scenario failed: the device needs a reset
    # The row's subject never reached the device (a forgery's CA refused at AT+iCA=, so the
    # forged leaf was never presented): no verdict either way, amber.
    NOT_EXERCISED = "not exercised"


class Basis(StrEnum):
    """What decides a scenario's expectation."""

    W24_MANUAL = "w24-manual"  # the Motorola W24 manual, May 2008 (spec §1-§10)
    ICHIP_FIRMWARE = "ichip-firmware"  # the later iChip firmware's documents (spec §12)
    RFC = "rfc"  # an RFC (SSL 3.0: RFC 6101, TLS 1.0: RFC 2246, X.509: RFC 5280)
    HARNESS = "harness"  # the harness's own assumption (never a firmware failure on its own)


class Kind(StrEnum):
    """What a scenario can conclude."""

    CONFORMANCE = "conformance"  # pass or fail against a documented rule
    ROBUSTNESS = "robustness"  # no hang, no wedge, a clean error
    CHARACTERIZATION = "characterization"  # record which of the allowed outcomes it shows


class Deviation(StrEnum):
    """Why a deviations file marks a scenario as an expected failure."""

    KNOWN_BUG = "known-bug"  # the firmware is wrong, and it is known (the only kind for critical)
    POLICY = "policy"  # the firmware chose differently from what the profile expects
    NOT_APPLICABLE = "not-applicable"  # the scenario does not apply to this build
