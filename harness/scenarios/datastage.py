"""Data-stage scenarios: how a session ends (close_notify, FIN, RST, a fatal alert) with data
still buffered, alerts and a HelloRequest between data records, back-pressure while the host does
not poll, the SRCV <max> bound, full duplex, and data in the segment of the server's Finished.

Rows of ../shared/notes/tls-client-test-corpus.md §4 (`data-*`); spec §4.7 (SRCV), §4.13 (a
closed socket keeps its buffered data readable, then reports -203 or -215), §11.13 (how a peer's
close_notify shows is not documented).
"""

from __future__ import annotations

from w24_harness.at.codes import ResultCode
from w24_harness.profiles.table import DeviceProfile
from w24_harness.scenarios.model import (
    ACCEPT,
    Expect,
    Rule,
    Scenario,
    always,
    any_error,
    one_of,
    reject,
)
from w24_harness.servers.misbehaviour.records import (
    Alert,
    AlertDescription,
    AlertLevel,
    Data,
    Ending,
    HelloRequest,
    RecordPlan,
    Segments,
)
from w24_harness.vocab import (
    Action,
    Backend,
    Basis,
    Family,
    Kind,
    Renegotiation,
    ServerSaw,
    Stage,
    Watch,
)

DECODE = reject(ResultCode.SSL_DECODE_ERROR, Stage.DATA)
# A session the peer ended, shown by SRCV once the data before it are read: the manual defines
# 203 as "socket closed by peer" and fixes no code for a close without close_notify or for an
# alert; any error code is correct, silence or lost data are not.
ENDED = any_error(Stage.DATA)
# The sizes of AT+iSRCV <max> a small host uses (a byte at a time, small and large buffers).
SRCV_MAX_SIZES: tuple[int, ...] = (1, 16, 64, 256, 1024)


def _data(
    id: str,
    description: str,
    plan: RecordPlan,
    rule: Rule,
    action: Action,
    *,
    basis: Basis = Basis.W24_MANUAL,
    kind: Kind = Kind.CONFORMANCE,
    measures: str | None = None,
    allowed: frozenset[Expect] | None = None,
    **extra: object,
) -> Scenario:
    return Scenario(
        id,
        description,
        Family.DATA,
        rule,
        backend=Backend.TLSLITE,
        action=action,
        recv_size=plan.data_bytes,
        records=plan,
        basis=basis,
        kind=kind,
        measures=measures,
        allowed=one_of(*allowed) if allowed is not None else None,
        **extra,  # type: ignore[arg-type]
    )


def _unclean_rule(p: DeviceProfile) -> Expect:
    code = p.unclean_close_code
    assert code is not None  # Scenario.expected asks only when it is known
    return reject(code, Stage.DATA)


CLOSED_WITH_NOTIFY = Expect(True, server=ServerSaw.CLOSE_NOTIFY)
CLOSED_BARE = Expect(True, server=ServerSaw.NO_CLOSE_NOTIFY)


def _close_notify_rule(p: DeviceProfile) -> Expect:
    return CLOSED_WITH_NOTIFY if p.close_notify_on_scls else CLOSED_BARE


_RENEGOTIATION_EXPECT: dict[Renegotiation, Expect] = {
    Renegotiation.IGNORE: Expect(True, server=ServerSaw.NO_ANSWER),
    Renegotiation.REFUSE: Expect(True, server=ServerSaw.NO_RENEGOTIATION),
    Renegotiation.FAIL: DECODE,
}
# What RFC 2246 §7.4.1.1 allows a client: ignore the HelloRequest, answer it with a
# no_renegotiation warning (§7.2.2), or renegotiate (a ClientHello, which the harness's server
# does not answer: recorded) -- with the data around it intact. A session failure fails.
RENEGOTIATION_OUTCOMES = frozenset(
    {
        Expect(True, server=ServerSaw.NO_ANSWER),
        Expect(True, server=ServerSaw.NO_RENEGOTIATION),
        Expect(True, server=ServerSaw.CLIENT_HELLO),
    }
)


def _renegotiation_rule(p: DeviceProfile) -> Expect:
    assert p.renegotiation is not None  # Scenario.expected asks only when it is known
    return _RENEGOTIATION_EXPECT[p.renegotiation]


def _close_scenarios() -> list[Scenario]:
    closes = [
        _data(
            f"data-close-notify-{n}",
            f"{n} bytes, then close_notify: SRCV returns all {n}, then an error code "
            "(spec §4.13: a closed socket's data stay readable; which code is not fixed, and "
            "the socket status may show the close before the data are read)",
            RecordPlan("close-notify", (Data(n),), ending=Ending.CLOSE_NOTIFY),
            always(ENDED),
            Action.RECEIVE_TO_CLOSE,
        )
        for n in (1000, 16384)
    ]
    for ending, label in ((Ending.FIN, "FIN"), (Ending.RESET, "RST")):
        closes.append(
            _data(
                f"data-{label.lower()}-1000",
                f"1000 bytes, then TCP {label} without close_notify: "
                "all 1000 delivered, then an error code; is it another than after a clean "
                "close (can the host tell a truncation)? (BoGo Unclean-Shutdown; spec §4.13)",
                RecordPlan(f"{ending.value}-after-data", (Data(1000),), ending=ending),
                _unclean_rule,
                Action.RECEIVE_TO_CLOSE,
                kind=Kind.CHARACTERIZATION,
                measures="unclean_close_code",
                allowed=frozenset({ENDED}),
            )
        )
    closes.append(
        _data(
            "data-fatal-alert-after-data",
            "1000 bytes, then a fatal internal_error alert and FIN: the data stay readable, "
            "then an error, any code (RFC 2246 §7.2.2: a fatal alert ends the connection; spec "
            "§4.13; BoGo Unclean-Shutdown-Alert)",
            RecordPlan(
                "fatal-alert",
                (Data(1000), Alert(AlertLevel.FATAL, AlertDescription.INTERNAL_ERROR)),
                ending=Ending.FIN,
            ),
            always(ENDED),
            Action.RECEIVE_TO_CLOSE,
            basis=Basis.RFC,
        )
    )
    return closes


def _mid_data_scenarios() -> list[Scenario]:
    warn = Alert(AlertLevel.WARNING, AlertDescription.NO_RENEGOTIATION)
    return [
        _data(
            "data-warning-alerts",
            "warning alerts between data records (RFC 2246 §7.2: the "
            "receiver decides whether a warning ends the session; BoGo SendWarningAlerts): all "
            "the data, or the data before the first warning and then an error",
            RecordPlan("warning-alerts", (Data(400), warn, Data(400), warn, warn, Data(400))),
            lambda p: ACCEPT if p.ignore_warning_alerts else ENDED,
            Action.EXCHANGE,
            basis=Basis.RFC,
            kind=Kind.CHARACTERIZATION,
            measures="ignore_warning_alerts",
            allowed=frozenset({ACCEPT, ENDED}),
        ),
        _data(
            "data-hello-request",
            "a HelloRequest between data records: ignored, or answered with a "
            "no_renegotiation warning (seen by the server), the data intact; a failed session "
            "fails (RFC 2246 §7.4.1.1: the client may ignore it; §7.2.2 no_renegotiation)",
            RecordPlan("hello-request", (Data(500), HelloRequest(), Data(500))),
            _renegotiation_rule,
            Action.EXCHANGE,
            basis=Basis.RFC,
            kind=Kind.CONFORMANCE,
            measures="renegotiation",
            allowed=RENEGOTIATION_OUTCOMES,
            watch=Watch.HELLO_REQUEST,
        ),
        _data(
            "data-scls-close-notify",
            "1000 bytes, then the host closes with AT+iSCLS: the server gets a close_notify "
            "before the FIN (RFC 2246 §7.2.1: each party is required to send one before "
            "closing its write side; the manual does not say, spec §11.13)",
            RecordPlan("scls-close", (Data(1000),), watch_client=True),
            _close_notify_rule,
            Action.EXCHANGE,
            basis=Basis.RFC,
            kind=Kind.CONFORMANCE,
            measures="close_notify_on_scls",
            allowed=frozenset({CLOSED_WITH_NOTIFY}),
            watch=Watch.CLOSE,
        ),
        _data(
            "data-same-segment-as-finished",
            "the server's first data in the same TCP segment "
            "as its Finished (server-speaks-first protocols)",
            RecordPlan("with-finished", (Data(300),), segments=Segments.WITH_FINISHED),
            always(ACCEPT),
            Action.EXCHANGE,
            basis=Basis.HARNESS,
        ),
    ]


def _flow_scenarios() -> list[Scenario]:
    out = [
        _data(
            "data-no-poll-65536",
            "the server sends 64 KB while the host does not poll for "
            "2 s: nothing lost (TCP flow control holds what the buffer cannot)",
            RecordPlan("no-poll", (Data(65536),)),
            always(ACCEPT),
            Action.RECEIVE_PAUSED,
            basis=Basis.HARNESS,
            waits=True,  # runner.NO_POLL_S of the host doing nothing
        ),
        _data(
            "data-full-duplex-65536",
            "64 KB each way at once: SSND and SRCV interleaved while the server streams",
            RecordPlan("duplex", (Data(65536),), duplex=True),
            always(ACCEPT),
            Action.FULL_DUPLEX,
            basis=Basis.HARNESS,
            send_size=65536,
        ),
    ]
    for limit in SRCV_MAX_SIZES:
        size = 20 if limit == 1 else 4 * limit + 3
        out.append(
            _data(
                f"data-srcv-max-{limit}",
                f"{size} bytes read with AT+iSRCV:<hn>,{limit} only: no "
                f"reply longer than {limit} (spec §4.7)",
                RecordPlan("srcv-max", (Data(size),)),
                always(ACCEPT),
                Action.SRCV_MAX,
                srcv_max=limit,
            )
        )
    return out


SCENARIOS: list[Scenario] = [*_close_scenarios(), *_mid_data_scenarios(), *_flow_scenarios()]
