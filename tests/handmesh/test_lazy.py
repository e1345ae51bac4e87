"""Packages that serve their names lazily load nothing until a name is used, and then the right thing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from handmesh.utils.lazy import lazy_attributes


def test_a_lazy_name_is_loaded_once_and_unknown_names_are_errors() -> None:
    namespace: dict = {"__all__": ["sqrt", "extra"]}
    where = {"sqrt": "math", "atomic_write_bytes": "handmesh.utils.atomic"}
    getattr_, dir_ = lazy_attributes("handmesh.fake", where, namespace)
    with pytest.raises(ModuleNotFoundError, match="No module named 'handmesh.fake'"):
        getattr_("sqrt")  # a relative entry is looked up inside the package
    with pytest.raises(AttributeError, match="'handmesh.fake' has no attribute 'nope'"):
        getattr_("nope")
    assert dir_() == ["atomic_write_bytes", "extra", "sqrt"]
    from handmesh.utils.atomic import atomic_write_bytes

    assert (
        getattr_("atomic_write_bytes") is atomic_write_bytes and namespace["atomic_write_bytes"] is atomic_write_bytes
    )


def test_importing_the_packages_loads_no_torch() -> None:
    code = (
        "import sys, handmesh, handmesh.export, handmesh.artefact, handmesh.network, handmesh.runtime.loader;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
