"""The simulator's own health, as a side channel for the harness (no AT command: a real module
has none for this): how many internal errors it had, and the traceback of the latest.

An internal error is an exception inside a command handler, a bug of the simulator's, not a
firmware verdict. The simulator still answers I/ERROR(216) on the wire (a module does not crash),
but writes this status file (`w24 sim --status FILE`) so the pytest plugin can fail the test
during which it happened and report it apart from the scenario results.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class SimStatus:
    internal_errors: int = 0
    last_error: str = ""  # the latest internal error: command, exception and traceback

    def save(self, path: Path) -> None:
        """Atomically (a reader never sees half a file)."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> SimStatus:
        """The status in `path`; a file not written yet means no internal error so far."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except ValueError as exc:
            raise ValueError(f"{path}: not a simulator status file: {exc}") from exc
        return cls(int(data["internal_errors"]), str(data.get("last_error", "")))
