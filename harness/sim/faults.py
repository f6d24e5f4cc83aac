"""Self-test switches that break the simulator the way real firmware breaks.

A suite that still passes with one of these switched on has a hole: `tests/` runs the suites
against each fault and checks that the right scenarios fail.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from w24_harness.vocab import ClientCheck

# The faults that switch one client check off, by the check (the catalogue's Scenario.checks
# names the scenarios that exist to catch each).
CHECK_FAULTS: dict[str, ClientCheck] = {
    "no_finished_check": ClientCheck.FINISHED,
    "unoffered_suite_accepted": ClientCheck.OFFERED_SUITE,
    "stray_ccs_ignored": ClientCheck.CCS_ORDER,
    "export_key_accepted": ClientCheck.KEY_EXCHANGE,
}
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
    # Deliver SSL data to the host at a third of the line rate (answering I/0 meanwhile): the
    # firmware that the throughput floor exists to catch.
    slow_delivery: bool = False
    # The SSND handler crashes (an exception of the simulator's own) after the bytes went out:
    # the wire shows I/ERROR(216), and the harness must report a simulator internal error.
    internal_error: bool = False
    # Trust a server certificate whose issuer NAME matches a loaded CA, without checking its
    # signature (an impostor CA of the same name, a broken or forged signature all pass).
    trust_by_name: bool = False
    # Check PKCS#1 v1.5 signatures like the parsers of CVE-2006-4339 / CVE-2014-1568: BER
    # lengths, DigestInfo parameters unread, bytes after the digest ignored.
    lenient_pkcs1: bool = False
    # Take any certificate of the server's list that a loaded CA signed as the server's, not
    # only the first (a wrongly ordered chain, or a lone intermediate, then passes).
    leaf_search: bool = False
    # Do not check the server's Finished (a wrong verify_data is accepted).
    no_finished_check: bool = False
    # Go on with a suite the ServerHello picks that the ClientHello never offered.
    unoffered_suite_accepted: bool = False
    # Ignore a ChangeCipherSpec that arrives out of place (early, or a second one).
    stray_ccs_ignored: bool = False
    # Take a ServerKeyExchange in a static-RSA suite and encrypt the premaster to its key
    # (FREAK: a 512-bit export key).
    export_key_accepted: bool = False
    # A failed handshake never frees its SSL context: the module still answers AT, but every
    # later AT+iSSL fails (225) until AT+iDOWN. The sanity check after each rejection must
    # report such a device as wedged.
    leak_ssl_on_failure: bool = False
    # TLS 1.0 CBC padding bytes not checked, only the MAC (POODLE-TLS, CVE-2014-8730).
    padding_unchecked: bool = False
    # An empty application-data record is taken for the end of the connection.
    empty_record_eof: bool = False
    # A record one byte over the plaintext limit is accepted (the limit check is `>`, off by one).
    record_limit_off_by_one: bool = False
    # When the peer closes, the data still buffered for the host are thrown away.
    drop_data_at_close: bool = False
    # A record that fails its check (224, 226) takes the receive buffer with it: the good data
    # before it, still unread by the host, are lost, and SRCV answers the error at once.
    drop_data_on_record_error: bool = False
    # A close without close_notify (a FIN or RST: a possible truncation) throws away the data
    # still buffered and reports 215, whatever the profile's close code: the host can tell a
    # truncation, but loses the data the server sent before it.
    unclean_close_drops_data: bool = False
    # A close_notify from the peer is swallowed: the socket still looks up (SRCV keeps giving I/0).
    ignore_close_notify: bool = False
    # AT+iSRCV:<hn>,<max> returns everything buffered, whatever <max> says.
    srcv_max_ignored: bool = False
    # While the host is away (no command on the socket for RX_OVERFLOW_IDLE_S), the module goes
    # on taking TCP data and drops what does not fit its receive buffer, instead of leaving it to
    # TCP flow control.
    rx_overflow_drops: bool = False
    # After a HelloRequest inside the session, the next application-data record is lost: a
    # client that never implemented renegotiation takes the message down its handshake path,
    # which resets the record buffer. Whatever it answers (nothing, no_renegotiation), the data
    # the server sent next never reaches the host.
    hello_request_drops_data: bool = False
    # AT+iCA= checks only the value's length and stores it unparsed: a value that is no
    # certificate, a SHA-256 signature or a key size the module cannot use all answer I/OK,
    # and the trouble shows at the handshake, if at all (AT+iCA? echoes what was stored).
    ca_unchecked: bool = False
    # AT+iSSND on an SSL socket takes more than the 2048 bytes the module's record buffer holds
    # (the size check missing: on the module, a buffer overflow; here the bytes go out).
    ssnd_limit_unchecked: bool = False
    # The ClientHello offers DEFLATE (1) besides null compression, as clients of the CRIME era
    # did; every server here picks null, so only the ClientHello itself shows it.
    hello_offers_compression: bool = False
    # AT+iCA= refuses an X.509 v1 certificate (116): the firmware looks for basicConstraints
    # and takes its absence for "not a CA", though the manual's own sample CA is a v1 root.
    v1_ca_refused: bool = False
    # AT+iDOWN closes the sockets but not the SSL context of an SSL socket among them: the
    # reset path frees sockets, the SCLS path alone frees the context, so every later AT+iSSL
    # is 225 until a DOWN with no SSL socket open (spec §4.12, §5.1).
    down_keeps_ssl_context: bool = False
    # A handle whose peer closed (the host has seen its -203) counts as free: the next STCP
    # gets it while the host still holds it, and its unread data go (spec §4.13).
    down_handle_reused: bool = False
    # AT+iSCLS frees the socket but leaves its entry in the status table: RP4 reports 0 for
    # the closed handle instead of -200, and SST answers I/(0), until STCP reuses it (§4.11).
    stale_status_after_scls: bool = False
    # The premaster's first two bytes are the version the ServerHello chose, not the one the
    # ClientHello offered (RFC 2246 §7.4.7.1): the classic rollback-check bug (old IE), which
    # servers tolerate; only a session negotiated below the offered version shows it.
    premaster_negotiated_version: bool = False
    # The RNG is re-seeded with the same constant at every AT+iSSL (an entropy pool read
    # before it holds anything): every ClientHello random and premaster are the same.
    rng_reseeded: bool = False
    # After the handshake the client's records keep the ClientHello's record version instead of
    # the negotiated one (RFC 2246 §6.2.1): only an SSL 3.0 session shows it, and no server
    # here refuses it.
    record_version_offered: bool = False
    # The alerts that abort a handshake go out at level warning (1), though RFC 2246 §7.2.2
    # makes them fatal (unknown_ca, handshake_failure, protocol_version ...); the client still
    # closes, so only the alert's level byte shows it.
    alerts_as_warning: bool = False

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

    def lenient_checks(self) -> frozenset[ClientCheck]:
        """The client checks these faults switch off."""
        return frozenset(check for name, check in CHECK_FAULTS.items() if getattr(self, name))

    def active(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]
