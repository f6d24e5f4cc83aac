"""The oracle: what a W24 may answer to each command, and what its peer must then see.

State is what the manuals say the module holds: the nonvolatile CA parameter, ten socket
handles (plain or SSL, up or down, with the bytes each way that are owed), the one SSL
context. Each check is a Rule with the spec section or manual page it comes from (spec =
/work/shared/spec/w24-at-protocol.md, which cites the manual pages). Where the manuals leave a
choice open the model allows every outcome of the set, narrowed by the device profile's field
when the profile decided it (`profiles.UNDOCUMENTED`).

The model does not talk to a device or a socket: `machine.py` runs a command, hands what came
back (`Observed`) to the matching method here, and the method raises `Violation` or updates
the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from w24_harness.at.codes import ResultCode
from w24_harness.at.replies import Reply, ReplyKind
from w24_harness.profiles.table import DeviceProfile


@dataclass(frozen=True)
class Rule:
    name: str
    cite: str  # spec section (and through it the manual page)
    says: str


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.name: r for r in rules}


RULES: dict[str, Rule] = _rules(
    Rule("ping", "spec §12.1 (WASP)", "AT+i alone answers I/OK"),
    Rule("ca-legal", "spec §6 (W24 2-189)", "AT+iCA=<legal certificate> answers I/OK"),
    Rule("ca-illegal", "spec §6, §12.3 (116)", "AT+iCA=<not a certificate> is I/ERROR(116)"),
    Rule("ca-kept", "spec §2.3", "a command answered I/ERROR is thrown away: the CA is unchanged"),
    Rule("ca-clear", "spec §6 ('tca = <CR><CR>')", "an empty AT+iCA= value clears the CA: I/OK"),
    Rule("ca-query", "spec §6", "AT+iCA? reports the PEM loaded (only CR LF when empty), I/OK"),
    Rule("ca-help", "spec §2.2, §6", "AT+iCA=? answers 'String' then I/OK"),
    Rule("ca-nonvolatile", "spec §1, §7", "the CA is nonvolatile: sockets, SCLS, DOWN keep it"),
    Rule("v1-ca", "spec §6 note (the manual's sample CA is an X.509 v1 root)", "a v1 CA loads"),
    Rule("stcp-handle", "spec §4, §4.1 (W24 2-33)", "STCP answers I/<h>, h in 0..9 not in use"),
    Rule("stcp-refused", "spec §4.1", "STCP to a port nobody listens on answers I/ERROR"),
    Rule("stcp-full", "spec §1, §12.3 (204)", "with all ten handles in use STCP is 204"),
    Rule("ssl-ok", "spec §5.1, §5.2 (W24 2-57/2-58)", "a server signed by the CA: I/OK"),
    Rule("ssl-untrusted", "spec §5.1, §12.3 (220)", "a server the CA did not sign: 220"),
    Rule("ssl-no-ca", "spec §12.3 (222)", "AT+iSSL with no CA loaded is 222"),
    Rule("ssl-handle", "spec §12.3 (221)", "AT+iSSL on a handle that is no open TCP socket: 221"),
    Rule("ssl-one", "spec §5.1, §12.3 (225)", "one active SSL socket at a time: a second is 225"),
    Rule(
        "ssl-freed",
        "spec §5.1",
        "only an ACTIVE SSL socket holds the context: after a failed "
        "handshake, SCLS or DOWN the next handshake gets it",
    ),
    Rule("ssnd-ok", "spec §4.6 (W24 2-37)", "SSND on an open socket answers I/OK"),
    Rule("ssnd-limit", "spec §4.6, §5.3 (227)", "SSND of more than 2048 bytes on SSL is 227"),
    Rule("ssnd-closed", "spec §4.6, §4.13", "SSND on a handle not open, or down, is I/ERROR"),
    Rule(
        "peer-data",
        "spec §4.6, §5.1",
        "the peer receives exactly the bytes sent, in order "
        "(decrypted: the host only ever sees plaintext)",
    ),
    Rule(
        "srcv-data",
        "spec §4.7, §5.3 (W24 2-38, 2-58)",
        "SRCV returns the next bytes the peer "
        "sent, in order, at most <max>; I/0 when none are buffered",
    ),
    Rule("srcv-closed", "spec §4.7", "SRCV on a handle that is not open is I/ERROR"),
    Rule(
        "data-kept",
        "spec §4, §4.13 (W24 2-8)",
        "after the peer closes, buffered data can still be read with SRCV, "
        "in order, before SRCV shows the error (SST may show it at once)",
    ),
    Rule(
        "down-code",
        "spec §3.1 (203), §4.13, profile unclean_close_code",
        "a peer's close "
        "shows as 203 or 215 (a FIN without close_notify on SSL: the profile's code, if it "
        "decided)",
    ),
    Rule(
        "sst-count",
        "spec §4.4 (W24 2-35)",
        "SST: >= 0 the bytes waiting (never more than the "
        "peer sent and the host has not read), < 0 only for a socket that is down",
    ),
    Rule("sst-free", "spec §4.4, §4.11", "SST on a free handle: I/ERROR, or the -200 of RP4"),
    Rule(
        "settle",
        "spec §4.4, §4.7",
        "bytes the peer sent reach the input buffer (SST counts them) while it has room",
    ),
    Rule(
        "rp4",
        "spec §4.11 (W24 2-58 example)",
        "RP4: ten values, -200 for each free handle, each open one as SST",
    ),
    Rule(
        "scls",
        "spec §4.10 (W24 2-40)",
        "SCLS: I/OK then I/DONE if it was the last socket, "
        "else I/ONLINE; I/ERROR on a handle not open",
    ),
    Rule(
        "scls-peer",
        "spec §4.10, profile close_notify_on_scls",
        "SCLS flushes, then closes "
        "TCP in an orderly way (FIN); on SSL a close_notify first if the profile says so",
    ),
    Rule(
        "ssl-fail-socket",
        "spec §5.2, §11.2",
        "after a failed handshake the TCP socket may "
        "be closed or left open: SCLS may answer either way",
    ),
    Rule(
        "down",
        "spec §4.12 (W24 2-8)",
        "DOWN: I/OK, then I/ERROR if it closed a socket, else "
        "I/DONE or I/ONLINE; every socket is closed, its peer sees the connection end",
    ),
    Rule(
        "record-limit",
        "spec §12.3 (226), §5.3; profile max_record_plaintext",
        "an incoming record over the 2 KB plaintext limit is refused with 226, its data never "
        "delivered (what came before it may be lost)",
    ),
    Rule(
        "empty-record",
        "RFC 2246 §6.2.1",
        "a zero-length application-data record is neither data nor the end of the connection",
    ),
    Rule(
        "unasked-close",
        "spec §4.13, §4.10",
        "a socket leaves CONNECTED only when its peer closes, by SCLS or DOWN: the device does "
        "not close a connection on its own",
    ),
    Rule(
        "escape",
        "spec §2.4 (W24 1-2)",
        "+++ after 0.5 s of silence online: I/ERROR(056), software reset: every socket closed",
    ),
)


class Violation(AssertionError):
    """The device (or its peer) did something the model does not allow."""

    def __init__(self, rule: str, expected: str, got: str) -> None:
        self.rule = RULES[rule]
        self.expected = expected
        self.got = got
        super().__init__(f"[{rule}: {self.rule.cite}] expected {expected}, got {got}")


def check(ok: bool, rule: str, expected: str, got: object) -> None:
    if not ok:
        raise Violation(rule, expected, str(got))


class PeerClose(StrEnum):
    FIN = "fin"  # TCP FIN without a close_notify
    CLOSE_NOTIFY = "close_notify"  # TLS close_notify alert, then FIN
    OVERSIZE = "oversize"  # not a close: a record over the limit, which ends the session (226)


@dataclass(frozen=True)
class Observed:
    """A command's replies as the driver read them."""

    final: Reply
    text: tuple[str, ...] = ()
    second: Reply | None = None

    def __str__(self) -> str:
        parts = [_show(self.final)] + ([_show(self.second)] if self.second else [])
        return " then ".join(parts)


def _show(r: Reply) -> str:
    if r.kind is ReplyKind.ERROR:
        return "I/ERROR" if r.code is None else f"I/ERROR({r.code:03d})"
    if r.kind is ReplyKind.NUMBER:
        return f"I/{r.value}"
    if r.kind is ReplyKind.TUPLE:
        return f"I/{r.values}"
    if r.kind is ReplyKind.DATA:
        return f"I/{len(r.data)}:<{len(r.data)} bytes>"
    return f"I/{r.kind.name}"


@dataclass
class Sock:
    """One handle as the model holds it (spec §4.13's states)."""

    label: int  # the step language's name for it: the n-th STCP of the run
    handle: int
    tls_peer: bool  # its peer is a TLS server (plain TCP otherwise)
    ssl: bool = False
    inbound: bytearray = field(default_factory=bytearray)  # peer sent, host has not read
    sent: bytearray = field(default_factory=bytearray)  # host sent, the peer must receive
    peer_closed: PeerClose | None = None
    seen_down: bool = False  # the host has been told (a negative status or an error)
    empty_records: int = 0  # zero-length records the peer sent (RFC 2246 §6.2.1)


@dataclass(frozen=True)
class PeerOwed:
    """What the peer of a socket must have seen once the device closed it."""

    data: bytes  # all of it (SCLS flushes) ...
    prefix_ok: bool  # ... or, after DOWN, a prefix is enough (the manual names no flush)
    close_notify: frozenset[bool]  # whether a close_notify comes before the FIN


@dataclass
class Model:
    profile: DeviceProfile
    ca: str | None = None  # the CA's id in the step language ("root", "v1", ...)
    ca_pem: str = ""
    sockets: dict[int, Sock] = field(default_factory=dict)  # by label
    last_ca_refused: bool = False  # the last AT+iCA= was answered I/ERROR

    # -- helpers --------------------------------------------------------------------------

    def by_handle(self, handle: int) -> Sock | None:
        return next((s for s in self.sockets.values() if s.handle == handle), None)

    def free_handles(self) -> list[int]:
        used = {s.handle for s in self.sockets.values()}
        return [h for h in range(self.profile.socket_count) if h not in used]

    def ssl_active(self) -> bool:
        return any(s.ssl for s in self.sockets.values())

    def _down_codes(self, s: Sock) -> set[int] | None:
        """The codes a down socket may show (None: any code)."""
        if s.peer_closed is PeerClose.OVERSIZE:  # 226 first; after it, not documented
            return None if s.seen_down else {int(ResultCode.SSL_RECORD_TOO_BIG)}
        if s.peer_closed is PeerClose.FIN and s.ssl:
            code = self.profile.unclean_close_code
            return None if code is None else {int(code)}
        # Spec §4.13: a socket whose peer closed reports -203 (or -215).
        return {int(ResultCode.SOCKET_DOWN), int(ResultCode.SOCKET_NO_CARRIER)}

    def _status_ok(self, s: Sock, value: int) -> bool:
        if value >= 0:
            return value <= len(s.inbound)
        if s.peer_closed is None:
            return False
        codes = self._down_codes(s)
        return codes is None or -value in codes

    def _rule_for(self, s: Sock, default: str) -> str:
        """The rule a status or error of socket `s` is judged by."""
        if s.peer_closed is PeerClose.OVERSIZE:
            return "record-limit"
        if s.peer_closed is None and s.empty_records:
            return "empty-record"
        return default

    def _close_notify_set(self) -> frozenset[bool]:
        decided = self.profile.close_notify_on_scls
        return frozenset({True, False}) if decided is None else frozenset({bool(decided)})

    # -- the CA parameter -----------------------------------------------------------------

    def ping(self, obs: Observed) -> None:
        check(obs.final.kind is ReplyKind.OK, "ping", "I/OK", obs)

    def ca_set(self, ca_id: str, pem: str, legal: bool, obs: Observed) -> None:
        self.last_ca_refused = not legal
        if legal:
            rule = "v1-ca" if ca_id == "v1" else "ca-legal"
            check(obs.final.kind is ReplyKind.OK, rule, "I/OK", obs)
            self.ca, self.ca_pem = ca_id, pem
            return
        got = obs.final
        ok = got.kind is ReplyKind.ERROR and got.code == ResultCode.CA_PARSE_ERROR
        check(ok, "ca-illegal", "I/ERROR(116)", obs)

    def ca_clear(self, obs: Observed) -> None:
        check(obs.final.kind is ReplyKind.OK, "ca-clear", "I/OK", obs)
        self.ca, self.ca_pem = None, ""
        self.last_ca_refused = False

    def ca_query(self, obs: Observed, reported_pem: str) -> None:
        check(obs.final.kind is ReplyKind.OK, "ca-query", "I/OK", obs)
        want = _norm(self.ca_pem)
        rule = "ca-kept" if self.last_ca_refused else "ca-nonvolatile" if self.ca else "ca-query"
        check(
            _norm(reported_pem) == want,
            rule,
            f"the PEM of CA {self.ca or '(empty)'}",
            f"a report of {len(reported_pem)} PEM characters that differ",
        )

    def ca_help(self, obs: Observed) -> None:
        ok = obs.final.kind is ReplyKind.OK and any(t.strip() == "String" for t in obs.text)
        check(ok, "ca-help", "'String' then I/OK", f"{obs.text} {obs}")

    # -- sockets --------------------------------------------------------------------------

    def stcp(self, label: int, tls_peer: bool, listening: bool, obs: Observed) -> int | None:
        """Returns the handle the device gave, when it gave one."""
        got = obs.final
        if not self.free_handles():
            ok = got.kind is ReplyKind.ERROR and got.code == ResultCode.NO_SOCKETS
            check(ok, "stcp-full", "I/ERROR(204)", obs)
            return None
        if not listening:
            check(got.kind is ReplyKind.ERROR, "stcp-refused", "I/ERROR", obs)
            return None
        ok = got.kind is ReplyKind.NUMBER and got.value in self.free_handles()
        check(ok, "stcp-handle", f"I/<one of {self.free_handles()}>", obs)
        assert got.value is not None
        self.sockets[label] = Sock(label, got.value, tls_peer)
        return got.value

    def ssl(self, s: Sock | None, signer: str | None, obs: Observed) -> bool:
        """AT+iSSL on socket `s` (None: a free handle) whose server was signed by `signer`.
        Returns whether the handshake succeeded."""
        got = obs.final
        refusals: set[int] = set()
        if s is None or s.ssl or s.seen_down:
            refusals.add(int(ResultCode.SSL_ILLEGAL_HANDLE))
        if self.ssl_active():
            refusals.add(int(ResultCode.SSL_NO_MORE_SOCKETS))
        if self.ca is None:
            refusals.add(int(ResultCode.SSL_NO_CA))
        if refusals:  # the manuals give no order among these checks: any of them may come first
            rule = (
                "ssl-handle" if 221 in refusals else "ssl-one" if 225 in refusals else "ssl-no-ca"
            )
            ok = got.kind is ReplyKind.ERROR and got.code in refusals
            check(ok, rule, f"I/ERROR({' or '.join(map(str, sorted(refusals)))})", obs)
            return False
        assert s is not None
        if got.kind is ReplyKind.ERROR and got.code == ResultCode.SSL_NO_MORE_SOCKETS:
            raise Violation("ssl-freed", "the SSL context free (no SSL socket is active)", str(obs))
        if signer == self.ca:
            check(got.kind is ReplyKind.OK, "ssl-ok", f"I/OK (server signed by CA {self.ca})", obs)
            s.ssl = True
            return True
        ok = got.kind is ReplyKind.ERROR and got.code == ResultCode.SSL_NEGOTIATION
        check(ok, "ssl-untrusted", f"I/ERROR(220) (server signed by {signer}, CA {self.ca})", obs)
        return False

    def ssl_failed_close(self, s: Sock, obs: Observed) -> None:
        """The host's SCLS of a socket whose handshake failed (§11.2: either way)."""
        others = len(self.sockets) - 1
        if obs.final.kind is not ReplyKind.ERROR:
            self._check_scls(obs, others)
        del self.sockets[s.label]

    def ssnd(self, s: Sock | None, data: bytes, obs: Observed) -> None:
        got = obs.final
        if s is None:
            check(got.kind is ReplyKind.ERROR, "ssnd-closed", "I/ERROR (handle not open)", obs)
            return
        if s.ssl and len(data) > self.profile.max_ssnd_ssl:
            ok = got.kind is ReplyKind.ERROR and got.code == ResultCode.SSND_TOO_BIG
            check(ok, "ssnd-limit", "I/ERROR(227)", obs)
            return
        if s.seen_down:
            check(got.kind is ReplyKind.ERROR, "ssnd-closed", "I/ERROR (socket down)", obs)
            return
        if s.peer_closed is not None:  # the device may not know yet: either answer
            if got.kind is ReplyKind.ERROR:
                s.seen_down = True
            else:
                s.sent += data  # a half-closed peer may still read it
            return
        check(got.kind is ReplyKind.OK, "ssnd-ok", "I/OK", obs)
        s.sent += data

    def srcv(self, s: Sock | None, limit: int | None, obs: Observed) -> None:
        got = obs.final
        if s is None:
            check(got.kind is ReplyKind.ERROR, "srcv-closed", "I/ERROR (handle not open)", obs)
            return
        if got.kind is ReplyKind.DATA or (got.kind is ReplyKind.NUMBER and got.value == 0):
            data = got.data
            cap = len(s.inbound) if limit is None else min(limit, len(s.inbound))
            ok = len(data) <= cap and bytes(s.inbound[: len(data)]) == data
            where = _first_difference(bytes(s.inbound), data)
            check(
                ok,
                "srcv-data",
                f"a prefix of the {len(s.inbound)} bytes owed, at most "
                f"{limit if limit is not None else 'all'}",
                f"{len(data)} bytes{where}",
            )
            del s.inbound[: len(data)]
            return
        if got.kind is ReplyKind.ERROR and s.peer_closed is not None:
            if s.peer_closed is not PeerClose.OVERSIZE:
                check(not s.inbound, "data-kept", f"the {len(s.inbound)} bytes still owed", obs)
            codes = self._down_codes(s)
            check(
                codes is None or got.code in codes,
                self._rule_for(s, "down-code"),
                f"I/ERROR({codes})",
                obs,
            )
            s.seen_down = True
            s.inbound.clear()
            return
        raise Violation(self._rule_for(s, "srcv-data"), "data or I/0 (the socket is up)", str(obs))

    def sst(self, s: Sock, obs: Observed) -> int:
        got = obs.final
        ok = got.kind is ReplyKind.TUPLE and len(got.values) == 1
        check(ok, "sst-count", "I/(<status>)", obs)
        value = got.values[0]
        check(
            self._status_ok(s, value),
            self._rule_for(s, "sst-count" if value >= 0 else "down-code"),
            self._status_text(s),
            value,
        )
        if value < 0:
            s.seen_down = True
        return value

    def _status_text(self, s: Sock) -> str:
        text = f"0..{len(s.inbound)}"
        if s.peer_closed is not None:
            codes = self._down_codes(s)
            text += f" or -({'any' if codes is None else codes})"
        return text

    def sst_free(self, handle: int, obs: Observed) -> None:
        got = obs.final
        ok = got.kind is ReplyKind.ERROR or (
            got.kind is ReplyKind.TUPLE and got.values == (-ResultCode.SOCKET_NOT_EXIST,)
        )
        check(ok, "sst-free", f"I/ERROR or I/(-200) for free handle {handle}", obs)

    def rp4(self, obs: Observed) -> None:
        got = obs.final
        n = self.profile.socket_count
        check(got.kind is ReplyKind.TUPLE and len(got.values) == n, "rp4", f"I/(<{n} values>)", obs)
        for handle, value in enumerate(got.values):
            s = self.by_handle(handle)
            if s is None:
                check(
                    value == -ResultCode.SOCKET_NOT_EXIST,
                    "rp4",
                    f"-200 for free handle {handle}",
                    f"{value} in {got.values}",
                )
            else:
                check(
                    self._status_ok(s, value),
                    self._rule_for(s, "rp4"),
                    f"{self._status_text(s)} for handle {handle}",
                    f"{value} in {got.values}",
                )
                if value < 0:
                    s.seen_down = True

    def scls(self, s: Sock | None, obs: Observed) -> PeerOwed | None:
        if s is None:
            check(obs.final.kind is ReplyKind.ERROR, "scls", "I/ERROR (handle not open)", obs)
            return None
        self._check_scls(obs, len(self.sockets) - 1)
        del self.sockets[s.label]
        if s.peer_closed is not None:
            return None
        close_notify = self._close_notify_set() if s.ssl else frozenset({False})
        return PeerOwed(bytes(s.sent), False, close_notify)

    def _check_scls(self, obs: Observed, others: int) -> None:
        second = "ONLINE" if others else "DONE"
        ok = (
            obs.final.kind is ReplyKind.OK
            and obs.second is not None
            and obs.second.kind.name == second
        )
        check(ok, "scls", f"I/OK then I/{second}", obs)

    def down(self, obs: Observed) -> dict[int, PeerOwed]:
        """AT+iDOWN; returns what each closed socket's peer must see, by label."""
        had = bool(self.sockets)
        second = {"ERROR"} if had else {"DONE", "ONLINE"}
        ok = (
            obs.final.kind is ReplyKind.OK
            and obs.second is not None
            and obs.second.kind.name in second
        )
        check(ok, "down", f"I/OK then I/{' or I/'.join(sorted(second))}", obs)
        return self._reset_sockets()

    def escape(self, obs: Observed) -> dict[int, PeerOwed]:
        ok = obs.final.kind is ReplyKind.ERROR and obs.final.code == ResultCode.USER_ABORT
        check(ok, "escape", "I/ERROR(056)", obs)
        return self._reset_sockets()

    def _reset_sockets(self) -> dict[int, PeerOwed]:
        owed = {
            label: PeerOwed(bytes(s.sent), True, frozenset({True, False}))
            for label, s in self.sockets.items()
            if s.peer_closed is None
        }
        self.sockets.clear()
        return owed

    # -- the peer's side ------------------------------------------------------------------

    def peer_sent(self, s: Sock, data: bytes) -> None:
        s.inbound += data

    def peer_closed(self, s: Sock, how: PeerClose) -> None:
        s.peer_closed = how

    def peer_empty_record(self, s: Sock) -> None:
        s.empty_records += 1


def _norm(pem: str) -> str:
    return "".join(pem.split())


def _first_difference(owed: bytes, got: bytes) -> str:
    for i, (a, b) in enumerate(zip(owed, got, strict=False)):
        if a != b:
            return f" (byte {i}: 0x{b:02x}, owed 0x{a:02x})"
    if len(got) > len(owed):
        return f" ({len(got) - len(owed)} more than owed)"
    return ""
