"""Root conftest of a checkout: makes sure the w24 plugin is loaded, and pytester is available.

An installed w24-harness (the `./w24-test` set-up installs it editable) registers the plugin
through its `pytest11` entry point named `w24`; listing it here as well would register the same
module twice. Only a checkout without the distribution installed, or a run with plugin autoload
switched off, needs it named here.
"""

import os
from importlib.metadata import entry_points


def _autoloaded() -> bool:
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.name == "w24" for ep in entry_points(group="pytest11"))


pytest_plugins = ["pytester"] if _autoloaded() else ["w24_harness.fixtures.plugin", "pytester"]
