"""w24-harness: certify the SSL 3.0 / TLS 1.0 client of a Motorola W24 (Connect One iChip).

The checkout's `harness/` folder is this package only under its one import name, `w24_harness`
(pyproject.toml lays `harness/`, `fixtures/` and `suites/` onto it). Imported from a checkout as
`harness`, it would be a second copy of every module, whose classes and enums are not the same
objects (an `isinstance` across the two fails), so that name is refused.
"""

if __name__ != "w24_harness":
    raise ImportError(
        f"{__name__!r} is w24-harness's source folder, not a package: import w24_harness "
        "(./w24-test installs it into .venv)"
    )
