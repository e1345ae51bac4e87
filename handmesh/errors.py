"""User-facing errors.

Every error a user can cause (a wrong path, a malformed file, a bad option) is a :class:`HandmeshError` whose message
names the file or field and what was expected. Command-line entry points print these without a traceback; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations


class HandmeshError(Exception):
    """Base class for errors caused by user input rather than by a bug."""


class ConfigError(HandmeshError, ValueError):
    """A configuration key or value is invalid."""


class DataError(HandmeshError, ValueError):
    """A data file (dataset, annotation, image, prediction) is missing, malformed or inconsistent."""


class MissingFileError(HandmeshError, FileNotFoundError):
    """A file or folder the user named (or that belongs in a named folder) does not exist."""


class CheckpointError(HandmeshError, ValueError):
    """A checkpoint or exported artefact is corrupt, of another model, or not ours."""


class BackendUnavailableError(HandmeshError, RuntimeError):
    """A requested runtime, device or camera is not available on this machine."""


class OutputError(HandmeshError, OSError):
    """An output could not be written completely (a full disk, a file size limit); nothing that existed before was
    replaced. A fault of the environment rather than of the user's input: command-line tools exit with 1."""
