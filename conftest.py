"""Root conftest of a checkout: makes sure the w24 plugin is loaded, and pytester is available.

An installed w24-harness (the `./w24-test` set-up installs it editable) registers the plugin
through its `pytest11` entry point named `w24`; listing it here as well would register the same
module twice. Only a run with plugin autoload switched off needs it named here. A Python without
w24-harness installed (a bare `pytest` in a fresh checkout) stops here with one line.
"""

import importlib.util
import os
import sys
from importlib.metadata import entry_points

if importlib.util.find_spec("w24_harness") is None:
    # Before any other conftest imports what only the set-up installs; SystemExit, unlike an
    # exception, is not turned into pytest's conftest-import traceback.
    sys.stderr.write(
        "w24-harness is not installed in this Python: run ./w24-test (it sets up .venv)\n"
    )
    raise SystemExit(4)


def _autoloaded() -> bool:
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.name == "w24" for ep in entry_points(group="pytest11"))


pytest_plugins = ["pytester"] if _autoloaded() else ["w24_harness.fixtures.plugin", "pytester"]
