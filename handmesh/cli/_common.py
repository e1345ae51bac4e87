"""What every command-line entry point shares: user errors become one clear line and exit code 2."""

from __future__ import annotations

import errno
import functools
import sys
from collections.abc import Callable
from typing import TypeVar

from handmesh.errors import HandmeshError, OutputError

F = TypeVar("F", bound=Callable[..., int | None])


_DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def user_errors_exit(fn: F) -> F:
    """Decorate a ``main(argv=None)``: a :class:`HandmeshError` (or a ``ValueError``/``KeyError`` raised by the
    backbone for a bad checkpoint or variant name) prints ``error: <message>`` to stderr and returns 2, an
    :class:`~handmesh.errors.OutputError` or an ``OSError`` of a full disk or a file size limit (the environment's
    fault) prints one line and returns 1 (every file is written atomically, so none is left half written); Ctrl-C
    returns 130.
    Other exceptions are bugs and keep their traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        from fastvit_backbone.errors import BackboneError

        try:
            return fn(*args, **kwargs) or 0
        except OutputError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        except (HandmeshError, BackboneError) as e:  # MissingFileError is an OSError too: it belongs here
            print(f"error: {e}", file=sys.stderr)
            return 2
        except OSError as e:
            if e.errno not in _DISK_FULL:
                raise
            where = f"{e.filename}: " if e.filename else ""
            print(
                f"error: {where}{e.strerror or e} (the disk is full or a file size limit was reached); files "
                "written before are complete and were not replaced",
                file=sys.stderr,
            )
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper  # type: ignore[return-value]
