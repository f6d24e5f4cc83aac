"""Wire invariants: what RFC 2246 (TLS 1.0) and RFC 6101 (SSL 3.0) require of every byte the
client puts on the wire, checked on every connection a harness server accepts (BoGo's shim
idea: properties of everything the client sends, not only in the row that is about it).

The rules are data (`RULES`, each with its section); the checks are pure functions over what the
server recorded (`ClientWire`). A backend feeds `ClientWire.feed` every client record as it
passes and, for the tlslite backend, the decrypted premaster and what its own verification of
the client's Finished and record MACs concluded; `check_connection` turns that into
`Violation`s. Rules about freshness (client random, premaster) compare handshakes of the whole
run: `SEEN` is one registry per process (per pytest worker).

Not a rule, only characterized: gmt_unix_time (RFC 2246 §7.4.1.2 lets it be anything: "Clocks
are not required to be set correctly").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HEADER = 5
MAX_CIPHERTEXT = 2**14 + 2048  # RFC 2246 §6.2.3: TLSCiphertext.length
MAX_PLAINTEXT = 2**14  # RFC 2246 §6.2.1 / RFC 6101 §5.2.1
CONTENT_TYPES = frozenset({20, 21, 22, 23})
CLIENT_HELLO, CLIENT_KEY_EXCHANGE, FINISHED = 1, 16, 20
KEPT = 20  # violations kept per connection (a broken header would repeat on every record)

# RFC 2246 §7.2 (AlertDescription) and RFC 6101 §5.4.2: the codes each version defines.
SSL3_ALERTS = frozenset({0, 10, 20, 30, 40, 41, 42, 43, 44, 45, 46, 47})
TLS1_ALERTS = frozenset(
    {0, 10, 20, 21, 22, 30, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 60, 70, 71, 80, 90, 100}
)
# RFC 2246 §7.2.2: the descriptions it calls "always fatal" (RFC 6101 §5.4.2 says "fatal"
# for unexpected_message, bad_record_mac, decompression_failure, handshake_failure and
# illegal_parameter).
ALWAYS_FATAL = frozenset({10, 20, 21, 22, 30, 40, 47, 48, 49, 50, 60, 70, 71, 80})
NO_RENEGOTIATION = 100  # RFC 2246 §7.2.2: "This message is always a warning."
WARNING, FATAL = 1, 2


@dataclass(frozen=True)
class Rule:
    id: str
    field: str  # what on the wire the rule is about
    section: str  # where the rule is written
    text: str  # the rule, in the RFC's sense


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str
    section: str
    detail: str

    def __str__(self) -> str:
        return f"{self.field}: {self.detail} [{self.rule}, {self.section}]"


_RULES = (
    Rule("rec-type", "record.type", "RFC 2246 §6.2.1; RFC 6101 §5.2.1",
         "content type is one of change_cipher_spec(20), alert(21), handshake(22), "
         "application_data(23)"),
    Rule("rec-major", "record.version", "RFC 2246 §6.2.1, App. E; RFC 6101 §5.2.1",
         "the record version's major byte is 3 (SSL 3.0 / TLS 1.x record layer)"),
    Rule("rec-version", "record.version", "RFC 2246 §6.2.1, §7.4.1.3; RFC 6101 §5.2.1",
         "every record after the ServerHello carries the negotiated version (a plaintext "
         "alert refusing the ServerHello excepted)"),
    Rule("rec-length", "record.length", "RFC 2246 §6.2.3; RFC 6101 §5.2.3",
         "a record's length is at most 2^14 + 2048 (ciphertext), 2^14 in the clear"),
    Rule("rec-empty-hs", "record.length", "RFC 2246 §6.2.1",
         "no zero-length fragment of handshake, alert or change_cipher_spec"),
    Rule("rec-mac", "record.MAC", "RFC 2246 §6.2.3.1; RFC 6101 §5.2.3.1",
         "every protected record carries a correct MAC (verified by the server)"),
    Rule("ch-first", "ClientHello", "RFC 2246 §7.4.1.2; RFC 6101 §5.6.1.2",
         "the client's first handshake message is a ClientHello"),
    Rule("ch-decode", "ClientHello", "RFC 2246 §7.4.1.2; RFC 6101 §5.6.1.2",
         "the ClientHello parses: every vector's length fits the message"),
    Rule("ch-version", "ClientHello.client_version", "RFC 2246 §7.4.1.2, App. E",
         "client_version is SSL 3.0 (3,0), TLS 1.0 (3,1) or later: (3,x)"),
    Rule("ch-session-id", "ClientHello.session_id", "RFC 2246 §7.4.1.2; RFC 6101 §5.6.1.2",
         "session_id is 0 to 32 bytes"),
    Rule("ch-suites", "ClientHello.cipher_suites", "RFC 2246 §7.4.1.2; RFC 6101 §5.6.1.2",
         "cipher_suites is a non-empty vector of 2-byte values (even length), none repeated"),
    Rule("ch-compression", "ClientHello.compression_methods",
         "RFC 2246 §7.4.1.2; RFC 6101 §5.6.1.2",
         "compression_methods is non-empty and contains null (0)"),
    Rule("ch-extensions", "ClientHello.extensions", "RFC 3546 §2.1 (RFC 2246 §7.4.1.2)",
         "bytes after compression_methods, if any, are one well-formed extensions block with "
         "no type repeated"),
    Rule("ch-fresh", "ClientHello.random", "RFC 2246 §7.4.1.2, §F.1.4; RFC 6101 §5.6.1.2",
         "random_bytes come from a secure RNG: never the same in two handshakes of a run"),
    Rule("cke-encoding", "ClientKeyExchange", "RFC 2246 §7.4.7.1; RFC 6101 §5.6.7.1",
         "TLS: EncryptedPreMasterSecret has a 2-byte length prefix equal to the rest of the "
         "message; SSL 3.0: no prefix"),
    Rule("cke-key-size", "ClientKeyExchange", "RFC 2246 §7.4.7.1 (PKCS #1 v1.5)",
         "the encrypted premaster is as long as the server certificate's modulus"),
    Rule("pms-decrypt", "PreMasterSecret", "RFC 2246 §7.4.7.1; RFC 6101 §5.6.7.1",
         "the premaster decrypts (PKCS #1 v1.5) to exactly 48 bytes"),
    Rule("pms-version", "PreMasterSecret.client_version", "RFC 2246 §7.4.7.1, App. E",
         "the premaster's first two bytes are the client_version the ClientHello offered, "
         "not the negotiated version (the version-rollback check)"),
    Rule("pms-fresh", "PreMasterSecret.random", "RFC 2246 §7.4.7.1, §F.1.1.2",
         "the 46 random bytes are secure random: never the same in two handshakes of a run"),
    Rule("ccs-body", "ChangeCipherSpec", "RFC 2246 §7.1; RFC 6101 §5.3",
         "the ChangeCipherSpec record is exactly one byte, 1"),
    Rule("ccs-order", "ChangeCipherSpec", "RFC 2246 §7.3, §7.4.9; RFC 6101 §5.6.9",
         "the client sends ChangeCipherSpec after ClientKeyExchange, and a handshake record "
         "(its Finished, encrypted) right after it"),
    Rule("fin-verify", "Finished.verify_data", "RFC 2246 §7.4.9; RFC 6101 §5.6.9",
         "the client's Finished verify_data is correct over the handshake messages (verified by "
         "the server)"),
    Rule("alert-desc", "Alert.description", "RFC 2246 §7.2; RFC 6101 §5.4",
         "an alert has two bytes: level 1 (warning) or 2 (fatal), and a description the "
         "negotiated version defines"),
    Rule("alert-fatal-level", "Alert.level", "RFC 2246 §7.2.2; RFC 6101 §5.4.2",
         "a description the RFC calls always fatal is sent at level fatal; no_renegotiation "
         "always at warning"),
    Rule("alert-fatal-close", "Alert", "RFC 2246 §7.2.2; RFC 6101 §5.4.2",
         "after a fatal alert the client sends nothing more on the connection"),
)  # fmt: skip
RULES: dict[str, Rule] = {r.id: r for r in _RULES}


def violation(rule_id: str, detail: str) -> Violation:
    rule = RULES[rule_id]
    return Violation(rule.field, rule.id, rule.section, detail)


# -- pure checks ---------------------------------------------------------------------------------


def check_record(
    ctype: int,
    version: tuple[int, int],
    length: int,
    negotiated: tuple[int, int] | None,
    protected: bool = False,
) -> list[Violation]:
    """One client record's header. `negotiated`: the ServerHello's version, once sent;
    `protected`: the record comes after the client's ChangeCipherSpec. A plaintext alert
    after the ServerHello is exempt from rec-version: a client refusing the ServerHello (its
    version, say) may answer in the version it offered, which the RFCs leave open."""
    out = []
    if ctype not in CONTENT_TYPES:
        out.append(violation("rec-type", f"content type {ctype}"))
    version_bound = negotiated is not None and (protected or ctype != 21)
    if version[0] != 3:
        out.append(violation("rec-major", f"record version {version}"))
    elif version_bound and version != negotiated:
        out.append(violation("rec-version", f"record version {version}, negotiated {negotiated}"))
    if length > MAX_CIPHERTEXT:
        out.append(violation("rec-length", f"{length} bytes > 2^14 + 2048"))
    elif length > MAX_PLAINTEXT and not protected:
        out.append(violation("rec-length", f"{length} bytes in the clear > 2^14"))
    if length == 0 and ctype in (20, 21, 22):
        out.append(violation("rec-empty-hs", f"an empty record of type {ctype}"))
    return out


@dataclass(frozen=True)
class Hello:
    """The fields of a ClientHello body the rules are about."""

    version: tuple[int, int]
    random: bytes
    session_id: bytes
    suites: list[int]
    suites_bytes: int
    compression: list[int]
    extensions: list[int] | None  # None: no extensions block


def parse_hello(body: bytes) -> Hello:
    """A ClientHello body (after the 4-byte handshake header); ValueError says what is wrong."""
    at = 0

    def take(n: int, what: str) -> bytes:
        nonlocal at
        if at + n > len(body):
            raise ValueError(f"{what}: needs {n} bytes at offset {at}, message has {len(body)}")
        chunk = body[at : at + n]
        at += n
        return chunk

    version = tuple(take(2, "client_version"))
    random = take(32, "random")
    session_id = take(take(1, "session_id length")[0], "session_id")
    suites_len = int.from_bytes(take(2, "cipher_suites length"), "big")
    raw_suites = take(suites_len, "cipher_suites")
    suites = [int.from_bytes(raw_suites[i : i + 2], "big") for i in range(0, suites_len - 1, 2)]
    compression = list(take(take(1, "compression_methods length")[0], "compression_methods"))
    extensions: list[int] | None = None
    if at < len(body):
        total = int.from_bytes(take(2, "extensions length"), "big")
        if at + total != len(body):
            raise ValueError(f"extensions block of {total} bytes, {len(body) - at} remain")
        extensions = []
        while at < len(body):
            extensions.append(int.from_bytes(take(2, "extension type"), "big"))
            take(int.from_bytes(take(2, "extension length"), "big"), "extension data")
    return Hello(
        (version[0], version[1]), random, session_id, suites, suites_len, compression, extensions
    )


def check_hello(body: bytes) -> list[Violation]:
    try:
        hello = parse_hello(body)
    except ValueError as exc:
        return [violation("ch-decode", str(exc))]
    out = []
    # The ClientHello record's own version is free ({03,00} or the lowest supported, App. E):
    # only its major byte is a rule (rec-major).
    if hello.version[0] != 3:
        out.append(violation("ch-version", f"client_version {hello.version}"))
    if len(hello.session_id) > 32:
        out.append(violation("ch-session-id", f"{len(hello.session_id)} bytes"))
    if hello.suites_bytes == 0 or hello.suites_bytes % 2:
        out.append(violation("ch-suites", f"cipher_suites of {hello.suites_bytes} bytes"))
    repeated = sorted({f"0x{s:04X}" for s in hello.suites if hello.suites.count(s) > 1})
    if repeated:
        out.append(violation("ch-suites", f"repeated {repeated}"))
    if 0 not in hello.compression:
        out.append(violation("ch-compression", f"methods {hello.compression} without null"))
    if hello.extensions is not None and len(set(hello.extensions)) != len(hello.extensions):
        out.append(violation("ch-extensions", f"types {hello.extensions} repeat"))
    return out


def check_key_exchange(
    body: bytes, negotiated: tuple[int, int], key_bytes: int | None
) -> list[Violation]:
    """The ClientKeyExchange body of an RSA suite."""
    out = []
    if negotiated == (3, 0):
        encrypted = body
    else:
        prefix = int.from_bytes(body[:2], "big")
        if len(body) < 2 or prefix != len(body) - 2:
            return [violation("cke-encoding", f"length prefix {prefix}, {len(body) - 2} follow")]
        encrypted = body[2:]
    if key_bytes is not None and len(encrypted) != key_bytes:
        out.append(
            violation("cke-key-size", f"{len(encrypted)} bytes for a {8 * key_bytes}-bit modulus")
        )
    return out


def check_premaster(premaster: bytes | None, offered: tuple[int, int]) -> list[Violation]:
    if premaster is None or len(premaster) != 48:
        got = "no valid PKCS #1 block" if premaster is None else f"{len(premaster)} bytes"
        return [violation("pms-decrypt", got)]
    if (premaster[0], premaster[1]) != offered:
        return [
            violation(
                "pms-version",
                f"premaster starts {premaster[0]},{premaster[1]}; the ClientHello offered "
                f"{offered[0]},{offered[1]}",
            )
        ]
    return []


def check_alert(body: bytes, version: tuple[int, int]) -> list[Violation]:
    if len(body) != 2:
        return [violation("alert-desc", f"an alert of {len(body)} bytes")]
    level, desc = body
    known = SSL3_ALERTS if version == (3, 0) else TLS1_ALERTS
    out = []
    if level not in (WARNING, FATAL) or desc not in known:
        out.append(violation("alert-desc", f"level {level}, description {desc}"))
    elif desc in ALWAYS_FATAL and level != FATAL:
        out.append(violation("alert-fatal-level", f"description {desc} at level {level}"))
    elif desc == NO_RENEGOTIATION and level != WARNING:
        out.append(violation("alert-fatal-level", f"no_renegotiation at level {level}"))
    return out


# -- freshness across the run --------------------------------------------------------------------


class Seen:
    """Values that must never repeat within a run (client random_bytes, premaster random)."""

    def __init__(self) -> None:
        self._values: dict[str, set[bytes]] = {}
        self._lock = threading.Lock()

    def repeated(self, kind: str, value: bytes) -> bool:
        """Note `value`; True if it was seen before in this process."""
        with self._lock:
            seen = self._values.setdefault(kind, set())
            if value in seen:
                return True
            seen.add(value)
            return False

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


SEEN = Seen()


# -- what the server records ---------------------------------------------------------------------


@dataclass
class ClientWire:
    """The client's side of one connection as a server saw it, checked as it arrives."""

    negotiated: tuple[int, int] | None = None  # set by the server when its ServerHello goes out
    offered: tuple[int, int] | None = None  # the ClientHello's client_version
    key_exchange: bytes | None = None  # the ClientKeyExchange body, kept for the premaster
    premaster_checked: bool = False
    # What the server's own verification concluded (None: it did not get that far or could not
    # tell, e.g. a misbehaving server whose transcript is its own doing).
    finished_ok: bool | None = None
    mac_ok: bool | None = None
    found: list[Violation] = field(default_factory=list)
    v2_hello: bool = False  # the client opened with an SSL 2.0 ClientHello: nothing is checked
    _messages: int = 0  # client handshake messages seen in the clear
    _ccs: bool = False
    _after_ccs: int = 0  # records since the client's ChangeCipherSpec
    _fatal_sent: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, found: list[Violation]) -> None:
        with self._lock:
            for v in found:
                if len(self.found) < KEPT and v not in self.found:
                    self.found.append(v)

    def feed(self, ctype: int, version: tuple[int, int], body: bytes) -> None:
        """One whole client record, as it arrived (`body` encrypted after the client's CCS)."""
        if self._messages == 0 and not self.found and ctype & 0x80:
            # An SSL 2.0-format ClientHello (its header's high bit set), which RFC 2246 App. E.1
            # allows a client that also speaks to SSL 2.0 servers: these 5-byte header rules do
            # not apply, and the bytes that follow cannot be framed by them. Not checked.
            self.v2_hello = True
        if self.v2_hello:
            return
        found = check_record(ctype, version, len(body), self.negotiated, self._ccs)
        if self._fatal_sent:
            found.append(violation("alert-fatal-close", f"a record of type {ctype} after it"))
        if self._ccs:
            if self._after_ccs == 0 and ctype != 22:
                found.append(violation("ccs-order", f"a record of type {ctype} before Finished"))
            self._after_ccs += 1
            self.add(found)
            return
        if ctype == 22:
            found += self._handshake(body)
        elif ctype == 20:
            if body != b"\x01":
                found.append(violation("ccs-body", f"body {body.hex()}"))
            if self.key_exchange is None:
                found.append(violation("ccs-order", "ChangeCipherSpec before ClientKeyExchange"))
            self._ccs = True
        elif ctype == 21:
            found += check_alert(body, self.negotiated or version)
            self._fatal_sent = len(body) == 2 and body[0] == FATAL
        self.add(found)

    def _handshake(self, body: bytes) -> list[Violation]:
        # The client's plaintext messages are small: one per record or several in one, never
        # split across records by this client (a split shows as ch-decode).
        found: list[Violation] = []
        while body:
            htype, length = body[0], int.from_bytes(body[1:4], "big")
            msg = body[4 : 4 + length]
            body = body[4 + length :]
            first = self._messages == 0
            self._messages += 1
            if first and htype != CLIENT_HELLO:
                found.append(violation("ch-first", f"handshake type {htype} first"))
            if htype == CLIENT_HELLO and first:
                found += check_hello(msg)
                with_random = len(msg) >= 34
                if len(msg) >= 2:
                    self.offered = (msg[0], msg[1])
                if with_random and SEEN.repeated("client random_bytes", bytes(msg[6:34])):
                    found.append(
                        violation("ch-fresh", f"random_bytes {msg[6:34].hex()[:16]}... repeated")
                    )
            elif htype == CLIENT_KEY_EXCHANGE:
                self.key_exchange = bytes(msg)
        return found

    def check_key_exchange(
        self, key_bytes: int | None, decrypt: Callable[[bytes], Any] | None
    ) -> None:
        """Once the handshake has run (or failed): the ClientKeyExchange and its premaster.
        `decrypt(ciphertext)` gives the premaster (None for a bad PKCS #1 block)."""
        if self.key_exchange is None or self.premaster_checked or self.negotiated is None:
            return
        self.premaster_checked = True
        found = check_key_exchange(self.key_exchange, self.negotiated, key_bytes)
        if found or decrypt is None or self.offered is None:
            self.add(found)
            return
        encrypted = self.key_exchange if self.negotiated == (3, 0) else self.key_exchange[2:]
        plain = decrypt(encrypted)
        premaster = None if plain is None else bytes(plain)
        found = check_premaster(premaster, self.offered)
        fresh_checked = premaster is not None and len(premaster) == 48
        if fresh_checked and SEEN.repeated("premaster random", bytes(premaster or b"")[2:]):
            found.append(violation("pms-fresh", "the premaster's 46 random bytes repeated"))
        self.add(found)

    def violations(self) -> list[Violation]:
        out = list(self.found)
        if self.finished_ok is False:
            out.append(violation("fin-verify", "the server found the client's Finished wrong"))
        if self.mac_ok is False:
            out.append(violation("rec-mac", "the server found a client record's MAC wrong"))
        return out


def strict_decrypt(key: Any, ciphertext: bytes) -> bytes | None:
    """RSAES-PKCS1-v1_5 decryption (RFC 2313 §9.4 / RFC 3447 §7.2.2) with the padding checked
    strictly: None for a bad block. The servers' own decryption answers a bad block with a
    synthetic message (implicit rejection), which must not read as a premaster here.
    `key`: a tlslite RSA private key (n, p, q, dP, dQ, qInv); CRT keeps it a few ms."""
    k = (key.n.bit_length() + 7) // 8
    c = int.from_bytes(ciphertext, "big")
    if len(ciphertext) != k or c >= key.n:
        return None
    m1, m2 = pow(c, key.dP, key.p), pow(c, key.dQ, key.q)
    m = m2 + key.q * ((key.qInv * (m1 - m2)) % key.p)
    block = m.to_bytes(k, "big")
    end = block.find(b"\x00", 2)
    if block[:2] != b"\x00\x02" or end < 10:  # at least 8 bytes of non-zero padding
        return None
    return block[end + 1 :]


def rules_table() -> str:
    """The rules as the Markdown table docs/invariants.md carries (tests check it is current)."""
    rows = ["| rule | on the wire | section | the rule |", "|---|---|---|---|"]
    rows += [f"| `{r.id}` | {r.field} | {r.section} | {r.text} |" for r in RULES.values()]
    return "\n".join(rows) + "\n"
