"""Errors the backbone raises for user input (unknown variant, bad input shape, incompatible checkpoint)."""

from __future__ import annotations


class BackboneError(Exception):
    """Base class for errors caused by user input to the backbone."""


class UnknownVariantError(BackboneError, KeyError):
    """A variant name that is not in the table; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class InputShapeError(BackboneError, ValueError):
    """An input tensor of the wrong channel count or a spatial size not divisible by the network stride."""


class CheckpointError(BackboneError, ValueError):
    """A checkpoint file that is corrupt, of another variant, or has missing/unexpected keys."""
