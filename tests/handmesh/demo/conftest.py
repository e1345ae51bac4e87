"""Fixtures for the demo tests: the API tests' small checkpoint and export cache."""

from __future__ import annotations

from ..api.conftest import _export_cache, small_checkpoint  # noqa: F401 - fixtures used by name
