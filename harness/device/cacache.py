"""What the module's CA parameters hold, and every nonvolatile write the harness made to them.

AT+iCA= writes the module's parameter flash, which has a finite number of erase cycles, and on
a real serial line each load is paced (about 1.2 s: device/pacing.py). A run needs only a few
distinct CAs, so the driver keeps track of what each slot holds (read once with AT+iCA?, then
every write the driver makes) and a test that needs a CA the module already holds gets it
without a write. Where something outside this bookkeeping may have changed a slot, the slot is
forgotten and the next need reads it back (a read costs line time, not a flash cycle):

* a write that did not end in I/OK (a refused value may or may not have kept the old one);
* a CA command sent around set_ca/clear_ca (a raw `execute("CA=...")`), or AT+iDOWN / AT+iFD;
* every (re)connect of the port: another program (`w24 ca load`), a restarted simulator, or a
  power-cycled module may have changed it while the port was closed.

Writes are classed by why they happened (WritePurpose), so a run's count can be held against
its budget: one NEEDED write per distinct CA, the session's RESTORE, the DELIBERATE writes of
tests whose subject is the CA parameter itself, and the SANITY reloads of the root.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from w24_harness.at.codes import DeviceError
from w24_harness.device.pacing import CAPacing

if TYPE_CHECKING:
    from w24_harness.device.w24 import W24

# The body of an AT+i command that sets a CA slot (AT+iCA=, AT+iCA2~...), not a query (`=?`).
_SETS_CA = re.compile(r"^(CA\d*)[=~](?!\?$)")
# Commands that may change every parameter, or end a `~` (this-session-only) value.
_FORGET_ALL = ("DOWN", "FD")


class CANotHeld(DeviceError):
    """The module acknowledged a CA write but reads back another value: a test that needed
    that CA must not run (the runner reports it as a rejection at the CA stage)."""

    def __init__(self, slot: str) -> None:
        # Not DeviceError's "device answered I/ERROR" message: it answered I/OK.
        Exception.__init__(self, f"AT+i{slot}= answered I/OK, but AT+i{slot}? shows another value")
        self.code, self.command, self.meaning = None, f"{slot}=", ""


class WriteKind(StrEnum):
    LOAD = "load"
    CLEAR = "clear"


class WritePurpose(StrEnum):
    """Why the harness wrote a CA slot."""

    NEEDED = "needed"  # a test needs this CA and the module did not hold it
    DELIBERATE = "deliberate"  # the write is the test's subject (load, refuse, clear, read back)
    RESTORE = "restore"  # the session puts back what the module held before the run
    # The sanity probe after a rejection needs the harness root back where the scenario had
    # loaded another CA (runner.sanity_check): one write per such scenario.
    SANITY = "sanity"


@dataclass(frozen=True)
class NVWrite:
    """One AT+i<slot>= the driver sent: a flash write attempt, whatever the reply."""

    slot: str
    kind: WriteKind
    purpose: WritePurpose
    chars: int  # bytes of the command on the line
    seconds: float  # wall time of the command, pacing included
    pacing: CAPacing
    ok: bool  # I/OK (else the module refused it, or did not answer)
    digest: str = ""  # which value: the first 16 hex digits of SHA-256 of the normalized text
    at: float = field(default_factory=time.monotonic)


def digest(text: str) -> str:
    return hashlib.sha256(normalize(text).encode("latin-1", "replace")).hexdigest()[:16]


def normalize(text: str) -> str:
    """A CA value as compared here: line ends and surrounding whitespace do not count."""
    return "\n".join(ln.strip() for ln in text.replace("\r", "\n").strip().split("\n") if ln)


@dataclass
class CACache:
    """Per device (kept by the session across reconnects, so its counts span the run)."""

    # True: tests leave the CA they loaded in place and the session restores `original` at
    # its end. False (a one-off tool, the default): ca_loaded puts the old CA back itself.
    keep: bool = False
    known: dict[str, str] = field(default_factory=dict)  # slot -> normalized value; "" empty
    original: dict[str, str] = field(default_factory=dict)  # slot -> as read at session start
    writes: list[NVWrite] = field(default_factory=list)
    reads: int = 0  # AT+iCA? the cache itself issued to re-verify
    _purpose: WritePurpose = WritePurpose.DELIBERATE

    # -- fed by the driver -------------------------------------------------------------------

    def saw_command(self, body: str, wire: bytes | None) -> None:
        """Before any command goes out: forget what a command outside set_ca may change."""
        head = wire.decode("latin-1", "replace")[4:40] if wire else body
        head = head.split("\r", 1)[0]
        match = _SETS_CA.match(head)
        if match:
            self.known.pop(match.group(1), None)
        elif head.upper().startswith(_FORGET_ALL):
            self.known.clear()

    def wrote(self, write: NVWrite, value: str) -> None:
        self.writes.append(write)
        if write.ok:
            self.known[write.slot] = normalize(value)
        else:
            self.known.pop(write.slot, None)

    def read(self, slot: str, value: str | None) -> None:
        """An AT+iCA? answer: `value` the PEM it showed, "" empty, None not a PEM (unknown)."""
        if value is None:
            self.known.pop(slot, None)
        else:
            self.known[slot] = normalize(value)

    def forget(self) -> None:
        self.known.clear()

    @contextmanager
    def purpose(self, purpose: WritePurpose) -> Iterator[None]:
        before, self._purpose = self._purpose, purpose
        try:
            yield
        finally:
            self._purpose = before

    @property
    def current_purpose(self) -> WritePurpose:
        return self._purpose

    # -- used by the runner and the session ---------------------------------------------------

    def holds(self, device: W24, slot: str, value: str) -> bool:
        """Whether the slot holds `value`, read back (AT+iCA?) only when it is not known."""
        if slot not in self.known:
            self.reads += 1
            device.get_ca(slot)  # the driver feeds read()
        return self.known.get(slot) == normalize(value)

    def ensure(
        self,
        device: W24,
        value: bytes | str | None,
        slot: str = "CA",
        purpose: WritePurpose = WritePurpose.NEEDED,
    ) -> bool:
        """Make the slot hold `value` (None or empty: cleared); True if that took a write."""
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else (value or "")
        if self.holds(device, slot, text):
            return False
        with self.purpose(purpose):
            if text.strip():
                device.set_ca(text, slot, check=False)
            else:
                device.clear_ca(slot)
        # Read back once: every later test trusts this value without a read of its own.
        self.known.pop(slot, None)
        if not self.holds(device, slot, text):
            raise CANotHeld(slot)
        return True

    def snapshot(self, device: W24, slots: tuple[str, ...]) -> None:
        """At session start: what each slot holds, to restore at the end."""
        for slot in slots:
            self.reads += 1
            try:
                device.get_ca(slot)
            except DeviceError:
                continue  # a slot the module refuses to show is not restored either
            if slot in self.known:
                self.original[slot] = self.known[slot]

    def restore(self, device: W24) -> list[str]:
        """At session end: put back what each slot held at the start; returns the slots
        written. A slot of unknown content is read first: no write where none is needed."""
        return [
            slot
            for slot, value in self.original.items()
            if self.ensure(device, value, slot, WritePurpose.RESTORE)
        ]

    def since(self, mark: int) -> list[NVWrite]:
        return self.writes[mark:]


@dataclass(frozen=True)
class WriteTally:
    """NV writes summed: what a test, a worker or a run cost the module's flash."""

    loads: int = 0
    clears: int = 0
    needed: int = 0
    deliberate: int = 0
    restores: int = 0
    sanity: int = 0
    refused: int = 0
    seconds: float = 0.0  # wall time of the writes, pacing included

    @property
    def total(self) -> int:
        return self.loads + self.clears

    @classmethod
    def of(cls, writes: list[NVWrite]) -> WriteTally:
        return cls(
            loads=sum(w.kind == WriteKind.LOAD for w in writes),
            clears=sum(w.kind == WriteKind.CLEAR for w in writes),
            needed=sum(w.purpose == WritePurpose.NEEDED for w in writes),
            deliberate=sum(w.purpose == WritePurpose.DELIBERATE for w in writes),
            restores=sum(w.purpose == WritePurpose.RESTORE for w in writes),
            sanity=sum(w.purpose == WritePurpose.SANITY for w in writes),
            refused=sum(not w.ok for w in writes),
            seconds=round(sum(w.seconds for w in writes), 3),
        )
