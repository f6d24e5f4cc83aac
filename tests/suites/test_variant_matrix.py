"""Never fail a correct build (issue 23 item 8): the device suites run against every variant of
the pairwise sample (w24_harness.sim.pairwise) and no row may fail.

A variant is a firmware the manuals allow (w24_harness.sim.variants: each switch names the spec
section that leaves it open). The harness keeps its `w24` profile; only the simulator changes.
So a failing row here is the harness judging something no document decides: the row is wrong,
or needs a profile field.

Each case is a child pytest of the suites (as tests/test_suites_catch_faults.py runs the
faults), without the slow rows and the field-interop daemons, to keep CI's share modest; the
full suites under the sample, one switch at a time, or the product run from
bench/variant_matrix.py. Marked `variant_matrix`. The 16 child runs take about 110 s at
`-n 2` on the 2-core machine, so they run in CI and in `./w24-test all`; W24_VARIANT_MATRIX=0
leaves them out of a quick local run.
"""

from __future__ import annotations

import os

import pytest
from child_runs import run_suites

from w24_harness.sim.pairwise import pairwise_variants
from w24_harness.sim.variants import Variants

SAMPLE = pairwise_variants()

# On by default (CI must prove no correct firmware fails); W24_VARIANT_MATRIX=0 skips them.
ENABLED = os.environ.get("W24_VARIANT_MATRIX", "1") != "0"

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow, pytest.mark.variant_matrix]


def _failures(data: dict) -> list[str]:
    """Every row that failed, every planned row without a result, every other failed test."""
    out = [
        f"{r['id']} [{r['result_class']}]: expected {r['expected']}, shown {r['actual']}: "
        f"{r['detail']}"
        for r in data["results"]
        if not r["passed"]
    ]
    seen = {r["id"] for r in data["results"]}
    status = {o["nodeid"]: o["status"] for o in data["outcomes"]}
    out += [
        f"{p['id']}: no result"
        for p in data["planned"]
        if p["id"] not in seen and p["nodeid"] not in status
    ]
    judged = {r["nodeid"] for r in data["results"]}
    out += [
        f"{o['nodeid']}: {o['status']} {o.get('trouble') or ''} {o.get('detail') or ''}"
        for o in data["outcomes"]
        if o["status"] not in ("passed", "skipped") and o["nodeid"] not in judged
    ]
    return out


@pytest.mark.skipif(not ENABLED, reason="W24_VARIANT_MATRIX=0 leaves the variant matrix out")
@pytest.mark.parametrize("variant", SAMPLE, ids=[f"v{i}" for i in range(len(SAMPLE))])
def test_no_row_fails_a_correct_firmware(pytester, tmp_path, variant: Variants) -> None:
    items = [a for item in variant.active() for a in ("--w24-sim-variant", item)]
    result, data = run_suites(pytester, tmp_path / "reports", *items)
    assert data["results"], "the child run judged no row"
    failures = _failures(data)
    assert not failures, f"variant {variant.label()}:\n" + "\n".join(failures)
    assert result.ret == 0


def test_the_sample_holds_every_switch_value() -> None:
    """Each value of each switch runs in some case (the pairwise sample's weakest promise)."""
    from w24_harness.sim.variants import SWITCHES

    for name, switch in SWITCHES.items():
        shown = {getattr(v, name) for v in SAMPLE}
        # A profile override's default (None) is the w24 profile's simulator value: values[0].
        shown = {switch.values[0] if value is None else value for value in shown}
        assert shown == set(switch.values), name
