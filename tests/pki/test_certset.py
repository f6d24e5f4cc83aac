"""The certificate sets are one typed registry: every name has a builder, every builder a name."""

from __future__ import annotations

import inspect

from w24_harness.pki.certset import CertSetName
from w24_harness.pki.sets import BUILDERS, CertSets


def test_every_name_has_its_builder_and_every_builder_a_name():
    assert set(BUILDERS) == set(CertSetName)
    methods = {
        n for n, _ in inspect.getmembers(CertSets, inspect.isfunction) if n.startswith("_set_")
    }
    assert {f"_set_{name}" for name in CertSetName} == methods
    assert all(BUILDERS[name].__name__ == f"_set_{name}" for name in CertSetName)
