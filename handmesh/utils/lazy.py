"""Packages that load their modules on first use (PEP 562), so that importing them does no work."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, where: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package that serves ``where``'s names lazily.

    Args:
        package: the package's name (``__name__``).
        where: public name -> the module that defines it, whole (``"handmesh.x.y"``) or relative to the package.
        namespace: the package's ``globals()``; a name is stored there once loaded, so later look-ups are plain.
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = module if module.startswith(("handmesh", "fastvit_backbone")) else f"{package}.{module}"
        value = getattr(importlib.import_module(full), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(where) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
