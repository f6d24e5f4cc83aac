"""Nonvolatile (flash) writes of a run, as results.json, report.html and the terminal show them.

Each pytest process appends one NVWrites record per test that wrote a CA slot, and one for the
writes outside any test (the session's restore at its end); the controller sums them. The
budget a run is held to (issue 26): one NEEDED write per distinct CA a worker's module had to
take, the RESTORE, the DELIBERATE writes of the tests about the CA parameter, and the SANITY
reloads of the root for the probe after a rejected scenario that had loaded another CA.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from w24_harness.device.cacache import NVWrite, WritePurpose, WriteTally

SESSION_NODEID = "(session: outside any test)"


@dataclass
class NVWrites:
    """The writes of one test (or of the session outside tests) in one process."""

    nodeid: str
    worker: str = "main"
    loads: int = 0
    clears: int = 0
    needed: int = 0
    deliberate: int = 0
    restores: int = 0
    sanity: int = 0
    refused: int = 0
    seconds: float = 0.0  # wall time of the writes, the line pacing included
    pacing: str = ""  # how the CA values were paced (device/pacing.CAPacing)
    needed_cas: list[str] = field(default_factory=list)  # digests of the CAs loaded as NEEDED

    @property
    def total(self) -> int:
        return self.loads + self.clears

    @classmethod
    def of(cls, nodeid: str, worker: str, writes: list[NVWrite]) -> NVWrites:
        tally = WriteTally.of(writes)
        return cls(
            nodeid=nodeid,
            worker=worker,
            loads=tally.loads,
            clears=tally.clears,
            needed=tally.needed,
            deliberate=tally.deliberate,
            restores=tally.restores,
            sanity=tally.sanity,
            refused=tally.refused,
            seconds=tally.seconds,
            pacing=writes[0].pacing.value if writes else "",
            needed_cas=sorted(
                {w.digest or "(empty)" for w in writes if w.purpose == WritePurpose.NEEDED}
            ),
        )


@dataclass(frozen=True)
class NVSummary:
    """A run's writes summed over its tests and workers, against its budget."""

    writes: int
    loads: int
    clears: int
    needed: int
    deliberate: int
    restores: int
    sanity: int
    refused: int
    seconds: float
    # Distinct CAs each worker's module had to take, summed over workers: the NEEDED budget.
    distinct_needed: int
    pacing: str

    @property
    def budget(self) -> int:
        return self.distinct_needed + self.restores + self.deliberate + self.sanity

    @property
    def within_budget(self) -> bool:
        return self.writes <= self.budget

    def line(self) -> str:
        paced = f", {self.seconds:.1f} s writing ({self.pacing} pacing)" if self.writes else ""
        return (
            f"nonvolatile writes: {self.writes} ({self.loads} loads, {self.clears} clears: "
            f"{self.needed} needed for {self.distinct_needed} distinct CA(s), "
            f"{self.deliberate} deliberate, {self.sanity} sanity-probe root reloads, "
            f"{self.restores} restore){paced}"
            + ("" if self.within_budget else f"; over the budget of {self.budget}")
        )

    def to_json(self) -> dict[str, object]:
        return {
            "writes": self.writes,
            "loads": self.loads,
            "clears": self.clears,
            "needed": self.needed,
            "deliberate": self.deliberate,
            "restores": self.restores,
            "sanity": self.sanity,
            "refused": self.refused,
            "seconds": self.seconds,
            "distinct_needed": self.distinct_needed,
            "budget": self.budget,
            "within_budget": self.within_budget,
            "pacing": self.pacing,
        }


def summarize(records: list[NVWrites]) -> NVSummary:
    per_worker: dict[str, set[str]] = {}
    for r in records:
        per_worker.setdefault(r.worker, set()).update(r.needed_cas)
    pacings = sorted({r.pacing for r in records if r.pacing})
    return NVSummary(
        writes=sum(r.total for r in records),
        loads=sum(r.loads for r in records),
        clears=sum(r.clears for r in records),
        needed=sum(r.needed for r in records),
        deliberate=sum(r.deliberate for r in records),
        restores=sum(r.restores for r in records),
        sanity=sum(r.sanity for r in records),
        refused=sum(r.refused for r in records),
        seconds=round(sum(r.seconds for r in records), 2),
        distinct_needed=sum(len(cas) for cas in per_worker.values()),
        pacing="/".join(pacings) or "none",
    )
