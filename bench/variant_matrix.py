"""Benchmark (not a test): the device suites against correct-firmware variants of the simulator.

    python bench/variant_matrix.py                     # the pairwise sample (as CI's test)
    python bench/variant_matrix.py --single            # each switch value alone: who fails what
    python bench/variant_matrix.py --full --limit 200  # the full product, first 200 (see below)
    python bench/variant_matrix.py --variant status_error_early --variant close_notify_code=215
    python bench/variant_matrix.py --jobs 2 --json out.json -- -k data   # after --: pytest args

Each variant is one child `pytest suites` (the harness on its `w24` profile, the simulator
switched with `--w24-sim-variant`, w24_harness.sim.variants). A variant is a firmware the
manuals allow, so every failing row is the harness judging what no document decides. Prints,
per variant, the rows run, the rows that failed (id, result class, expected, shown, the judge's
reason), the child's exit status and wall time, then the totals.

The full product of the switches is far too large to run (`--full` prints its size); it runs
in the product's order up to `--limit`, the nightly-style sweep the issue asks for. The
pairwise sample covers every pair of values of every two switches (w24_harness.sim.pairwise).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from w24_harness.sim.pairwise import full_product, pairwise_variants, product_size
from w24_harness.sim.variants import SWITCHES, Variants

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RowFailure:
    id: str
    result_class: str
    expected: str
    actual: str
    detail: str


@dataclass
class VariantRun:
    variant: str
    exit_status: int
    seconds: float
    rows: int  # scenario results in results.json
    failures: list[RowFailure] = field(default_factory=list)
    # Planned scenarios with no result, and tests that failed without one (not catalogue rows).
    missing: list[str] = field(default_factory=list)
    other_failed: list[str] = field(default_factory=list)


def single_values() -> list[Variants]:
    """Each switch's non-default values, one at a time."""
    out = []
    for name, switch in SWITCHES.items():
        for value in switch.values[1:]:
            out.append(Variants(**{name: value}))
    return out


def run_variant(variant: Variants, pytest_args: list[str], workers: int) -> VariantRun:
    with tempfile.TemporaryDirectory(prefix="w24-variant-") as tmp:
        report = Path(tmp) / "reports"
        cmd = [sys.executable, "-m", "pytest", str(ROOT / "suites"), "-q", "-p", "no:cacheprovider"]
        cmd += ["--w24-report-dir", str(report)]
        if workers > 1:
            cmd += ["-n", str(workers)]
        for item in variant.active():
            cmd += ["--w24-sim-variant", item]
        cmd += pytest_args
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        seconds = time.monotonic() - started
        run = VariantRun(variant.label(), proc.returncode, seconds, 0)
        results = report / "results.json"
        if not results.is_file():
            run.other_failed.append(f"no results.json; pytest said: {proc.stdout[-2000:]}")
            return run
        data = json.loads(results.read_text())
        run.rows = len(data["results"])
        seen = {r["id"] for r in data["results"]}
        status = {o["nodeid"]: o["status"] for o in data["outcomes"]}
        # Rows judged outside results (field interop) show in the outcomes only; a failed
        # outcome is counted in other_failed below, a row with no outcome at all here.
        run.missing = sorted(
            p["id"] for p in data["planned"] if p["id"] not in seen and p["nodeid"] not in status
        )
        for r in data["results"]:
            if not r["passed"]:
                run.failures.append(
                    RowFailure(r["id"], r["result_class"], r["expected"], r["actual"], r["detail"])
                )
        nodes = {r["nodeid"] for r in data["results"]}
        run.other_failed = [
            f"{o['nodeid']}: {o['status']} {o.get('trouble') or ''} {o.get('detail') or ''}"
            for o in data["outcomes"]
            if o["status"] not in ("passed", "skipped") and o["nodeid"] not in nodes
        ]
        return run


def _print_run(i: int, run: VariantRun) -> None:
    bad = len(run.failures) + len(run.missing) + len(run.other_failed)
    print(f"\n[{i}] {run.variant}")
    print(f"    rows {run.rows}, failures {bad}, exit {run.exit_status}, {run.seconds:.1f} s")
    for f in run.failures:
        print(f"    FAIL {f.id} [{f.result_class}] expected {f.expected!r}, shown {f.actual!r}")
        print(f"         {f.detail}")
    for m in run.missing:
        print(f"    NO RESULT {m}")
    for o in run.other_failed:
        print(f"    OTHER FAILED {o}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--single", action="store_true", help="each switch value alone")
    which.add_argument("--full", action="store_true", help="the full product (with --limit)")
    which.add_argument("--variant", action="append", default=[], metavar="NAME[=VALUE]")
    parser.add_argument("--limit", type=int, default=0, help="run at most this many variants")
    parser.add_argument("--jobs", type=int, default=1, help="variants run at once")
    parser.add_argument("--workers", type=int, default=1, help="xdist workers per variant")
    parser.add_argument("--json", type=Path, help="write every run's failures here")
    args, pytest_args = parser.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    if args.full:
        print(f"full product: {product_size()} variants", flush=True)
        variants = list(itertools.islice(full_product(), args.limit or 10))
    elif args.single:
        variants = [Variants(), *single_values()]
    elif args.variant:
        variants = [Variants.parse(args.variant)]
    else:
        variants = pairwise_variants()
    if args.limit:
        variants = variants[: args.limit]
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.monotonic()
    runs: list[VariantRun] = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = pool.map(lambda v: run_variant(v, pytest_args, args.workers), variants)
        for i, run in enumerate(done):  # in order, each printed as soon as it is there
            runs.append(run)
            _print_run(i, run)
    wall = time.monotonic() - started
    total = sum(len(r.failures) + len(r.missing) + len(r.other_failed) for r in runs)
    rows = sum(r.rows for r in runs)
    print(
        f"\n{len(runs)} variants x {rows // max(1, len(runs))} rows: {total} failures, "
        f"wall {wall:.1f} s (jobs {args.jobs}, workers {args.workers})"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=1))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
