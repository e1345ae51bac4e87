"""What every command-line entry point shares: user errors become one clear line and exit code 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

from handmesh.errors import HandmeshError, OutputError

F = TypeVar("F", bound=Callable[..., int | None])


def user_errors_exit(fn: F) -> F:
    """Decorate a ``main(argv=None)``: a :class:`HandmeshError` (or a ``ValueError``/``KeyError`` raised by the
    backbone for a bad checkpoint or variant name) prints ``error: <message>`` to stderr and returns 2, an
    :class:`~handmesh.errors.OutputError` (the environment's fault: a full disk) returns 1; Ctrl-C returns 130.
    Other exceptions are bugs and keep their traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        from fastvit_backbone.errors import BackboneError

        try:
            return fn(*args, **kwargs) or 0
        except OutputError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        except (HandmeshError, BackboneError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper  # type: ignore[return-value]
