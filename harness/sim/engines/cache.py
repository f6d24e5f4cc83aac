"""Where built engines live: ~/.cache/w24-harness/engines/<name>-<version>/ ($W24_ENGINES_CACHE)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    env = os.environ.get("W24_ENGINES_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "w24-harness" / "engines"
