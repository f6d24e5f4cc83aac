"""Benchmark (not a test): wall time of `pytest suites` in one process, with one xdist worker
and with two.

    python bench/matrix_time.py                    # 3 runs each: single process, -n 1, -n 2
    python bench/matrix_time.py --runs 5 -- -k "not throughput"   # after --: pytest arguments

Writes (or replaces) the "matrix_time" section of bench/results.md: per worker count the median
wall time and every run's, the ratio of -n 2 to the single process (the goal: <= 0.6) and to
-n 1 (the same xdist start-up on both sides), and the floor no scheduler can beat: the
longest single case (from the -n 1 run's junit.xml) or half the summed case time, whichever is
larger, plus the start-up every run pays outside its cases (the -n 1 wall time minus its summed
case time: interpreter, imports, collection, simulator start, reports). The machine's load
average (`os.getloadavg`) before each run is written beside it: figures taken on a loaded
machine say little about the scheduler.

Bytecode: with PYTHONDONTWRITEBYTECODE set, every pytest process (the controller and each
worker) compiles and assertion-rewrites all ~90 modules of the package afresh, seconds per
process on a loaded machine. A user's Python caches bytecode, so by default the runs drop that
variable (after one untimed collection that fills __pycache__, which git ignores);
--env-as-is keeps it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.md"
BEGIN, END = "<!-- matrix_time: begin -->", "<!-- matrix_time: end -->"
WORKERS = (0, 1, 2)  # 0: a single process, without xdist
RUN_TIMEOUT_S = 900


@dataclass
class Run:
    wall_s: float
    load_before: float  # 1-minute load average as the run started
    summary: str  # pytest's last line
    case_times: list[float] = field(default_factory=list)  # per test case, from junit.xml
    per_worker: dict[str, float] = field(default_factory=dict)  # summed case time per worker


def child_env(as_is: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_up(env: dict[str, str], extra: list[str]) -> None:
    """One untimed collection, so the timed runs find the bytecode cache filled."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def run_once(workers: int, extra: list[str], env: dict[str, str]) -> Run:
    """One timed `pytest suites` run with `workers` xdist workers (0: without xdist)."""
    with tempfile.TemporaryDirectory(prefix="w24-matrix-") as report_dir:
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-q",
            "-p",
            "no:cacheprovider",
            *(["-n", str(workers)] if workers else []),
            "--w24-report-dir",
            report_dir,
            *extra,
        ]
        load = os.getloadavg()[0]
        started = time.perf_counter()
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        wall = time.perf_counter() - started
        times, per_worker = case_times(Path(report_dir))
    lines = [ln.strip("= ") for ln in proc.stdout.splitlines() if ln.strip()]
    summary = lines[-1] if lines else f"exit {proc.returncode}"
    if proc.returncode != 0:
        summary += f" (exit {proc.returncode})"
    return Run(wall, load, summary, times, per_worker)


def case_times(report_dir: Path) -> tuple[list[float], dict[str, float]]:
    """Each test case's time (junit.xml), and their sum per xdist worker: results.json names
    the worker of each recorded case (joined on the test name; cases that record no result
    count under "?")."""
    junit = report_dir / "junit.xml"
    if not junit.exists():
        return [], {}
    results = report_dir / "results.json"
    worker_of: dict[str, str] = {}
    if results.exists():
        for r in json.loads(results.read_text())["results"]:
            worker_of[r["nodeid"].rsplit("::", 1)[-1]] = r["worker"]
    times: list[float] = []
    per_worker: defaultdict[str, float] = defaultdict(float)
    for case in ET.parse(junit).getroot().iter("testcase"):
        t = float(case.get("time") or 0)
        times.append(t)
        per_worker[worker_of.get(case.get("name") or "", "?")] += t
    return times, dict(per_worker)


def section(runs: dict[int, list[Run]], extra: list[str], bytecode: bool) -> str:
    medians = {n: statistics.median(r.wall_s for r in rs) for n, rs in runs.items()}
    rows = []
    for n, rs in runs.items():
        walls = ", ".join(f"{r.wall_s:.1f}" for r in rs)
        loads = ", ".join(f"{r.load_before:.1f}" for r in rs)
        label = f"-n {n}" if n else "single process"
        rows.append(f"| {label} | {medians[n]:.1f} | {walls} | {loads} | {rs[-1].summary} |")
    lines = [
        BEGIN,
        "## bench/matrix_time.py: `pytest suites` wall time",
        "",
        f"`python bench/matrix_time.py{' -- ' + ' '.join(extra) if extra else ''}`, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}, bytecode cache {'on' if bytecode else 'off'}. Load "
        "average: the 1-minute figure as each run started.",
        "",
        "| workers | median wall s | runs (s) | load average | last run |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    if 0 in medians and 2 in medians:
        lines.append(
            f"-n 2 / single process = **{medians[2] / medians[0]:.2f}** (goal <= 0.6)"
            + (f"; -n 2 / -n 1 = {medians[2] / medians[1]:.2f}." if 1 in medians else ".")
        )
    if 1 in medians and 2 in medians:
        one = sorted(runs[1], key=lambda r: r.wall_s)[len(runs[1]) // 2]  # the median run
        if one.case_times:
            longest, total = max(one.case_times), sum(one.case_times)
            startup = max(one.wall_s - total, 0.0)
            floor = max(longest, total / 2) + startup
            lines.append(
                f"Floor for two workers, from the median -n 1 run: its longest case "
                f"{longest:.1f} s, half its summed case time {total / 2:.1f} s, start-up outside "
                f"the cases {startup:.1f} s: no schedule beats {floor:.1f} s "
                f"({floor / one.wall_s:.2f} of that run)."
            )
        two = sorted(runs[2], key=lambda r: r.wall_s)[len(runs[2]) // 2]
        if two.case_times and one.case_times:
            shares = ", ".join(f"{w} {t:.1f} s" for w, t in sorted(two.per_worker.items()))
            lines.append(
                f"Median -n 2 run: summed case time {sum(two.case_times):.1f} s against "
                f"{sum(one.case_times):.1f} s at -n 1 (cases slow down when two run at once: "
                f"the cores are shared, and each case already keeps the simulator and the "
                f"harness's server busy together); per worker: {shares}."
            )
    lines += [END, ""]
    return "\n".join(lines)


def write_section(text: str, path: Path = RESULTS) -> None:
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + text.rstrip("\n") + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per worker count (default 3)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--workers",
        default=",".join(map(str, WORKERS)),
        help="comma-separated worker counts, 0 = single process (default 0,1,2)",
    )
    parser.add_argument(
        "--env-as-is",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE if set (default: drop it)",
    )
    parser.add_argument("pytest_args", nargs="*", help="after --: extra pytest arguments")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    env = child_env(args.env_as_is)
    bytecode = "PYTHONDONTWRITEBYTECODE" not in env
    if bytecode:
        warm_up(env, args.pytest_args)
    try:
        workers = tuple(int(w) for w in args.workers.split(","))
    except ValueError:
        parser.error(f"--workers: comma-separated integers, not {args.workers!r}")
    runs: dict[int, list[Run]] = {n: [] for n in workers}
    for i in range(args.runs):  # alternate, so a change in machine load hits all alike
        for n in workers:
            run = run_once(n, args.pytest_args, env)
            runs[n].append(run)
            print(
                f"run {i + 1}/{args.runs} {f'-n {n}' if n else 'single'}: {run.wall_s:.1f} s "
                f"(load {run.load_before:.1f}) {run.summary}",
                flush=True,
            )
    text = section(runs, args.pytest_args, bytecode)
    print(text)
    if not args.no_write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
