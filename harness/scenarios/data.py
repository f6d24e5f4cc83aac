"""Data-integrity scenarios: sizes from 1 byte to 64 KB each way, compared by SHA-256."""

from __future__ import annotations

from w24_harness.scenarios.model import ACCEPT, Scenario, always
from w24_harness.tlsfacts import ProtocolVersion
from w24_harness.vocab import Action, Family

SSL3, TLS1 = ProtocolVersion.SSL3, ProtocolVersion.TLS1

SCENARIOS: list[Scenario] = []
DATA_SIZES: tuple[int, ...] = (1, 100, 2047, 2048, 2049, 16384, 65536)
for _size in DATA_SIZES:
    SCENARIOS.append(
        Scenario(
            f"data-down-{_size}",
            f"server sends {_size} bytes, device receives",
            Family.DATA,
            always(ACCEPT),
            action=Action.EXCHANGE,
            recv_size=_size,
        )
    )
    SCENARIOS.append(
        Scenario(
            f"data-up-{_size}",
            f"device sends {_size} bytes, server receives",
            Family.DATA,
            always(ACCEPT),
            action=Action.EXCHANGE,
            send_size=_size,
        )
    )
