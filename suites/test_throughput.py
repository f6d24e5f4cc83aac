"""Throughput through an SSL session, both ways, for every protocol version and cipher suite the
profile has: the bytes must arrive intact (SHA-256), and on a line of known rate the transfer
must reach a floor fraction of the framing-adjusted bound (w24_harness.report.linerate).

Sizes: 256 KB on an unthrottled simulator (the line rate is unknown: integrity is checked and the
rate recorded, nothing more); on a line of known rate, about 1.5 s worth of bytes at baud/10.
Each case records bytes/s, the ratio to the line rate and to the framing-adjusted bound, and the
handshake time in results.json and report.html.
"""

from __future__ import annotations

import pytest

from w24_harness.fixtures.plugin import OPTIONS_KEY
from w24_harness.report.linerate import (
    Rates,
    default_floor,
    effective_baud,
    meets_floor,
    rates,
    transfer_size,
)
from w24_harness.servers import TLSServer
from w24_harness.throughput import (
    RECEIVE,
    ThroughputCase,
    Transfer,
    cases_for,
    run_transfer,
    server_config,
)
from w24_harness.vocab import Stage


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = cases_for(metafunc.config.stash[OPTIONS_KEY].profile)
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])


def _detail(transfer: Transfer, measured: Rates | None) -> str:
    parts = [transfer.error] if transfer.error else []
    if measured is not None:
        text = (
            f"{transfer.payload_bytes} bytes in {transfer.seconds:.3f} s = "
            f"{measured.throughput_bps / 1000:.1f} KB/s"
        )
        if measured.line_ratio is not None and measured.framing_ratio is not None:
            text += (
                f"; {measured.line_ratio:.3f} of the line rate, "
                f"{measured.framing_ratio:.3f} of the framing-adjusted bound"
            )
        wire = transfer.wire
        parts.append(
            text + f"; {transfer.commands} commands, {wire.tx} bytes to / {wire.rx} from device"
        )
    return "; ".join(parts)


def test_throughput(case: ThroughputCase, w24, pki, w24_options, loaded_ca, w24_record):
    baud = effective_baud(w24_options.simulated, w24_options.baud)
    size = transfer_size(baud)
    floor = default_floor(w24_options.simulated, w24_options.baud, w24_options.min_line_efficiency)
    certs = pki.get("valid")
    loaded_ca(certs.ca_pem)
    with TLSServer(server_config(case, certs.server, size, w24_options.bind)) as server:
        transfer = run_transfer(w24, server, case, size, host=w24_options.host)
        conn = server.connections[0] if server.connections else None
    measured = rates(size, transfer.seconds, transfer.minimal, baud) if transfer.ok else None
    ratio = measured.framing_ratio if measured is not None else None
    fast_enough = meets_floor(ratio, floor)
    if not transfer.ok:
        actual = "failed" if transfer.moved == 0 else "incomplete or corrupted"
    else:
        actual = "intact" if fast_enough else "intact, below the floor"
    detail = _detail(transfer, measured)
    w24_record(
        id=case.id,
        description=case.describe(size),
        expected="intact" + (f", >= {floor:.2f} of the framing-adjusted bound" if floor else ""),
        actual=actual,
        passed=transfer.ok and fast_enough,
        code=transfer.code,
        stage=(Stage.DATA if case.direction == RECEIVE else Stage.SEND) if transfer.error else "",
        handshake_ms=transfer.handshake_ms or None,
        bytes_received=transfer.moved if case.direction == RECEIVE else 0,
        bytes_sent=transfer.moved if case.direction != RECEIVE else 0,
        throughput_bps=measured.throughput_bps if measured else None,
        line_ratio=measured.line_ratio if measured else None,
        framing_ratio=ratio,
        line_rate_bps=measured.line_rate_bps if measured else None,
        detail=detail,
        server={"version": conn.version, "cipher": conn.cipher, "backend": case.backend}
        if conn is not None
        else {},
    )
    assert transfer.ok, f"{case.id}: {transfer.error}"
    assert fast_enough, (
        f"{case.id}: {ratio} of the framing-adjusted bound is under the floor {floor} "
        f"(--w24-min-line-efficiency): {detail}"
    )
