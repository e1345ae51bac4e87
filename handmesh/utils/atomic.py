"""Atomic file writes: write to a temporary file in the same folder, then ``os.replace`` it into place.

A reader (or a resumed run) never sees a half-written checkpoint, JSON file or image: an interrupted write leaves
only a ``.<name>.<random>.tmp`` file behind; :func:`remove_stale_temporaries` clears those of a path (a killed
process cannot).

Permissions are those a plain ``open(path, "w")`` gives: a new file gets ``0o666 & ~umask`` (``tempfile.mkstemp``
alone would leave every file ``0o600``, unreadable to the user's group and to other tools), and a file that is
replaced keeps its permission bits.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from glob import escape as glob_escape
from pathlib import Path
from typing import IO, Any

_PROC_STATUS = Path("/proc/self/status")


def _current_umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux reports it in /proc)."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere the only way to read the umask is to set it and put it back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _file_mode(path: Path) -> int:
    """Permission bits ``open(path, "w")`` would leave: the existing file's, else ``0o666`` less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; move it onto ``path`` only if the block succeeds.

    Args:
        path: final destination. Its parent folder is created if needed.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).

    Yields:
        The open temporary file.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            os.chmod(tmp, _file_mode(path))  # mkstemp creates 0o600 whatever the umask says
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(path: str | os.PathLike) -> int:
    """Delete the temporary files that interrupted atomic writes of ``path`` left beside it (``.<name>.*.tmp``).
    Call it only where no other process is writing ``path``.

    Returns:
        How many were removed.
    """
    path = Path(path)
    removed = 0
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed += 1
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_json(path: str | os.PathLike, obj: Any, **json_kwargs: Any) -> None:
    """Serialize ``obj`` as JSON to ``path`` atomically (``json.dump`` keyword arguments pass through)."""
    with atomic_open(path, "w") as f:
        json.dump(obj, f, **json_kwargs)


def atomic_torch_save(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save`` to ``path`` atomically (the temporary file is fsynced before the rename)."""
    import torch

    with atomic_open(path, "wb") as f:
        torch.save(obj, f)
