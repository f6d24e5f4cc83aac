"""The stateful suite's machinery: a step language, a seeded generator that picks each step
from the model's state (as Hypothesis's rule preconditions do), an executor that runs steps on
the device and its live peers and checks each answer against the model, and a shrinker.

Why not hypothesis.stateful: every example is a run on a real device with live peers, and a
shrink is a replay of a candidate sequence from a reset; Hypothesis would run hundreds of
those with its own example database and deadlines. Here a run is one seeded sequence, the
shrink is delta debugging over the recorded steps (each candidate replayed from AT+iDOWN and a
cleared CA, bounded in runs and seconds), and the result is a JSON step file that replays on any
device with one command (`python -m w24_harness.model.replay FILE`).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from w24_harness.at.codes import DeviceError
from w24_harness.at.commands import encode_ssnd
from w24_harness.at.reader import ESCAPE, ESCAPE_GUARD_S
from w24_harness.at.replies import Reply, ReplyKind
from w24_harness.device.w24 import W24, CAInfo
from w24_harness.model.model import Model, Observed, PeerClose, PeerOwed, Sock, Violation
from w24_harness.model.peers import Peer, PeerConn, refused_port
from w24_harness.pki.certset import CertSetName
from w24_harness.pki.sets import GARBAGE_CA, CertSets
from w24_harness.profiles.table import DeviceProfile
from w24_harness.tlsfacts import RECORD_PLAINTEXT_FITS_ANY_LIMIT

SETTLE_TIMEOUT_S = 3.0  # for bytes on loopback to reach the device's buffer, or the peer
POLL_S = 0.005
ACCEPT_POLL_S = 0.05  # longer than a peer's accept() poll (peers.py)
MAX_INBOUND = 8192  # keep what the peer owes the host under any receive buffer (§11.7)


@dataclass(frozen=True)
class Step:
    """One step of the language. `a`: a socket label (the label its `open` step gave) or a
    size; `b`: a size or SRCV max (-1: none); `c`: a name (CA id, peer kind, close kind);
    `d`: the payload's seed."""

    op: str
    a: int = 0
    b: int = 0
    c: str = ""
    d: int = 0

    def show(self) -> str:
        return " ".join(str(x) for x in (self.op, self.a, self.b, self.c, self.d) if x != "")


def record_fits(profile: DeviceProfile) -> int:
    """The largest record the device must take: the plaintext limit when the profile decided
    the limit counts plaintext, else the size under it however the record is counted."""
    if profile.record_limit_counts_wire is False:
        return profile.max_record_plaintext
    return RECORD_PLAINTEXT_FITS_ANY_LIMIT


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


# -- the world the steps run in ---------------------------------------------------------------

CA_IDS = ("root", "other", "v1", "garbage")
PEER_KINDS = ("plain", "tls_root", "tls_ssl3", "tls_impostor", "tls_v1", "refused")


@dataclass
class World:
    """The CA values and peers of a run, built once per session (certificates cost time)."""

    cas: dict[str, str]  # CA id -> PEM (garbage included)
    signers: dict[str, str | None]  # peer kind -> the CA id that signed its certificate
    peers: dict[str, Peer]
    refused: int  # a port nobody listens on
    host: str = "127.0.0.1"

    @classmethod
    def build(cls, pki: CertSets, host: str = "127.0.0.1", bind: str = "127.0.0.1") -> World:
        valid, v1 = pki.get(CertSetName.VALID), pki.get(CertSetName.V1_CA)
        wrong, impostor = pki.get(CertSetName.WRONG_CA), pki.get(CertSetName.IMPOSTOR_CA)
        assert valid.server and v1.server and impostor.server and v1.ca_pem and wrong.ca_pem
        cas = {
            "root": (valid.ca_pem or b"").decode(),
            "other": wrong.ca_pem.decode(),
            "v1": v1.ca_pem.decode(),
            "garbage": GARBAGE_CA.decode(),
        }
        peers = {
            "plain": Peer("plain", bind=bind),
            "tls_root": Peer("tls_root", valid.server, bind=bind),
            "tls_ssl3": Peer("tls_ssl3", valid.server, versions=("SSL3.0",), bind=bind),
            "tls_impostor": Peer("tls_impostor", impostor.server, bind=bind),
            "tls_v1": Peer("tls_v1", v1.server, bind=bind),
        }
        signers: dict[str, str | None] = {
            "plain": None,
            "tls_root": "root",
            "tls_ssl3": "root",
            "tls_impostor": "impostor",
            "tls_v1": "v1",
            "refused": None,
        }
        return cls(cas, signers, peers, refused_port(bind), host)

    def close(self) -> None:
        for peer in self.peers.values():
            peer.close()


# -- the generator -----------------------------------------------------------------------------


CA_WRITE_OPS = ("ca_set", "ca_clear")


@dataclass
class Generator:
    """Picks the next step from the model's state: mostly steps whose preconditions hold."""

    rng: random.Random
    next_label: int = 0
    # AT+iCA= steps (loads and clears) left, None for no limit. Each is a write of the
    # module's parameter flash: a hardware run gets a budget (suites/test_model.py), the
    # simulator none. Spent, the CA steps drop out of the choice; the draws stay the same, so
    # an unlimited generator picks exactly what it did before the budget existed.
    ca_writes: int | None = None

    def next(self, model: Model, profile: DeviceProfile) -> Step:
        step = self._pick(model, profile)
        if self.ca_writes is not None and step.op in CA_WRITE_OPS:
            self.ca_writes -= 1
        return step

    def _pick(self, model: Model, profile: DeviceProfile) -> Step:
        rng = self.rng
        socks = list(model.sockets.values())
        writes = 0 if self.ca_writes == 0 else 1
        weights: list[tuple[float, Callable[[], Step]]] = [
            (1, lambda: Step("ping")),
            (2 * writes, lambda: Step("ca_set", c=rng.choices(CA_IDS, (5, 1.5, 2, 1.5))[0])),
            (0.4 * writes, lambda: Step("ca_clear")),
            (1, lambda: Step("ca_query")),
            (0.3, lambda: Step("ca_help")),
            (5 if len(socks) < 4 else 1, self._open),
            (1.5, lambda: Step("rp4")),
            (0.4, lambda: Step("down")),
            (
                0.6,
                lambda: Step(
                    rng.choice(("sst_free", "scls_free", "ssnd_free", "srcv_free", "ssl_free"))
                ),
            ),
        ]
        if socks:
            s = rng.choice(socks)
            label = s.label
            usable = s.ssl or not s.tls_peer
            up = s.peer_closed is None
            if s.tls_peer and not s.ssl and up:
                weights.append((6, lambda: Step("ssl", label)))
            if s.ssl and up:
                weights.append((1, lambda: Step("ssl", label)))  # a second AT+iSSL on it: 221
            if usable:
                weights.append(
                    (
                        4,
                        lambda: Step(
                            "ssnd", label, self._ssnd_size(s, profile), d=rng.randrange(1 << 30)
                        ),
                    )
                )
                weights.append((2, lambda: Step("peer_check", label)))
            if usable and up and len(s.inbound) < MAX_INBOUND // 2:
                weights.append(
                    (
                        4,
                        lambda: Step(
                            "peer_send", label, rng.randint(1, 1500), d=rng.randrange(1 << 30)
                        ),
                    )
                )
            if s.ssl and up:
                big = self.rng.randrange(1 << 30)
                weights += [
                    (0.5, lambda: Step("peer_empty", label)),
                    (0.5, lambda: Step("peer_record", label, record_fits(profile), d=big)),
                    (
                        0.25,
                        lambda: Step(
                            "peer_oversize", label, profile.max_record_plaintext + 1, d=big
                        ),
                    ),
                ]
            if up and usable:
                kinds = ["fin"] + (["close_notify"] if s.ssl else [])
                weights.append((1.2, lambda: Step("peer_close", label, c=rng.choice(kinds))))
            weights += [
                (0.03, lambda: Step("escape")),  # costs the 0.5 s guard time: rare
                (3, lambda: Step("srcv", label, rng.choice((-1, -1, rng.randint(1, 700))))),
                (2, lambda: Step("sst", label)),
                (2, lambda: Step("settle", label)),
                (2, lambda: Step("scls", label)),
            ]
        total = sum(w for w, _ in weights)
        pick = rng.uniform(0, total)
        for w, make in weights:
            pick -= w
            if pick <= 0:
                return make()
        return weights[-1][1]()

    def _open(self) -> Step:
        label = self.next_label
        self.next_label += 1
        kinds = PEER_KINDS
        weights = (3, 4, 1, 1.5, 1.5, 0.3)
        return Step("open", label, c=self.rng.choices(kinds, weights)[0])

    def _ssnd_size(self, s: Sock, profile: DeviceProfile) -> int:
        if s.ssl and self.rng.random() < 0.08:
            return profile.max_ssnd_ssl + self.rng.choice((1, 100))  # over the limit: 227
        if self.rng.random() < 0.05:
            return profile.max_ssnd_ssl  # exactly at it
        return self.rng.randint(1, 600)


# -- the executor ------------------------------------------------------------------------------


@dataclass
class Failure:
    step_index: int  # in the executed steps
    violation: Violation
    steps: list[Step]  # the executed steps, the failing one last
    transcript: list[str]

    @property
    def rule(self) -> str:
        return self.violation.rule.name


@dataclass
class Runner:
    """Runs steps on `w24` against `world`'s peers, each checked by the model."""

    w24: W24
    world: World
    profile: DeviceProfile
    model: Model = field(init=False)
    conns: dict[int, PeerConn] = field(default_factory=dict)  # by label
    transcript: list[str] = field(default_factory=list)
    steps_run: int = 0

    def __post_init__(self) -> None:
        self.model = Model(self.profile)

    # -- plumbing -------------------------------------------------------------------------

    def _cmd(
        self,
        body: str,
        *,
        wire: bytes | None = None,
        second: bool = False,
        timeout: float | None = None,
        show: str | None = None,
    ) -> Observed:
        try:
            r = self.w24.execute(body, wire=wire, second_stage=second, timeout=timeout)
            obs = Observed(r.final, r.text, r.second)
        except DeviceError as exc:
            obs = Observed(Reply(ReplyKind.ERROR, code=exc.code))
        self.transcript.append(f"AT+i{show or body}  ->  {obs}")
        return obs

    def reset(self) -> None:
        """A known start: no socket, no CA (the model starts there too). Every handle is
        opened once (to the plain peer) and then all are closed with AT+iDOWN, twice: state a
        faulty module keeps per handle or per context (a stale status entry, an SSL context a
        DOWN did not free) must not carry over from an earlier run into a replay. RP4 then
        shows every handle free."""
        plain = self.world.peers["plain"]
        for _ in range(self.profile.socket_count):
            obs = self._cmd(
                f"STCP:{self.world.host},{plain.port}", timeout=self.w24.timeouts.connect
            )
            if obs.final.kind is not ReplyKind.NUMBER:
                break
        self._cmd("DOWN", second=True, timeout=self.w24.timeouts.reset)
        self._cmd("DOWN", second=True, timeout=self.w24.timeouts.reset)
        self._load_ca("", "CA=")
        time.sleep(ACCEPT_POLL_S)  # a connection still in a listen backlog gets accepted
        for peer in self.world.peers.values():
            peer.quiesce()
        self.model = Model(self.profile)
        self.model.rp4(self._cmd("RP4"))  # every handle free, or the reset itself failed
        self.conns.clear()
        self.transcript.clear()

    def run(
        self,
        steps: list[Step] | None = None,
        *,
        gen: Generator | None = None,
        budget: int = 0,
        deadline: float | None = None,
    ) -> tuple[list[Step], Failure | None]:
        """Run `steps` (or `budget` generated steps) from a reset; return the steps that ran
        and the first failure. Steps whose preconditions do not hold are skipped."""
        try:
            self.reset()
        except Violation as v:  # the device did not come back to the start state
            return [], Failure(-1, v, [], list(self.transcript))
        done: list[Step] = []
        todo = list(steps or [])
        while True:
            if steps is not None:
                if not todo:
                    break
                step = todo.pop(0)
            else:
                assert gen is not None
                if len(done) >= budget or (deadline is not None and time.monotonic() > deadline):
                    break
                step = gen.next(self.model, self.profile)
            if not self.applicable(step):
                continue
            done.append(step)
            try:
                self.execute(step)
            except Violation as v:
                return done, Failure(len(done) - 1, v, list(done), list(self.transcript))
            self.steps_run += 1
        return done, None

    def applicable(self, step: Step) -> bool:
        m = self.model
        if step.op in ("peer_empty", "peer_record", "peer_oversize"):
            s = m.sockets.get(step.a)
            return (
                s is not None and s.ssl and s.peer_closed is None and len(s.inbound) < MAX_INBOUND
            )
        if step.op in (
            "ssl",
            "ssnd",
            "srcv",
            "sst",
            "settle",
            "scls",
            "peer_send",
            "peer_close",
            "peer_check",
        ):
            s = m.sockets.get(step.a)
            if s is None:
                return False
            usable = s.ssl or not s.tls_peer
            if step.op == "ssl":
                return s.tls_peer and s.peer_closed is None
            if step.op in ("ssnd", "peer_check"):
                return usable
            if step.op == "peer_send":
                return usable and s.peer_closed is None and len(s.inbound) < MAX_INBOUND
            if step.op == "peer_close":
                return usable and s.peer_closed is None and (step.c == "fin" or s.ssl)
        if step.op == "open":
            return step.a not in m.sockets
        if step.op.endswith("_free"):
            return bool(m.free_handles())
        if step.op == "escape":
            return bool(m.sockets)  # online: the escape is documented for Internet mode only
        return True

    # -- one step -------------------------------------------------------------------------

    def execute(self, step: Step) -> None:
        getattr(self, f"_do_{step.op}")(step)

    def _do_ping(self, step: Step) -> None:
        self.model.ping(self._cmd(""))

    def _load_ca(self, pem: str, show: str) -> Observed:
        """AT+iCA= through the driver, paced as it paces CA values on this line (a burst
        would overrun a real module's UART, spec §12.1)."""
        try:
            self.w24.set_ca(pem, check=False)
            obs = Observed(Reply(ReplyKind.OK))
        except DeviceError as exc:
            obs = Observed(Reply(ReplyKind.ERROR, code=exc.code))
        self.transcript.append(f"AT+i{show}  ->  {obs}")
        return obs

    def _do_ca_set(self, step: Step) -> None:
        pem = self.world.cas[step.c]
        obs = self._load_ca(pem, f"CA=<{step.c} CA, {len(pem)} characters>")
        self.model.ca_set(step.c, pem, step.c != "garbage", obs)

    def _do_ca_clear(self, step: Step) -> None:
        self.model.ca_clear(self._load_ca("", "CA="))

    def _do_ca_query(self, step: Step) -> None:
        obs = self._cmd("CA?")
        self.model.ca_query(obs, CAInfo("CA", obs.text).pem)

    def _do_ca_help(self, step: Step) -> None:
        self.model.ca_help(self._cmd("CA=?"))

    def _do_open(self, step: Step) -> None:
        kind = step.c
        peer = self.world.peers.get(kind)
        port = peer.port if peer is not None else self.world.refused
        obs = self._cmd(
            f"STCP:{self.world.host},{port}",
            timeout=self.w24.timeouts.connect,
            show=f"STCP:{self.world.host},<{kind} peer>",
        )
        handle = self.model.stcp(step.a, peer is not None and peer.tls, peer is not None, obs)
        if handle is not None and peer is not None:
            self.conns[step.a] = peer.next_conn()
            self.transcript[-1] += f"  [socket s{step.a}]"

    def _sock(self, step: Step) -> Sock:
        return self.model.sockets[step.a]

    def _do_ssl(self, step: Step) -> None:
        s = self._sock(step)
        kind = self._kind(step.a)
        obs = self._cmd(f"SSL:{s.handle}", timeout=self.w24.timeouts.handshake)
        if self.model.ssl(s, self.world.signers.get(kind), obs):
            return
        if s.ssl:
            return  # a second AT+iSSL on an SSL socket (221): the session stays
        # Refused or failed: whether the TCP socket survives is not documented (§11.2); the
        # host closes it, and either answer is allowed.
        obs = self._cmd(f"SCLS:{s.handle}", second=True, timeout=self.w24.timeouts.close)
        self.model.ssl_failed_close(s, obs)
        self._await_peer_end(
            step.a, PeerOwed(b"", True, frozenset({True, False})), "ssl-fail-socket"
        )

    def _kind(self, label: int) -> str:
        conn = self.conns[label]
        for name, peer in self.world.peers.items():
            if conn in peer.conns:
                return name
        return "?"

    def _do_ssl_free(self, step: Step) -> None:
        handle = self.model.free_handles()[-1]
        self.model.ssl(None, None, self._cmd(f"SSL:{handle}"))

    def _do_ssnd(self, step: Step) -> None:
        s = self._sock(step)
        data = payload(step.b, step.d)
        obs = self._cmd(
            f"SSND%:{s.handle},{len(data)}",
            wire=encode_ssnd(s.handle, data, True),
            timeout=self.w24.timeouts.send,
            show=f"SSND%:{s.handle},{len(data)}:<{len(data)} bytes, seed {step.d}>",
        )
        self.model.ssnd(s, data, obs)
        self._check_peer_prefix(step.a)

    def _do_ssnd_free(self, step: Step) -> None:
        handle = self.model.free_handles()[-1]
        obs = self._cmd(f"SSND%:{handle},4", wire=encode_ssnd(handle, b"free", True))
        self.model.ssnd(None, b"free", obs)

    def _do_srcv(self, step: Step) -> None:
        s = self._sock(step)
        limit = None if step.b < 0 else step.b
        obs = self._cmd(f"SRCV:{s.handle}" + ("" if limit is None else f",{limit}"))
        self.model.srcv(s, limit, obs)

    def _do_srcv_free(self, step: Step) -> None:
        handle = self.model.free_handles()[-1]
        self.model.srcv(None, None, self._cmd(f"SRCV:{handle}"))

    def _do_sst(self, step: Step) -> None:
        s = self._sock(step)
        self.model.sst(s, self._cmd(f"SST:{s.handle}"))

    def _do_sst_free(self, step: Step) -> None:
        handle = self.model.free_handles()[-1]
        self.model.sst_free(handle, self._cmd(f"SST:{handle}"))

    def _do_settle(self, step: Step) -> None:
        """Poll SST until the device holds every byte the peer sent (or shows the close once
        they are read): what the model owes must arrive, not only be allowed to."""
        s = self._sock(step)
        want = len(s.inbound)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        mark = len(self.transcript)
        polls = 0
        try:
            while True:
                polls += 1
                value = self.model.sst(s, self._cmd(f"SST:{s.handle}"))
                # A socket whose peer closed may show the error while its data are still
                # buffered and readable (spec §4.13): SRCV, not SST, must then deliver them.
                if value < 0 and (not s.inbound or s.peer_closed is not None):
                    break
                # Once the peer closed and its bytes are read, the close must show (§4.13).
                if value == want and not (want == 0 and s.peer_closed is not None):
                    break
                if value < 0 or time.monotonic() > deadline:
                    target = "a negative status (the peer closed)" if not want else f"{want}"
                    raise Violation(
                        "settle",
                        f"SST to reach {target} (what the peer did)",
                        f"{value} after {polls} polls",
                    )
                time.sleep(POLL_S)
        finally:
            # One line for the whole poll: the transcript stays readable.
            last = self.transcript[-1]
            del self.transcript[mark:]
            self.transcript.append(f"{last}   (the last of {polls} SST polls)")

    def _do_scls(self, step: Step) -> None:
        s = self._sock(step)
        obs = self._cmd(f"SCLS:{s.handle}", second=True, timeout=self.w24.timeouts.close)
        owed = self.model.scls(s, obs)
        if owed is not None:
            self._await_peer_end(step.a, owed)
        self.conns.pop(step.a, None)

    def _do_scls_free(self, step: Step) -> None:
        handle = self.model.free_handles()[-1]
        self.model.scls(None, self._cmd(f"SCLS:{handle}", second=True))

    def _do_rp4(self, step: Step) -> None:
        self.model.rp4(self._cmd("RP4"))

    def _do_down(self, step: Step) -> None:
        obs = self._cmd("DOWN", second=True, timeout=self.w24.timeouts.reset)
        for label, owed in self.model.down(obs).items():
            self._await_peer_end(label, owed, "down")
        self.conns.clear()

    def _do_escape(self, step: Step) -> None:
        time.sleep(ESCAPE_GUARD_S + 0.1)  # the silence before it (spec §2.4)
        obs = self._cmd(
            "+++", wire=ESCAPE, timeout=self.w24.timeouts.reset, show="(0.6 s of silence) +++"
        )
        self.transcript[-1] = self.transcript[-1].replace("AT+i(0.6", "(0.6")
        for label, owed in self.model.escape(obs).items():
            self._await_peer_end(label, owed, "escape")
        self.conns.clear()

    def _do_peer_send(self, step: Step) -> None:
        s = self._sock(step)
        data = payload(step.b, step.d)
        self._peer_io(step.a, lambda: self.conns[step.a].send(data))
        self.model.peer_sent(s, data)
        self.transcript.append(f"peer of s{step.a} sends {len(data)} bytes (seed {step.d})")

    def _peer_io(self, label: int, send: Callable[[], None]) -> None:
        """A peer's send; the connection found gone is the device's doing (none was asked)."""
        try:
            send()
        except (OSError, RuntimeError) as exc:
            raise Violation(
                "unasked-close", f"socket s{label}'s connection up", f"the peer cannot send: {exc}"
            ) from exc

    def _do_peer_empty(self, step: Step) -> None:
        self._peer_io(step.a, lambda: self.conns[step.a].send_record(b""))
        self.model.peer_empty_record(self._sock(step))
        self.transcript.append(f"peer of s{step.a} sends an empty application-data record")

    def _do_peer_record(self, step: Step) -> None:
        data = payload(step.b, step.d)
        self._peer_io(step.a, lambda: self.conns[step.a].send_record(data))
        self.model.peer_sent(self._sock(step), data)
        self.transcript.append(f"peer of s{step.a} sends one {len(data)}-byte record")

    def _do_peer_oversize(self, step: Step) -> None:
        self._peer_io(step.a, lambda: self.conns[step.a].send_record(payload(step.b, step.d)))
        self.model.peer_closed(self._sock(step), PeerClose.OVERSIZE)
        self.transcript.append(f"peer of s{step.a} sends one {step.b}-byte record (over the limit)")

    def _do_peer_close(self, step: Step) -> None:
        s = self._sock(step)
        how = PeerClose(step.c)
        self._peer_io(step.a, lambda: self.conns[step.a].close(how is PeerClose.CLOSE_NOTIFY))
        self.model.peer_closed(s, how)
        self.transcript.append(f"peer of s{step.a} closes ({how})")

    def _do_peer_check(self, step: Step) -> None:
        s = self._sock(step)
        conn = self.conns[step.a]
        want = bytes(s.sent)
        if s.peer_closed is not None:
            return  # it stopped listening: what it got is a prefix, checked at each SSND
        conn.wait_for(lambda: len(conn.received) >= len(want), SETTLE_TIMEOUT_S)
        got = bytes(conn.received)
        self.transcript.append(f"peer of s{step.a} has received {len(got)} bytes")
        if got != want:
            raise Violation(
                "peer-data", f"the {len(want)} bytes sent", _diff(want, got) + _noted(conn)
            )

    # -- the peer's side ------------------------------------------------------------------

    def _check_peer_prefix(self, label: int) -> None:
        s, conn = self.model.sockets[label], self.conns[label]
        got = bytes(conn.received)
        if not bytes(s.sent).startswith(got):
            raise Violation("peer-data", "a prefix of the bytes sent", _diff(bytes(s.sent), got))

    def _await_peer_end(self, label: int, owed: PeerOwed, rule: str = "scls-peer") -> None:
        conn = self.conns.get(label)
        if conn is None:
            return
        ended = conn.wait_for(lambda: conn.fin, SETTLE_TIMEOUT_S)
        got = bytes(conn.received)
        self.transcript.append(
            f"peer of s{label} saw: {len(got)} bytes"
            + (", close_notify" if conn.close_notify else "")
            + (", FIN" if conn.fin else ", no FIN yet")
        )
        if not ended:
            raise Violation(rule, "the connection to end (FIN)", "no FIN within 3 s")
        ok = owed.data.startswith(got) if owed.prefix_ok else got == owed.data
        if not ok:
            raise Violation(
                "peer-data",
                f"the {len(owed.data)} bytes sent",
                _diff(owed.data, got) + _noted(conn),
            )
        if conn.close_notify not in owed.close_notify:
            raise Violation(
                "scls-peer",
                f"close_notify {set(owed.close_notify)}",
                f"close_notify {conn.close_notify}",
            )


def _noted(conn: PeerConn) -> str:
    return f" (the peer also saw: {conn.other_records})" if conn.other_records else ""


def _diff(want: bytes, got: bytes) -> str:
    for i, (a, b) in enumerate(zip(want, got, strict=False)):
        if a != b:
            return f"{len(got)} bytes, first difference at byte {i}"
    return f"{len(got)} bytes"


# -- shrinking and the step file ------------------------------------------------------------------


def shrink(
    runner: Runner, failure: Failure, *, max_runs: int = 60, seconds: float = 60.0
) -> tuple[Failure, int]:
    """Delta debugging over the executed steps: drop chunks while a replay still fails with
    the same rule. Returns the smallest failure found and the replays it took."""
    best = failure
    runs = 0
    deadline = time.monotonic() + seconds
    chunk = max(1, len(best.steps) // 2)
    while chunk >= 1 and runs < max_runs and time.monotonic() < deadline:
        i = 0
        progressed = False
        while i < len(best.steps) - 1 and runs < max_runs and time.monotonic() < deadline:
            candidate = best.steps[:i] + best.steps[i + chunk :]
            if not candidate:
                break
            runs += 1
            _, got = runner.run(candidate)
            if got is not None and got.rule == best.rule and got.step_index >= 0:
                best = got
                progressed = True
            else:
                i += chunk
        if not progressed:
            chunk //= 2
    return best, runs


@dataclass(frozen=True)
class StepFile:
    profile: str
    seed: int
    rule: str
    faults: list[str]
    steps: list[Step]
    transcript: list[str]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> StepFile:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["steps"] = [Step(**s) for s in data["steps"]]
        return cls(**data)
