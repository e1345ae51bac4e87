"""Exports made on demand (``handmesh.api.load_runtime(checkpoint, backend="auto")``), kept in a cache folder and
reused.

The folder is ``$HANDMESH_CACHE_DIR``, else ``~/.cache/handmesh``; exports go to its ``exports/`` subfolder, named
by the checkpoint's content hash (SHA-256 of the file's bytes, so a renamed or copied checkpoint hits the same
entry and a retrained one never does) and the export settings and handmesh version. Files are written atomically:
two processes exporting the same checkpoint at once both end with a complete file. Deleting the folder is always
safe.
"""

from __future__ import annotations

import os
from pathlib import Path

from handmesh.errors import CheckpointError, ConfigError

__all__ = ["CACHE_ENV", "cache_dir", "cached_export", "cached_export_path", "export_for_runtime"]

CACHE_ENV = "HANDMESH_CACHE_DIR"


def cache_dir() -> Path:
    """``$HANDMESH_CACHE_DIR``, else ``~/.cache/handmesh``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "handmesh"


def cached_export_path(
    checkpoint: str | os.PathLike,
    fmt: str = "onnx",
    *,
    fp16: bool = False,
    batch: int | None = None,
    use_ema: bool = True,
    root: str | os.PathLike | None = None,
    digest: str | None = None,
) -> Path:
    """Where the cached export of ``checkpoint`` with these settings lives (it may not exist yet)."""
    from handmesh._version import __version__
    from handmesh.artefact.describe import file_sha256
    from handmesh.artefact.formats import ARTEFACT_FORMATS
    from handmesh.artefact.metadata import ARTEFACT_FORMAT_VERSION

    if fmt not in ARTEFACT_FORMATS:
        raise ConfigError(f"format {fmt!r}: expected one of {', '.join(ARTEFACT_FORMATS)}")
    digest = digest or file_sha256(checkpoint)
    settings = (
        f"{'fp16' if fp16 else 'fp32'}-b{batch or 'dyn'}-{'ema' if use_ema else 'raw'}"
        f"-v{ARTEFACT_FORMAT_VERSION}-hm{__version__}"
    )
    base = Path(root) if root is not None else cache_dir()
    return base / "exports" / f"{digest[:32]}-{settings}{ARTEFACT_FORMATS[fmt].suffix}"


def cached_export(
    checkpoint: str | os.PathLike,
    fmt: str = "onnx",
    *,
    fp16: bool = False,
    batch: int | None = None,
    use_ema: bool = True,
    mano_dir: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
) -> tuple[Path, bool]:
    """The cached export of ``checkpoint``, made (and checked against PyTorch) if it is not there yet.

    Args:
        checkpoint: a handmesh checkpoint.
        fmt: ``"onnx"`` or ``"torchscript"``. Default: ``"onnx"``.
        fp16, batch: export settings (see :func:`~handmesh.export.export_onnx`).
        use_ema, mano_dir: see :func:`~handmesh.network.load_network`.
        root: the cache folder. Default: :func:`cache_dir`.

    Returns:
        ``(path, made)``: the artefact and whether this call exported it.

    Raises:
        MissingFileError, CheckpointError: the checkpoint is missing, corrupt or not ours; or the fresh export
            disagrees with PyTorch (it is then not kept).
    """
    from handmesh.errors import MissingFileError

    if not Path(checkpoint).is_file():
        raise MissingFileError(f"checkpoint {checkpoint} does not exist")
    path = cached_export_path(checkpoint, fmt, fp16=fp16, batch=batch, use_ema=use_ema, root=root)
    if path.exists():
        return path, False
    if fmt == "onnx":
        from handmesh.export.to_onnx import export_onnx as export
    elif fmt == "torchscript":
        from handmesh.export.to_torchscript import export_torchscript as export
    else:
        raise ConfigError(
            f"format {fmt!r}: only onnx and torchscript exports are made on demand; export Core ML "
            "packages with handmesh-export --format coreml"
        )
    result = export(checkpoint, path, batch=batch, fp16=fp16, use_ema=use_ema, mano_dir=mano_dir)
    if result.parity.passed is False:
        path.unlink(missing_ok=True)
        raise CheckpointError(
            f"exporting {checkpoint} to {fmt}: the export disagrees with PyTorch "
            f"({result.parity.summary()}); please report this"
        )
    return path, True


def export_for_runtime(checkpoint: str | os.PathLike, fmt: str, **settings: object) -> Path:
    """The ``exporter`` that :func:`handmesh.runtime.load_runtime` takes: :func:`cached_export`'s path."""
    return cached_export(checkpoint, fmt, **settings)[0]  # type: ignore[arg-type]
