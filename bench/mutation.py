"""Mutation score of the verdict-critical modules, with cosmic-ray (`pip install -e ".[mutation]"`).

    .venv/bin/python bench/mutation.py                     # every target below
    .venv/bin/python bench/mutation.py --only verify linerate
    .venv/bin/python bench/mutation.py --count             # how many mutants, nothing run
    .venv/bin/python bench/mutation.py --survivors-of DIR  # re-run only earlier survivors

cosmic-ray mutates the file in place, one mutant at a time, and runs the target's FAST tests
(pytest -x, without the w24 plugin); the editable install (harness/ is the package w24_harness
through package-dir) then imports the mutant as it is. So: nothing else may run tests in this
checkout meanwhile. Byte code is not cached (PYTHONPYCACHEPREFIX to an empty directory), or a
mutant of the same size written within the same second could be shadowed by a stale .pyc.

Scope: the modules where a wrong line changes a verdict. For the simulator's device module and
the driver only the functions holding limits are mutated (the rest is I/O plumbing the suites
cover). Operators that only produce noise are left out: decorator removal, `==` -> `is`, and
arithmetic turned into bit operations, powers, // or %. Prints the score per module and every
survivor (line, operator, diff); the session databases stay in --work for later inspection
(`cosmic-ray dump`, `cr-report`).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    name: str
    module: str  # path from the repository root
    tests: tuple[str, ...]
    functions: tuple[str, ...] | None = None  # None: the whole module


# A selection after a test file (-k ...) keeps each mutant's run short on a shared machine.
TARGETS = [
    # The simulator's certificate check: every rule. Left out: the self-test faults' own
    # helpers (_search_leaf, the lenient PKCS#1 parser _ber_item / _lenient_pkcs1_verifies /
    # _dotted / _DIGEST_OIDS), which break the check on purpose and decide no verdict.
    Target(
        "verify",
        "harness/sim/verify.py",
        ("tests/sim/test_verify.py",),
        (
            "_RSA_PKCS1_HASHES",
            "CertRejected",
            "_Cert",
            "verify_server_chain",
            "_load_der",
            "_load_cas",
            "_check_key",
            "_trust_path",
            "_signed_by_one_of",
            "_signed_by",
            "_check_key_cert_sign",
            "_KNOWN_EXTENSIONS",
            "_check_critical",
            "_check_dates",
            "_iso",
            "_check_hostname",
            "_is_ip",
            "_dns_matches",
        ),
    ),
    # The reply parser: every line decides what a reply is (whole module).
    Target("replies", "harness/at/replies.py", ("tests/at/test_at_replies.py",)),
    # The catalogue's rule language (the family modules only fill in tables with it).
    Target("scenarios", "harness/scenarios/model.py", ("tests/scenarios/test_scenario_model.py",)),
    # Throughput arithmetic: the bound, the rates and the floors (format_rate, wire_bytes and
    # transfer_size only size and print).
    Target(
        "linerate",
        "harness/runner/linerate.py",
        ("tests/runner/test_throughput_math.py", "-k", "not paced"),
        (
            "BITS_PER_BYTE",
            "SIMULATOR_FLOOR",
            "HARDWARE_FLOOR",
            "HARDWARE_DEFAULT_BAUD",
            "OK_REPLY",
            "minimal_wire",
            "line_rate",
            "framing_bound",
            "rates",
            "effective_baud",
            "default_floor",
            "meets_floor",
        ),
    ),
    # Regression check: the comparisons and defaults; format_table / write_json are plumbing.
    Target(
        "compare",
        "harness/report/compare.py",
        (
            "tests/report/test_report_compare.py",
            "-k",
            "not record and not baseline_option and not installed and not cli",
        ),
        (
            "DEFAULT_THRESHOLD",
            "DEFAULT_MIN_HANDSHAKE_DELTA_MS",
            "Comparison",
            "_keyed",
            "_outcome",
            "_compare_outcome",
            "_compare_throughput",
            "_compare_handshake",
            "compare",
        ),
    ),
    # The simulator's limits and result codes; the rest of the module is I/O plumbing.
    Target(
        "device-limits",
        "harness/sim/device.py",
        ("tests/sim/test_sim_limits.py",),
        (
            "_int_arg",
            "error",
            "ssnd_limit",
            "_ca",
            "_ssl",
            "_stcp",
            "_srcv",
            "_bdrf",
            "_parse_handle",
        ),
    ),
    # passed / failed / observed / drift / error (whole module).
    Target("judge", "harness/judge/judgement.py", ("tests/judge/test_judge.py",)),
    # The run's Tally and headline verdict (whole module).
    Target("verdict", "harness/report/verdict.py", ("tests/report/test_verdict.py",)),
    Target(
        "driver-limits",
        "harness/device/w24.py",
        ("tests/device/test_driver.py", "-k", "ca"),
        ("set_ca",),
    ),
]


# Operators whose mutants are noise here (see the module docstring).
EXCLUDED_OPERATORS = re.compile(
    r"core/RemoveDecorator"
    r"|core/ReplaceComparisonOperator_\w+_(Is|IsNot)$"
    r"|core/ReplaceBinaryOperator_\w+_(Pow|RShift|LShift|BitOr|BitAnd|BitXor|FloorDiv|Mod)$"
)


def _function_lines(module: Path, names: tuple[str, ...]) -> set[int]:
    """Lines of the named functions (methods too), classes and module-level assignments."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    lines: set[int] = set()
    found: set[str] = set()
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = node.name
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            name = next((t.id for t in targets if isinstance(t, ast.Name) and t.id in names), None)
        if name in names:
            found.add(name)
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    if not found:
        raise SystemExit(f"{module}: none of {names} found")
    missing = sorted(set(names) - found)
    if missing:  # a name of another version of the module (e.g. before a rename)
        print(f"{module}: not in this version: {missing}")
    return lines


def _signature_lines(module: Path) -> set[int]:
    """Lines of every def's signature (name, parameters, annotations), not of its body."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first_body = node.body[0].lineno
            lines.update(range(node.lineno, first_body))
    return lines


def _test_command(target: Target) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        # Entry-point plugins are not autoloaded (PYTEST_DISABLE_PLUGIN_AUTOLOAD, set in main):
        # labgrid's alone took 3 of a mutant's 6 s. These two the unit tests use.
        "-p",
        "pytest_timeout",
        "-p",
        "hypothesis.extra.pytestplugin",
        "-o",
        "addopts=",
        *target.tests,
    ]


def _config(target: Target, timeout: float) -> str:
    return (
        "[cosmic-ray]\n"
        f'module-path = "{target.module}"\n'
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(shlex.join(_test_command(target)))}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )


def _skip(db: WorkDB, job_ids: list[str], why: str) -> None:
    if job_ids:
        db.set_multiple_results(
            job_ids, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=why)
        )


def _prepare(
    target: Target, work: Path, timeout: float, keep: set[tuple] | None, resume: bool = False
) -> Path:
    """A cosmic-ray session for `target` with the out-of-scope mutants marked skipped."""
    config = work / f"{target.name}.toml"
    session = work / f"{target.name}.sqlite"
    config.write_text(_config(target, timeout), encoding="utf-8")
    if resume and session.exists():
        return session  # cosmic-ray exec goes on with the pending mutants
    session.unlink(missing_ok=True)
    subprocess.run(["cosmic-ray", "init", str(config), str(session)], cwd=ROOT, check=True)
    lines = _function_lines(ROOT / target.module, target.functions) if target.functions else None
    signatures = _signature_lines(ROOT / target.module)
    with use_db(str(session), WorkDB.Mode.open) as db:
        out_of_scope, noise, not_survivor = [], [], []
        for item in db.work_items:
            spec = item.mutations[0]
            if EXCLUDED_OPERATORS.search(spec.operator_name):
                noise.append(item.job_id)
            elif "BinaryOperator" in spec.operator_name and spec.start_pos[0] in signatures:
                # `str | bytes` in an annotation (never evaluated: `from __future__ import
                # annotations`) or the `*` marker: equivalent mutants, not a test gap.
                noise.append(item.job_id)
            elif lines is not None and spec.start_pos[0] not in lines:
                out_of_scope.append(item.job_id)
            elif keep is not None and _key(spec) not in keep:
                not_survivor.append(item.job_id)
        _skip(db, noise, "operator excluded")
        _skip(db, out_of_scope, "outside the functions in scope")
        _skip(db, not_survivor, "killed in the earlier run")
    return session


def _key(spec) -> tuple:
    return (str(spec.module_path), spec.operator_name, spec.occurrence)


def _survivor_keys(session: Path) -> set[tuple]:
    with use_db(str(session), WorkDB.Mode.open) as db:
        return {
            _key(item.mutations[0])
            for item, result in db.completed_work_items
            if result.test_outcome == TestOutcome.SURVIVED
        }


def _summarise(target: Target, session: Path, earlier_killed: int = 0) -> tuple[int, int]:
    killed = survived = incompetent = 0
    survivors = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.test_outcome == TestOutcome.SURVIVED:
                survived += 1
                survivors.append((item.mutations[0], result))
            elif result.test_outcome == TestOutcome.INCOMPETENT:
                incompetent += 1
            else:
                killed += 1
    killed_all = killed + incompetent + earlier_killed
    total = killed_all + survived
    score = 100.0 * killed_all / total if total else 100.0
    extra = f" (+{earlier_killed} killed in the earlier run)" if earlier_killed else ""
    print(
        f"\n== {target.name} ({target.module}): {score:.1f} %  killed {killed_all} of {total}"
        f"{extra}; {incompetent} of them incompetent (the mutant does not even import)"
    )
    for spec, result in sorted(survivors, key=lambda s: s[0].start_pos):
        print(f"  SURVIVED line {spec.start_pos[0]}: {spec.operator_name} #{spec.occurrence}")
        diff = [ln for ln in (result.diff or "").splitlines() if ln[:1] in "+-"]
        for line in diff:
            if not line.startswith(("+++", "---")):
                print(f"      {line}")
    return killed_all, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="*", help="target names: " + ", ".join(t.name for t in TARGETS)
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="where session databases go (default: a new temporary directory)",
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="per mutant test run, s")
    parser.add_argument("--count", action="store_true", help="count the mutants in scope only")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with the sessions already in --work (after an interruption)",
    )
    parser.add_argument(
        "--survivors-of",
        type=Path,
        default=None,
        help="--work directory of an earlier run: re-run only its survivors",
    )
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="TARGET=F1,F2",
        help="mutate only these functions / module constants of a target",
    )
    args = parser.parse_args(argv)
    known = {t.name: t for t in TARGETS}
    for item in args.scope:
        name, _, functions = item.partition("=")
        if name not in known or not functions:
            parser.error(f"--scope wants TARGET=F1,F2 with a known target, got {item!r}")
        known[name] = replace(known[name], functions=tuple(functions.split(",")))
    unknown = set(args.only or []) - set(known)
    if unknown:
        parser.error(f"unknown target(s) {sorted(unknown)}; known: {sorted(known)}")
    targets = [known[n] for n in args.only] if args.only else TARGETS
    work = args.work or Path(tempfile.mkdtemp(prefix="w24-mutation-"))
    work.mkdir(parents=True, exist_ok=True)
    # No byte code from before (or from another mutant) may stand in for the mutant.
    os.environ["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="w24-mutation-pyc-")
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # not the w24, labgrid, xdist plugins
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    print(f"sessions in {work}")
    results = []
    for target in targets:
        keep = None
        earlier_killed = 0
        if args.survivors_of is not None:
            earlier = args.survivors_of / f"{target.name}.sqlite"
            keep = _survivor_keys(earlier)
            earlier_killed = _summarise_counts(earlier)[0]
        session = _prepare(target, work, args.timeout, keep, args.resume)
        with use_db(str(session), WorkDB.Mode.open) as db:
            pending = sum(1 for _ in db.pending_work_items)
        if args.count:
            print(f"{target.name}: {pending} mutants in scope")
            continue
        baseline = subprocess.run(
            _test_command(target), cwd=ROOT, capture_output=True, text=True, timeout=args.timeout
        )
        if baseline.returncode != 0:
            print(f"{target.name}: the tests fail without any mutant:\n{baseline.stdout[-2000:]}")
            return 2
        started = time.monotonic()
        print(f"{target.name}: {pending} mutants ...", flush=True)
        subprocess.run(
            ["cosmic-ray", "exec", str(work / f"{target.name}.toml"), str(session)],
            cwd=ROOT,
            check=True,
        )
        print(f"{target.name}: {time.monotonic() - started:.0f} s", flush=True)
        results.append((target, _summarise(target, session, earlier_killed)))
    if results:
        print("\n== score per module")
        for target, (killed, total) in results:
            score = 100.0 * killed / total if total else 100.0
            print(f"  {target.name:14s} {score:5.1f} %  ({killed}/{total})")
    return 0


def _summarise_counts(session: Path) -> tuple[int, int]:
    """(killed, survived) of an earlier session."""
    killed = survived = 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        for _item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.test_outcome == TestOutcome.SURVIVED:
                survived += 1
            else:
                killed += 1
    return killed, survived


if __name__ == "__main__":
    sys.exit(main())
