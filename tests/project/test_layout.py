"""The layout holds: one import name, role folders, no import cycle, docs that list every package,
tests that mirror the package.

The import graph is read from the source (ast), every import included, the ones deferred into
functions as well: a cycle hidden in a function still ties two modules together. Only imports
under `if TYPE_CHECKING:` are left out (they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# pyproject.toml's package-dir: the checkout folders the import root is laid over.
FOLDERS = {
    "harness": "w24_harness",
    "fixtures": "w24_harness.fixtures",
    "suites": "w24_harness.suites",
}
MAX_LOOSE_ROOT_MODULES = 6


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _owner(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]

        def visit(node: ast.AST, name: str = name, package: str = package) -> None:
            for child in ast.iter_child_nodes(node):
                if _type_checking(child):
                    assert isinstance(child, ast.If)
                    for other in child.orelse:
                        visit(other)
                    continue
                targets: list[str] = []
                if isinstance(child, ast.Import):
                    targets = [alias.name for alias in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        up = package.split(".")[: len(package.split(".")) - child.level + 1]
                        base = ".".join(up + ([base] if base else []))
                    # `from p import m` imports the module p.m where there is one, else from p.
                    targets = [
                        f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                        for alias in child.names
                    ]
                for target in targets:
                    owner = _owner(target, known)
                    if owner and owner != name:
                        graph[name].add(owner)
                visit(child)

        visit(ast.parse(path.read_text()))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in graph:
        if v not in index:
            connect(v)
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and sum(map(len, graph.values())) > 100  # the graph was read
    assert cycles(graph) == []


def test_a_cycle_is_found_where_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_deferred_import_counts_and_a_type_checking_one_does_not(tmp_path, monkeypatch):
    pkg = tmp_path / "harness"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from w24_harness import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from w24_harness import a\n"
    )
    for folder in ("fixtures", "suites"):
        (tmp_path / folder).mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    graph = import_graph()
    assert graph["w24_harness.a"] == {"w24_harness.b"} and graph["w24_harness.b"] == set()


def test_at_most_six_loose_modules_at_the_package_root():
    loose = sorted(p.stem for p in (ROOT / "harness").glob("*.py") if p.stem != "__init__")
    assert len(loose) <= MAX_LOOSE_ROOT_MODULES, loose


def test_the_checkout_folder_is_not_a_second_import_name():
    for name in ("harness.vocab", "fixtures.plugin"):
        result = subprocess.run(
            [sys.executable, "-c", f"import {name}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert "import w24_harness" in result.stderr, result.stderr


def packages() -> list[str]:
    """Every package of the import root, as a folder of the checkout (harness/sim, fixtures)."""
    found = [
        str(init.parent.relative_to(ROOT))
        for init in (ROOT / "harness").rglob("__init__.py")
        if init.parent != ROOT / "harness"
    ]
    return sorted([*found, "fixtures", "suites"])


def test_readme_and_design_list_every_package():
    readme = (ROOT / "README.md").read_text()
    design = (ROOT / "docs" / "design.md").read_text()
    for folder in packages():
        assert f"`{folder}/`" in readme, f"README's layout table lacks {folder}/"
        assert f"`{folder}/`" in design, f"docs/design.md lacks {folder}/"


def test_tests_mirror_the_package():
    """Each folder of tests/ is named after a package of w24_harness (or `project`, for the
    repository itself), so a change to a module has an obvious place for its test."""
    names = {Path(p).name for p in packages()} | {"project"}
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name[0] != "_"}
    folders.discard("__pycache__")
    assert folders <= names, folders - names
    loose = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    assert loose == [], f"tests outside a package folder: {loose}"


def test_pyproject_installs_every_package():
    """A package missing from pyproject's list is missing from the install (and from the
    strict editable tree every tool reads)."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    wanted = {
        ".".join(["w24_harness", *Path(folder).parts[1:]])
        if folder.startswith("harness")
        else f"w24_harness.{folder}"
        for folder in packages()
    } | {"w24_harness"}
    assert wanted == listed
