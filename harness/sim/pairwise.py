"""All-pairs samples of the variant space, and its full product.

No pairwise library is packaged for this project's registries, so this is the classic greedy
construction (AETG, Cohen et al. 1997): each new row is the best of a few candidates, each
candidate filled one parameter at a time with the value that covers the most pairs not yet
covered. Deterministic (a seeded generator), so CI runs the same sample every time. Every pair
of values of every two parameters appears in at least one row; `uncovered_pairs` checks it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from w24_harness.sim.variants import SWITCHES, Variants

Row = dict[str, Any]
Pair = tuple[tuple[str, Any], tuple[str, Any]]


def _pairs_of(row: Mapping[str, Any], names: Sequence[str]) -> set[Pair]:
    return {((a, row[a]), (b, row[b])) for a, b in itertools.combinations(names, 2)}


def all_pairs(
    space: Mapping[str, Sequence[Any]], *, candidates: int = 30, seed: int = 23
) -> list[Row]:
    """Rows (name -> value) covering every pair of values of every two names in `space`."""
    names = list(space)
    uncovered: set[Pair] = set()
    for a, b in itertools.combinations(names, 2):
        uncovered |= {((a, x), (b, y)) for x in space[a] for y in space[b]}
    rng = random.Random(seed)
    rows: list[Row] = []
    while uncovered:
        best: Row | None = None
        best_gain = -1
        for _ in range(candidates):
            row = _candidate(space, names, uncovered, rng)
            gain = len(_pairs_of(row, names) & uncovered)
            if gain > best_gain:
                best, best_gain = row, gain
        assert best is not None and best_gain > 0  # a candidate starts from an uncovered pair
        uncovered -= _pairs_of(best, names)
        rows.append(best)
    return rows


def _candidate(
    space: Mapping[str, Sequence[Any]], names: list[str], uncovered: set[Pair], rng: random.Random
) -> Row:
    # Seed the row with one uncovered pair, so every row makes progress; fill the rest greedily
    # in a random order, ties broken at random.
    (a, x), (b, y) = rng.choice(sorted(uncovered, key=repr))
    row: Row = {a: x, b: y}
    order = [n for n in names if n not in row]
    rng.shuffle(order)
    for name in order:
        scored = []
        for value in space[name]:
            gain = sum(
                1
                for other, chosen in row.items()
                if _ordered((name, value), (other, chosen), names) in uncovered
            )
            scored.append((gain, rng.random(), value))
        row[name] = max(scored, key=lambda t: (t[0], t[1]))[2]
    return {n: row[n] for n in names}


def _ordered(p: tuple[str, Any], q: tuple[str, Any], names: list[str]) -> Pair:
    return (p, q) if names.index(p[0]) < names.index(q[0]) else (q, p)


def uncovered_pairs(space: Mapping[str, Sequence[Any]], rows: Sequence[Row]) -> set[Pair]:
    """The pairs of `space` no row covers (empty for an all-pairs sample)."""
    names = list(space)
    wanted: set[Pair] = set()
    for a, b in itertools.combinations(names, 2):
        wanted |= {((a, x), (b, y)) for x in space[a] for y in space[b]}
    for row in rows:
        wanted -= _pairs_of(row, names)
    return wanted


def variant_space() -> dict[str, tuple[Any, ...]]:
    """Every switch with the values the matrix takes (w24_harness.sim.variants.SWITCHES)."""
    return {name: switch.values for name, switch in SWITCHES.items()}


def to_variants(row: Mapping[str, Any]) -> Variants:
    return Variants(**row)


def pairwise_variants() -> list[Variants]:
    """The CI sample: all pairs of switch values, the simulator's default first."""
    default = Variants()
    rows = [to_variants(r) for r in all_pairs(variant_space())]
    return [default, *(v for v in rows if v != default)]


def full_product() -> Iterator[Variants]:
    """Every combination of every switch's values (bench/variant_matrix.py --full)."""
    space = variant_space()
    for values in itertools.product(*space.values()):
        yield to_variants(dict(zip(space, values, strict=True)))


def product_size() -> int:
    size = 1
    for values in variant_space().values():
        size *= len(values)
    return size
