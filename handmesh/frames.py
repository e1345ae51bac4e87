"""Frame validation and normalisation: whatever a camera, a file or a user hands us becomes ``(H, W, 3)`` uint8 RGB.

Accepted inputs and what happens to them:

=============================  ==========================================================================
grayscale ``(H, W)``/``(H, W, 1)``  replicated to three channels
RGBA ``(H, W, 4)``               alpha dropped (not composited: the colours are used as they are)
uint16                          scaled to the full uint8 range (``round(x / 257)``, so 65535 -> 255)
float in ``[0, 1]``             ``round(x * 255)``; floats outside ``[0, 1]`` or NaN are errors (ambiguous)
bool                            ``True`` -> 255
other integer types             accepted when every value lies in ``[0, 255]``
empty (a zero-length side)      error
non-contiguous (a slice, a      copied into a C-contiguous array (MediaPipe and OpenCV need one)
``[..., ::-1]`` BGR->RGB view)
=============================  ==========================================================================

Very large frames are fine for cropping (the crop warps straight from the full frame); detectors look at a copy
downscaled by :func:`downscale` and scale their coordinates back.
"""

from __future__ import annotations

import cv2
import numpy as np

from handmesh.errors import DataError


def as_rgb_uint8(frame: np.ndarray, *, name: str = "frame") -> np.ndarray:
    """Validate and normalise an image to C-contiguous ``(H, W, 3)`` uint8 RGB (see the module table).

    The channel order is not guessed: three-channel input is taken to be RGB already (convert OpenCV's BGR at the
    I/O boundary with ``frame[..., ::-1]``).

    Args:
        frame: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` image.
        name: what to call the image in error messages. Default: ``"frame"``.

    Returns:
        ``(H, W, 3)`` uint8 RGB; the input itself when it already is one (no copy).

    Raises:
        DataError: not an image array, empty, an unsupported channel count, or values outside the dtype's range.
    """
    if not isinstance(frame, np.ndarray):
        try:
            frame = np.asarray(frame)
        except Exception as e:  # noqa: BLE001 - anything that is not array-like is a user error here
            raise DataError(f"{name}: expected an image array (H, W[, C]), got {type(frame).__name__} ({e})") from None
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
        raise DataError(
            f"{name}: expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {frame.shape}"
        )
    if frame.size == 0:
        raise DataError(f"{name}: the image is empty (shape {frame.shape}); the camera or file gave no pixels")
    frame = _to_uint8(frame, name)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    elif frame.shape[2] == 4:
        frame = frame[..., :3]
    return np.ascontiguousarray(frame)


def _to_uint8(frame: np.ndarray, name: str) -> np.ndarray:
    dt = frame.dtype
    if dt == np.uint8:
        return frame
    if dt == np.bool_:
        return frame.astype(np.uint8) * np.uint8(255)
    if dt == np.uint16:
        # 257 = 65535 / 255 maps the full 16-bit range onto the full 8-bit range (0 -> 0, 65535 -> 255).
        return ((frame.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(dt, np.floating):
        lo, hi = float(np.min(frame)), float(np.max(frame))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise DataError(f"{name}: float image contains NaN or inf")
        if lo < 0.0 or hi > 1.0:
            raise DataError(
                f"{name}: float images must hold values in [0, 1], got [{lo:.4g}, {hi:.4g}]; for 0-255 floats pass "
                "frame.astype(np.uint8)"
            )
        return np.rint(frame * 255.0).astype(np.uint8)
    if np.issubdtype(dt, np.integer):
        lo, hi = int(np.min(frame)), int(np.max(frame))
        if lo < 0 or hi > 255:
            raise DataError(
                f"{name}: {dt} image values must lie in [0, 255], got [{lo}, {hi}] (uint16 images are rescaled; "
                "other integer types are not)"
            )
        return frame.astype(np.uint8)
    raise DataError(f"{name}: unsupported pixel type {dt}; expected uint8, uint16, bool or float in [0, 1]")


def downscale(frame: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """A copy whose longer side is at most ``max_side`` (area interpolation), for detectors on huge frames.

    Args:
        frame: ``(H, W, C)`` image.
        max_side: longest side allowed, pixels; None or 0 disables. Default behaviour of detectors: 1280.

    Returns:
        ``(image, factor)`` with ``factor = original side / new side >= 1``: multiply coordinates measured in the
        small image (pixel corners at 0) by it to get back to the frame. ``(frame, 1.0)`` when no resizing is needed.
    """
    h, w = frame.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return frame, 1.0
    factor = max(h, w) / float(max_side)
    size = (max(1, round(w / factor)), max(1, round(h / factor)))
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return small, max(h, w) / float(max(size[1], size[0]))
