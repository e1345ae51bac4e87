"""The MediaPipe hand-landmarker model bundle: build it once from a pip wheel, then find it offline.

mediapipe >= 0.10.30 ships no hand models. Its Tasks ``HandLandmarker`` loads a ``.task`` file, which is a plain zip
holding two TFLite models named ``hand_detector.tflite`` (palm detection) and ``hand_landmarks_detector.tflite``
(21 landmarks + handedness). The mediapipe 0.10.21 wheel still carries both as
``mediapipe/modules/palm_detection/palm_detection_full.tflite`` and
``mediapipe/modules/hand_landmark/hand_landmark_full.tflite``; zipped under the names above they load in 0.10.31.
(The ``*_lite`` palm model has no TFLite metadata and fails to load, so only the ``full`` pair is used.)

Set-up, once per machine (fetches the wheel from the package index with pip, a few seconds)::

    handmesh-demo --setup-detector
    python -c "import handmesh.detection as d; d.build_hand_landmarker_bundle()"     # the same, from Python

After that, :func:`find_hand_landmarker` finds the bundle with no network, in this order: an explicit path, the
``HANDMESH_HAND_LANDMARKER`` environment variable, then ``<cache>/hand_landmarker.task`` where ``<cache>`` is
``$HANDMESH_CACHE_DIR`` or ``~/.cache/handmesh``. Google's official ``hand_landmarker.task`` works the same way: pass
its path (``--hand-landmarker PATH``) or put it in the cache folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from handmesh.errors import BackendUnavailableError, DataError, MissingFileError
from handmesh.utils.atomic import atomic_open

MEDIAPIPE_WHEEL_VERSION = "0.10.21"
"""The last mediapipe release whose wheel ships the hand models."""

BUNDLE_NAME = "hand_landmarker.task"
"""File name of the bundle inside the cache folder."""

# Member of the source wheel -> name the Tasks API expects inside the .task zip.
BUNDLE_MEMBERS: dict[str, str] = {
    "mediapipe/modules/palm_detection/palm_detection_full.tflite": "hand_detector.tflite",
    "mediapipe/modules/hand_landmark/hand_landmark_full.tflite": "hand_landmarks_detector.tflite",
}

ENV_BUNDLE = "HANDMESH_HAND_LANDMARKER"
ENV_CACHE = "HANDMESH_CACHE_DIR"
SETUP_COMMAND = "handmesh-demo --setup-detector"
SETUP_PYTHON = 'python -c "import handmesh.detection as d; d.build_hand_landmarker_bundle()"'


def default_cache_dir() -> Path:
    """The folder for downloaded or built artefacts: ``$HANDMESH_CACHE_DIR``, else ``~/.cache/handmesh``.

    Returns:
        The folder path (not created here).
    """
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "handmesh"


def default_bundle_path() -> Path:
    """Where :func:`build_hand_landmarker_bundle` writes and :func:`find_hand_landmarker` looks last."""
    return default_cache_dir() / BUNDLE_NAME


def check_bundle(path: str | os.PathLike) -> Path:
    """Check that ``path`` is a readable hand-landmarker ``.task`` bundle (a zip with both model files).

    Args:
        path: the bundle file.

    Returns:
        The path as a :class:`Path`.

    Raises:
        MissingFileError: the file does not exist.
        DataError: the file is not a zip, or lacks ``hand_detector.tflite`` / ``hand_landmarks_detector.tflite``.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingFileError(f"hand landmarker bundle {path} does not exist; build one with `{SETUP_COMMAND}`")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(
            f"hand landmarker bundle {path} is not a .task (zip) file ({e}); rebuild it with `{SETUP_COMMAND}` or "
            "pass the official hand_landmarker.task"
        ) from None
    missing = sorted(set(BUNDLE_MEMBERS.values()) - names)
    if missing:
        raise DataError(
            f"hand landmarker bundle {path} lacks {', '.join(missing)} (it holds {sorted(names) or 'nothing'}); "
            f"rebuild it with `{SETUP_COMMAND}`"
        )
    return path


def find_hand_landmarker(path: str | os.PathLike | None = None) -> Path:
    """Locate the hand-landmarker bundle without touching the network.

    Args:
        path: an explicit bundle (e.g. from ``--hand-landmarker``). When given, it is the only place looked at.
            Default: None (then ``$HANDMESH_HAND_LANDMARKER``, then ``<cache>/hand_landmarker.task``).

    Returns:
        Path of a checked bundle.

    Raises:
        MissingFileError: nothing found; the message lists every place tried and the set-up command to run.
        DataError: the file found is not a valid bundle.
    """
    if path is not None:
        return check_bundle(path)
    env = os.environ.get(ENV_BUNDLE)
    if env:
        if not Path(env).expanduser().is_file():
            raise MissingFileError(
                f"{ENV_BUNDLE}={env} does not exist; unset it or point it at a hand_landmarker .task file "
                f"(build one with `{SETUP_COMMAND}`)"
            )
        return check_bundle(env)
    default = default_bundle_path()
    if default.is_file():
        return check_bundle(default)
    raise MissingFileError(
        f"no MediaPipe hand landmarker bundle found (looked at ${ENV_BUNDLE}: unset, and {default}). Build it once "
        f"with `{SETUP_COMMAND}` (or `{SETUP_PYTHON}`), which runs `python -m pip download "
        f"mediapipe=={MEDIAPIPE_WHEEL_VERSION} --no-deps --only-binary=:all:` and zips its two hand models; "
        "or pass the official hand_landmarker.task with --hand-landmarker PATH; or use --detector none"
    )


def bundle_from_wheel(wheel: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Zip the two hand models of a mediapipe wheel into a ``.task`` bundle (written atomically).

    Args:
        wheel: a mediapipe wheel (``mediapipe-0.10.21-*.whl``; any version that still has the ``full`` models).
        out: the bundle to write; its folder is created.

    Returns:
        ``out`` as a :class:`Path`.

    Raises:
        MissingFileError: ``wheel`` does not exist.
        DataError: ``wheel`` is not a zip or does not contain both models.
    """
    wheel, out = Path(wheel).expanduser(), Path(out).expanduser()
    if not wheel.is_file():
        raise MissingFileError(f"mediapipe wheel {wheel} does not exist")
    try:
        with zipfile.ZipFile(wheel) as src:
            names = set(src.namelist())
            missing = [m for m in BUNDLE_MEMBERS if m not in names]
            if missing:
                raise DataError(
                    f"mediapipe wheel {wheel} lacks {', '.join(missing)}; use mediapipe=={MEDIAPIPE_WHEEL_VERSION}"
                )
            payload = {dst: src.read(member) for member, dst in BUNDLE_MEMBERS.items()}
    except zipfile.BadZipFile:
        raise DataError(f"mediapipe wheel {wheel} is not a zip file") from None
    # TFLite files are already compact; storing them uncompressed lets the Tasks API map them directly.
    with atomic_open(out, "wb") as f, zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as dst:
        for name, data in payload.items():
            dst.writestr(name, data)
    out.chmod(0o644)  # the temporary file was private; the bundle is a shared read-only asset
    return out


def download_mediapipe_wheel(dest: str | os.PathLike, version: str = MEDIAPIPE_WHEEL_VERSION) -> Path:
    """Fetch the mediapipe wheel for this platform with ``python -m pip download`` (the package index, no deps).

    Args:
        dest: folder to download into.
        version: mediapipe version. Default: ``"0.10.21"``.

    Returns:
        Path of the downloaded wheel.

    Raises:
        BackendUnavailableError: pip failed (no network, no wheel for this platform, ...); the message carries
            pip's last lines.
    """
    dest = Path(dest)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"mediapipe=={version}",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        str(dest),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob(f"mediapipe-{version}-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise BackendUnavailableError(
            f"`{' '.join(cmd[2:])}` failed (exit {proc.returncode}); it needs the package index and a "
            f"mediapipe {version} wheel for this platform. Alternatively download the official "
            f"hand_landmarker.task by hand and pass --hand-landmarker PATH.\n{tail}"
        )
    return wheels[0]


def build_hand_landmarker_bundle(
    cache_dir: str | os.PathLike | None = None, wheel: str | os.PathLike | None = None
) -> Path:
    """Build ``hand_landmarker.task`` from the mediapipe 0.10.21 wheel (the one-time set-up step).

    Args:
        cache_dir: folder to write the bundle into. Default: None (``$HANDMESH_CACHE_DIR`` or ``~/.cache/handmesh``).
        wheel: a local mediapipe wheel to take the models from. Default: None (fetch it with
            ``python -m pip download mediapipe==0.10.21 --no-deps --only-binary=:all:`` into a temporary folder,
            deleted afterwards).

    Returns:
        Path of the written bundle, ``<cache_dir>/hand_landmarker.task``.
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    out = folder / BUNDLE_NAME
    if wheel is not None:
        bundle_from_wheel(wheel, out)
    else:
        with tempfile.TemporaryDirectory(prefix="handmesh-mediapipe-") as tmp:
            bundle_from_wheel(download_mediapipe_wheel(tmp), out)
    return check_bundle(out)


def ensure_hand_landmarker(path: str | os.PathLike | None = None) -> Path:
    """Find the bundle, building it (the one-time set-up step) only when none is found.

    Args:
        path: an explicit bundle; when given it must exist and nothing is built. Default: None.

    Returns:
        Path of a checked bundle.
    """
    if path is not None or os.environ.get(ENV_BUNDLE):
        return find_hand_landmarker(path)
    if default_bundle_path().is_file():
        return check_bundle(default_bundle_path())
    return build_hand_landmarker_bundle()
