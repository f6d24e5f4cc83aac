"""Root conftest: loads the w24 plugin when the package is not installed (a plain checkout).

When installed, the `pytest11` entry point named "fixtures.plugin" has already registered it,
and pytest skips a plugin name it already knows.
"""

pytest_plugins = ["fixtures.plugin", "pytester"]
