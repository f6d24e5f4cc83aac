"""The engines matrix, sampled: a few discriminating suite rows against each real TLS stack the
cache holds (`./w24-test engines` builds them), with that engine's shipped deviations file.

Each engine is one child pytest run of the device suites (`--w24-sim-engine E
--w24-deviations <its file>`); it passes only when every sampled row either passes or fails as
the deviations file says (a strict xfail: a listed row that passes fails the run). So the test
proves both halves of the classification: the stack's known behaviours are still there, and
nothing else fails. The whole matrix (every row) is bench/engines_matrix.py.

Selected with `-m engines` only (`./w24-test engines -n 2`, about 35 s on an idle 2-core
machine for six engines); a default run skips it.
"""

from __future__ import annotations

import json

import pytest
from child_runs import run_child

from w24_harness.sim.engines import EngineUnavailable, deviations_file, resolve
from w24_harness.sim.engines.cache import cache_root

pytestmark = [pytest.mark.engines, pytest.mark.timeout(240)]
pytest_plugins = ["pytester"]

ENGINES = (
    "openssl",
    "wolfssl-5.7.2",
    "wolfssl-4.6.0",
    "mbedtls-2.28.3",
    "tlslite-0.7.3",
    "tlslite-0.7.4",
)
# Rows where the stacks differ (and one baseline): see docs/engines.md for what each shows.
SAMPLE = (
    "valid-tls1-aes128-sha",
    "rec-bad-mac-pad0-aes128",  # CVE-2018-1000159: tlslite-ng 0.7.3
    "leaf-outer-sigalg-params-mismatch",  # CVE-2020-36478 (no vulnerable build here)
    "rec-bad-padding-255-aes128",  # wolfSSL
    "rec-ssl3-overlong-padding-aes128",  # wolfSSL, tlslite-ng < 0.8
    "hs-one-byte-records-tls1",  # wolfSSL, mbed TLS
    "rec-empty-run-33",  # mbed TLS (read returns 0), OpenSSL (32 empty records at most)
)


# Read before pytester moves $HOME to a temporary directory (the cache is under the real one).
CACHE = cache_root()


def _missing(engine: str) -> str:
    try:
        resolve(engine)
    except EngineUnavailable as exc:
        return str(exc)
    return ""


MISSING = {engine: _missing(engine) for engine in ENGINES}
DEVIATIONS = {engine: deviations_file(engine) for engine in ENGINES if not MISSING[engine]}


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_sample_matches_its_deviations(pytester, request, engine):
    if "engines" not in (request.config.getoption("markexpr") or ""):
        # About 5 s of CPU per engine: kept out of the default run (CI's budget); its own job.
        pytest.skip("the engines matrix runs with -m engines (./w24-test engines)")
    if MISSING[engine]:
        pytest.skip(f"{engine} not built: {MISSING[engine]}")
    deviations = DEVIATIONS[engine]
    args = ["--pyargs", "w24_harness.suites", "-p", "no:xdist", "--w24-sim-engine", engine]
    if deviations is not None:
        args += ["--w24-deviations", str(deviations)]
    result = run_child(
        pytester,
        *args,
        "-k",
        " or ".join(SAMPLE),
        env={"W24_ENGINES_CACHE": str(CACHE)},
        timeout=200,
    )
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()[-3000:]
    results = json.loads((pytester.path / "reports" / "results.json").read_text())["results"]
    ran = {r["id"] for r in results if r["result_class"] != "skipped"}
    assert "valid-tls1-aes128-sha" in ran  # the engine did handshake: not all skipped
    listed = deviations.read_text() if deviations else ""
    expected_xfails = sum(f'"{row}"' in listed for row in SAMPLE if row in ran)
    # hs-one-byte-records-* is a glob in the files; count it once when listed so.
    expected_xfails += "hs-one-byte-records-tls1" in ran and '"hs-one-byte-records-*"' in listed
    assert outcomes.get("xfailed", 0) == expected_xfails, outcomes
