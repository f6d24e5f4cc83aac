"""The row ids of the field-interop suite (suites/test_field_interop.py), in one place.

Each field test is parametrized with these ids, so the row has one name everywhere: the pytest
node id (junit.xml), the plan and the verdict, results.json, report.html, and a deviations file
(w24_harness.judge.deviations accepts them besides the catalogue's scenario ids). Before, the plan
said `ssl3-3des-sha-nginx` (pytest's parameter ids) and the result `field-nginx-ssl3-3des-sha`.
"""

from __future__ import annotations

from w24_harness.interop.daemons import SPECS, DaemonKind
from w24_harness.tlsfacts import W24_SUITES, ProtocolVersion, short_name

KINDS: list[DaemonKind] = list(SPECS)
VERSIONS = (ProtocolVersion.TLS1, ProtocolVersion.SSL3)
ADMIN_LOADED = ("own", "other")


def suite_row(kind: str, version: str, suite: str) -> str:
    return f"field-{kind}-{ProtocolVersion(version).short}-{short_name(suite)}"


def data_row(kind: str) -> str:
    return f"field-{kind}-data"


def wrong_ca_row(kind: str) -> str:
    return f"field-{kind}-wrong-ca"


def admin_row(kind: str, loaded: str) -> str:
    return f"field-{kind}-admin-{loaded}-cert"


def all_row_ids() -> list[str]:
    rows = [suite_row(k, v, s) for k in KINDS for v in VERSIONS for s in W24_SUITES]
    rows += [data_row(k) for k in KINDS] + [wrong_ca_row(k) for k in KINDS]
    rows += [admin_row(k, loaded) for k in KINDS for loaded in ADMIN_LOADED]
    return rows
