"""Nonvolatile parameters of the simulated module.

They survive AT+iDOWN, and a simulator restart when a state file is given.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


class NVRam:
    """A small key/value store; every write goes to the state file atomically when one is given."""

    def __init__(self, path: Path | None = None, defaults: dict[str, str] | None = None) -> None:
        self.path = path
        self._values: dict[str, str] = dict(defaults or {})
        if path is not None and path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"state file {path} is not a simulator state: {exc}") from exc
            if not isinstance(loaded, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
            ):
                raise ValueError(f"state file {path} must hold a JSON object of strings")
            self._values.update(loaded)

    def get(self, name: str, default: str = "") -> str:
        return self._values.get(name, default)

    def set(self, name: str, value: str) -> None:
        self._values[name] = value
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".w24state-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self._values, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)
