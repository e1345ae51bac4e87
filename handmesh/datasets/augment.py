"""Augmentation that keeps the image and the 3D targets consistent: one affine crop per sample, plus colour.

Geometry. An in-plane rotation by angle ``a`` is the camera-frame rotation ``Rz(a)`` about the optical axis
(z). A point ``X`` projects to ``u = K X / z``; after rotating, ``K Rz X / z = (K Rz K^-1) u``, and because ``Rz``
leaves z unchanged, ``H = K Rz K^-1`` is an *affine* map of the image. So the image is warped with ``H`` (for square
pixels, a rotation about the principal point), the 3D targets (keypoints, vertices, MANO global orientation) are
rotated with ``Rz``, and the intrinsics stay ``K``. Scale and translation then pick a square crop from the rotated
image with a pure scale-and-shift ``M``; the crop's intrinsics are ``M K``. In total::

    crop_affine = (M @ H)[:2]        original-image pixels -> crop pixels
    K_crop      = M @ K              zero skew, fx and fy scaled by the same factor
    xyz_crop    = xyz @ Rz.T         and project_pinhole(xyz_crop, K_crop) == crop_affine @ [project_pinhole(xyz, K), 1]

The crop is centred on the rotated image of the box centre, so rotation turns the picture about the box centre while
the geometry stays exact. Pixel centres sit at integer coordinates (OpenCV's convention); an image of width W spans
[-0.5, W - 0.5], so the identity crop of a 224-pixel image at 224 is exactly the identity map.

Colour (jitter, blur) and occluders change pixels only, never the targets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentParams:
    """Ranges of the random augmentation (the ``data.augment`` section of the config maps onto these names).

    Attributes:
        scale: crop side drawn from ``side * U(1 - scale, 1 + scale)`` (> 1 zooms out). Default: 0.25.
        rotation_deg: in-plane rotation drawn from ``U(-rotation_deg, rotation_deg)`` degrees. Default: 90.
        translation: crop centre shift drawn per axis from ``U(-translation, translation)`` times the crop side.
            Default: 0.1.
        color_jitter: brightness, contrast and saturation factors drawn from ``U(1 - c, 1 + c)``, per-channel gains
            from ``U(1 - c/3, 1 + c/3)``. Default: 0.3.
        blur_prob: probability of a Gaussian blur with sigma ``U(0.5, 2)`` pixels. Default: 0.1.
        occlusion_prob: probability of pasting one or two occluders (rectangles, ellipses or patches of the same
            image). Default: 0.1.
        occluder_size: an occluder's width and height are each drawn from ``U(0.05, occluder_size)`` times the crop
            side. Default: 0.25.
    """

    scale: float = 0.25
    rotation_deg: float = 90.0
    translation: float = 0.1
    color_jitter: float = 0.3
    blur_prob: float = 0.1
    occlusion_prob: float = 0.1
    occluder_size: float = 0.25


@dataclass(frozen=True)
class CropTransform:
    """One sample's geometric transform.

    Attributes:
        affine: (2, 3) float64 map from original-image pixels to crop pixels.
        K: (3, 3) float64 intrinsics of the crop (pixels).
        rotation: (3, 3) float64 camera-frame rotation applied to 3D targets (about the optical axis).
        size: crop side S in pixels.
    """

    affine: np.ndarray
    K: np.ndarray
    rotation: np.ndarray
    size: int


def crop_transform(
    K: np.ndarray,
    image_size: tuple[int, int],
    out_size: int,
    *,
    scale: float = 1.0,
    rotation: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
    center: tuple[float, float] | None = None,
    side: float | None = None,
) -> CropTransform:
    """The crop transform for given augmentation values (see the module docstring for the geometry).

    Args:
        K: (3, 3) intrinsics of the original image, pixels.
        image_size: ``(W, H)`` of the original image.
        out_size: crop side S in pixels.
        scale: crop side as a multiple of ``side`` (> 1 zooms out). Default: 1.
        rotation: in-plane rotation in radians; positive turns image content clockwise on screen (y points down),
            i.e. ``Rz(rotation)`` in the x-right, y-down, z-forward camera frame. Default: 0.
        shift: crop centre offset as fractions of the crop side, ``(x, y)``. Default: (0, 0).
        center: box centre in original pixels. Default: the image centre ``((W - 1) / 2, (H - 1) / 2)``.
        side: box side in original pixels. Default: ``max(W, H)``.
    """
    K = np.asarray(K, dtype=np.float64)
    w, h = image_size
    c0 = np.array(center if center is not None else ((w - 1) / 2.0, (h - 1) / 2.0), dtype=np.float64)
    side = float(side if side is not None else max(w, h)) * float(scale)
    cos, sin = math.cos(rotation), math.sin(rotation)
    rz = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    hom = K @ rz @ np.linalg.inv(K)  # affine: last row is (0, 0, 1) because Rz keeps z
    hom[2] = (0.0, 0.0, 1.0)
    centre = (hom @ np.append(c0, 1.0))[:2] + np.asarray(shift, dtype=np.float64) * side
    a = out_size / side
    m = np.array(
        [
            [a, 0.0, (out_size - 1) / 2.0 - a * centre[0]],
            [0.0, a, (out_size - 1) / 2.0 - a * centre[1]],
            [0.0, 0.0, 1.0],
        ]
    )
    return CropTransform(affine=(m @ hom)[:2], K=m @ K, rotation=rz, size=int(out_size))


def sample_crop_transform(
    rng: np.random.Generator,
    K: np.ndarray,
    image_size: tuple[int, int],
    out_size: int,
    params: AugmentParams,
    *,
    center: tuple[float, float] | None = None,
    side: float | None = None,
) -> CropTransform:
    """Draw scale, rotation and shift from ``params`` and return :func:`crop_transform` of them around the box of
    ``center`` and ``side`` (default: the whole image)."""
    scale = rng.uniform(1.0 - params.scale, 1.0 + params.scale)
    rotation = math.radians(rng.uniform(-params.rotation_deg, params.rotation_deg))
    shift = rng.uniform(-params.translation, params.translation, size=2)
    return crop_transform(
        K, image_size, out_size, scale=scale, rotation=rotation, shift=(shift[0], shift[1]), center=center, side=side
    )


def warp_image(
    image: np.ndarray, transform: CropTransform, interpolation: int = cv2.INTER_LINEAR, border_value: int = 0
) -> np.ndarray:
    """Warp an (H, W, C) or (H, W) image into the (S, S[, C]) crop; outside the source is ``border_value``."""
    return cv2.warpAffine(
        image,
        transform.affine,
        (transform.size, transform.size),
        flags=interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border_value,
    )


def rotate_global_orient(axis_angle: np.ndarray, transform: CropTransform) -> np.ndarray:
    """New (3,) axis-angle global orientation ``Rz @ R(axis_angle)``.

    MANO rotates the hand about its root joint and then translates it; rotating every point about the camera origin
    composes ``Rz`` on the left of the global rotation (the root translation changes too, but FreiHAND stores a root
    position in pixels, not a translation, so nothing else in the annotation needs updating).
    """
    r, _ = cv2.Rodrigues(np.asarray(axis_angle, dtype=np.float64).reshape(3, 1))
    out, _ = cv2.Rodrigues(transform.rotation @ r)
    return out.reshape(3)


def color_augment(image: np.ndarray, rng: np.random.Generator, params: AugmentParams) -> np.ndarray:
    """Colour jitter then (with ``blur_prob``) Gaussian blur of an RGB uint8 (S, S, 3) image; returns uint8."""
    img = image.astype(np.float32)
    c = params.color_jitter
    if c > 0:
        gray = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        saturation = rng.uniform(1 - c, 1 + c)
        img = gray[..., None] + saturation * (img - gray[..., None])
        contrast = rng.uniform(1 - c, 1 + c)
        img = gray.mean() + contrast * (img - gray.mean())
        gains = rng.uniform(1 - c / 3, 1 + c / 3, size=3).astype(np.float32)
        img = img * (rng.uniform(1 - c, 1 + c) * gains)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < params.blur_prob:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=rng.uniform(0.5, 2.0))
    return out


def add_occluders(image: np.ndarray, rng: np.random.Generator, params: AugmentParams) -> np.ndarray:
    """With ``occlusion_prob``, paste one or two occluders (filled rectangles, ellipses, or patches cut from
    elsewhere in the same image), each side 5 % to ``occluder_size`` of the crop side, centred in the middle 60 %
    where the hand is. Kept rare and small: a large occluder hides most of the hand, and its targets then teach the
    network to guess rather than to see."""
    if rng.random() >= params.occlusion_prob:
        return image
    out = image.copy()
    s = out.shape[0]
    high = max(float(params.occluder_size), 0.05)
    for _ in range(int(rng.integers(1, 3))):
        w, h = (rng.uniform(0.05, high, size=2) * s).astype(int) + 1
        cx, cy = rng.uniform(0.2 * s, 0.8 * s, size=2).astype(int)
        x0, y0 = max(cx - w // 2, 0), max(cy - h // 2, 0)
        x1, y1 = min(x0 + w, s), min(y0 + h, s)
        kind = int(rng.integers(3))
        if kind == 0:
            colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
            cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, thickness=-1)
        elif kind == 1:
            colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(out, (int(cx), int(cy)), (int(w // 2), int(h // 2)), angle, 0, 360, colour, thickness=-1)
        else:
            sx, sy = int(rng.integers(0, s - (x1 - x0) + 1)), int(rng.integers(0, s - (y1 - y0) + 1))
            out[y0:y1, x0:x1] = image[sy : sy + (y1 - y0), sx : sx + (x1 - x0)]
    return out
