"""Where the crop gets computed: a square box around the hand, the affine warp to the network's input, mirroring of
left hands, and the maps back to the frame.

Pixel convention (shared with :mod:`handmesh.datasets.augment`): pixel centres sit at integer coordinates, so an
image of width W spans ``[-0.5, W - 0.5]``. A square box of side ``b`` centred at ``c`` maps onto the crop of side
S with ``u = a (x - c) + (S - 1) / 2``, ``a = S / b``: the box edges land on the crop edges exactly.

Crop size. The box is the tight box of the 21 keypoints (or the detector's box), made square on its longer side and
expanded by ``expand``. Default 1.6: FreiHAND's 224-pixel images frame the hand so that the keypoint box's longer
side is about 140 pixels (measured with MediaPipe's keypoints on the 15 of 20 FreiHAND evaluation images where it
finds the hand: median 139, 122-173 for all but a fist and a foreshortened hand), i.e. the image side is ~1.6x the
keypoint box. Training crops its samples the same way (the true keypoints' box x 1.6, with its scale and centre
jittered around it, :mod:`handmesh.datasets.freihand`), so the network sees hands at inference as it learned them;
HaMeR's 2.0 suits models trained with looser crops. A box without keypoints
(fallback detectors) is taken as the crop region itself (``box_expand`` 1.0).

Mirroring. The network is trained on right hands only. A left hand's crop is flipped left-right (``u -> S - 1 - u``,
folded into the affine, so the warp is still one ``cv2.warpAffine``) and then looks like a right hand. Geometrically,
with ``M = diag(-1, 1, 1)``, the network sees the mirrored world: a camera-frame point ``X`` appears as ``M X``
under the crop intrinsics :meth:`HandCrop.intrinsics` (which keep a positive focal length). Its predictions in that
mirrored frame come back to the real camera frame as

    points, vertices, translations:  P = M P'      (negate x)                       mirror_points
    rotation matrices (global and    R = M R' M     (negate the off-diagonal x row   mirror_rotation_matrices
    every joint):                                   and column)
    axis-angle vectors:              w = (x, -y, -z) of w'                            mirror_axis_angle
    mesh faces:                      reversed winding (a reflection turns triangles   flip_faces
                                     inside out), i.e. the left hand model's faces
    2D crop pixels:                  HandCrop.to_frame (the flip is in the affine)

The un-mirrored rotations are exactly the parameters of the left hand model (which is the right one mirrored, see
:mod:`handmesh.hand_model.mirror`): posing the left model with them gives the un-mirrored vertices. All mirror
functions are their own inverses and work on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from handmesh.detection.types import HandDetection

DEFAULT_INPUT_SIZE = 224
"""Network input side S in pixels."""

DEFAULT_EXPAND = 1.6
"""Crop side / longer side of the keypoints' tight box (FreiHAND's framing, see the module docstring). The one
framing: the live pipeline crops detections with it, training crops its samples with it (around the true keypoints,
with scale jitter), and validation crops with it."""

FREIHAND_FRAME_FRACTION = 1.0
"""Crop side / image side of the fixed centred crop for images whose keypoints are unknown (FreiHAND's evaluation
split, scored without looking at its ground truth). FreiHAND's 224-pixel frames hold the keypoint box at about
139 pixels (module docstring), and 1.6 x 139 / 224 = 0.99: the whole frame is the framing above."""

ArrayT = TypeVar("ArrayT")


# ----------------------------------------------------------------------------------------------------------- boxes
def box_from_keypoints(keypoints2d: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Tight box around 2D keypoints.

    Args:
        keypoints2d: ``(N, 2)`` pixels.
        valid: ``(N,)`` bool, the keypoints to use. Default: None (all).

    Returns:
        ``(4,)`` float64 ``(x0, y0, x1, y1)``.
    """
    kp = np.asarray(keypoints2d, dtype=np.float64).reshape(-1, 2)
    if valid is not None:
        kp = kp[np.asarray(valid, dtype=bool).reshape(-1)]
    if len(kp) == 0:
        raise ValueError("box_from_keypoints: no valid keypoints")
    return np.concatenate([kp.min(axis=0), kp.max(axis=0)])


def square_box(box: np.ndarray, expand: float = 1.0, min_side: float = 1.0) -> np.ndarray:
    """The square box with the same centre, side ``max(w, h) * expand`` (at least ``min_side``).

    Args:
        box: ``(4,)`` ``(x0, y0, x1, y1)`` pixels.
        expand: side multiplier. Default: 1.
        min_side: smallest side in pixels (a degenerate box still gives a usable crop). Default: 1.

    Returns:
        ``(4,)`` float64 square box.
    """
    x0, y0, x1, y1 = np.asarray(box, dtype=np.float64).reshape(4)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    side = max(max(x1 - x0, y1 - y0) * float(expand), float(min_side))
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def crop_box_from_detection(
    detection: HandDetection, expand: float = DEFAULT_EXPAND, box_expand: float = 1.0
) -> np.ndarray:
    """The square crop box for a detection: its keypoints' box times ``expand``, else its box times ``box_expand``.

    Args:
        detection: a :class:`~handmesh.detection.types.HandDetection`.
        expand: multiplier for the keypoints' tight box. Default: 1.6 (:data:`DEFAULT_EXPAND`).
        box_expand: multiplier for a box without keypoints. Default: 1 (fallback detectors give the crop region).

    Returns:
        ``(4,)`` float64 square box, frame pixels.
    """
    if detection.keypoints2d is not None:
        return keypoint_crop_box(detection.keypoints2d, expand)
    return square_box(detection.box, box_expand)


def keypoint_crop_box(keypoints2d: np.ndarray, expand: float = DEFAULT_EXPAND) -> np.ndarray:
    """The square crop box of 21 keypoints: their tight box, square on its longer side, times ``expand``.

    Args:
        keypoints2d: ``(N, 2)`` pixels.
        expand: crop side / the box's longer side. Default: 1.6 (:data:`DEFAULT_EXPAND`).

    Returns:
        ``(4,)`` float64 square box, pixels.
    """
    return square_box(box_from_keypoints(keypoints2d), expand)


# ------------------------------------------------------------------------------------------------------------ crop
@dataclass(frozen=True)
class HandCrop:
    """A square crop of a frame at the network's input size.

    Attributes:
        affine: ``(2, 3)`` float64 map from frame pixels to crop pixels (mirroring included).
        size: crop side S in pixels.
        box: ``(4,)`` float64 square box in frame pixels that fills the crop.
        mirrored: the crop is flipped left-right (a left hand shown to the network as a right hand).
    """

    affine: np.ndarray
    size: int
    box: np.ndarray
    mirrored: bool = False

    @property
    def matrix(self) -> np.ndarray:
        """``(3, 3)`` homogeneous form of :attr:`affine`."""
        return np.vstack([self.affine, [0.0, 0.0, 1.0]])

    @property
    def inverse_affine(self) -> np.ndarray:
        """``(2, 3)`` map from crop pixels back to frame pixels."""
        return np.linalg.inv(self.matrix)[:2]

    @property
    def scale(self) -> float:
        """Crop pixels per frame pixel (``S / box side``)."""
        return float(self.size / (self.box[2] - self.box[0]))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Frame pixels ``(..., 2)`` -> crop pixels ``(..., 2)``."""
        p = np.asarray(points, dtype=np.float64)
        return p @ self.affine[:, :2].T + self.affine[:, 2]

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Crop pixels ``(..., 2)`` -> frame pixels ``(..., 2)`` (undoes the mirroring too)."""
        inv = self.inverse_affine
        p = np.asarray(points, dtype=np.float64)
        return p @ inv[:, :2].T + inv[:, 2]

    def intrinsics(self, K: np.ndarray) -> np.ndarray:
        """Intrinsics of the camera that sees the crop: ``A K`` (``A K M`` when mirrored, see the module docstring).

        For a camera-frame point ``X``, ``project(X, K_crop) == to_crop(project(X, K))``; when mirrored,
        ``project(M X, K_crop) == to_crop(project(X, K))`` and ``K_crop`` keeps a positive focal length.

        Args:
            K: ``(3, 3)`` full-frame intrinsics, pixels.

        Returns:
            ``(3, 3)`` float64 crop intrinsics.
        """
        k_crop = self.matrix @ np.asarray(K, dtype=np.float64)
        if self.mirrored:
            k_crop = k_crop * np.array([-1.0, 1.0, 1.0])  # right-multiply by M: negate the first column
        return k_crop

    def warp(self, frame: np.ndarray, interpolation: int = cv2.INTER_LINEAR, border_value: int = 0) -> np.ndarray:
        """Cut the crop out of ``frame``.

        Downscaling by more than 2x first area-averages the box region (a plain bilinear warp would alias fine
        texture such as fingers' edges on 4K frames); the geometry is the same affine either way.

        Args:
            frame: ``(H, W, C)`` or ``(H, W)`` image (any size; huge frames cost only the box region).
            interpolation: OpenCV flag for the final warp. Default: ``cv2.INTER_LINEAR``.
            border_value: fill for parts of the box outside the frame. Default: 0 (black).

        Returns:
            ``(S, S, C)`` or ``(S, S)`` image, same dtype.
        """
        affine = self.affine
        factor = int(math.floor(1.0 / self.scale))
        if factor >= 2:
            frame, pre = _area_downscale_region(frame, self.box, factor)
            affine = (self.matrix @ np.linalg.inv(pre))[:2]
        if frame.size == 0:  # the box lies entirely outside the frame
            shape = (self.size, self.size) + tuple(frame.shape[2:])
            return np.full(shape, border_value, dtype=frame.dtype)
        return cv2.warpAffine(
            frame,
            affine,
            (self.size, self.size),
            flags=interpolation,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=border_value,
        )


def _area_downscale_region(frame: np.ndarray, box: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``frame`` under ``box`` (plus a margin), shrunk by an integer ``factor`` with area averaging.

    Returns:
        ``(small, pre)``: the shrunk region and the ``(3, 3)`` map from frame pixels to its pixels.
    """
    h, w = frame.shape[:2]
    x0 = max(int(math.floor(box[0])) - factor, 0)
    y0 = max(int(math.floor(box[1])) - factor, 0)
    x1 = min(int(math.ceil(box[2])) + factor + 1, w)
    y1 = min(int(math.ceil(box[3])) + factor + 1, h)
    # Whole blocks only, so that small pixel (i, j) averages frame pixels [x0 + f i, x0 + f (i + 1)).
    x1 = x0 + max((x1 - x0) // factor, 0) * factor
    y1 = y0 + max((y1 - y0) // factor, 0) * factor
    region = frame[y0:y1, x0:x1]
    if region.shape[0] == 0 or region.shape[1] == 0:
        return region[:0, :0], np.eye(3)
    small = cv2.resize(region, ((x1 - x0) // factor, (y1 - y0) // factor), interpolation=cv2.INTER_AREA)
    # A block's centre x0 + f i + (f - 1) / 2 becomes pixel i: x_small = (x - x0 - (f - 1) / 2) / f.
    pre = np.array(
        [
            [1.0 / factor, 0.0, -(x0 + (factor - 1) / 2.0) / factor],
            [0.0, 1.0 / factor, -(y0 + (factor - 1) / 2.0) / factor],
            [0.0, 0.0, 1.0],
        ]
    )
    return small, pre


def make_crop(box: np.ndarray, size: int = DEFAULT_INPUT_SIZE, mirror: bool = False) -> HandCrop:
    """The crop whose square ``box`` fills an ``size`` x ``size`` image, optionally flipped left-right.

    Args:
        box: ``(4,)`` square box ``(x0, y0, x1, y1)`` in frame pixels (a non-square box is squared on its longer
            side about its centre).
        size: crop side S in pixels. Default: 224.
        mirror: flip left-right (left hands). Default: False.

    Returns:
        The :class:`HandCrop`.
    """
    box = square_box(box, 1.0, min_side=1e-6)
    side = box[2] - box[0]
    a = size / side
    c = (size - 1) / 2.0
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    if mirror:  # u = (S - 1) - (a (x - cx) + c) = -a (x - cx) + c, since c = (S - 1) / 2
        affine = np.array([[-a, 0.0, c + a * cx], [0.0, a, c - a * cy]])
    else:
        affine = np.array([[a, 0.0, c - a * cx], [0.0, a, c - a * cy]])
    return HandCrop(affine=affine, size=int(size), box=box, mirrored=bool(mirror))


def crop_detection(
    frame: np.ndarray,
    detection: HandDetection,
    size: int = DEFAULT_INPUT_SIZE,
    expand: float = DEFAULT_EXPAND,
    mirror_left: bool = True,
) -> tuple[np.ndarray, HandCrop]:
    """Crop one detected hand for the network (left hands mirrored).

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        detection: the hand.
        size: crop side S. Default: 224.
        expand: keypoint-box multiplier (:func:`crop_box_from_detection`). Default: 1.6.
        mirror_left: flip left hands so the network sees a right hand. Default: True.

    Returns:
        ``(image (S, S, 3) uint8, crop)``.
    """
    crop = make_crop(
        crop_box_from_detection(detection, expand), size, mirror=mirror_left and detection.handedness == "left"
    )
    return crop.warp(frame), crop


# ------------------------------------------------------------------------------------------------------- mirroring
def _signs(x: ArrayT, values: list[float]) -> ArrayT:
    """``values`` as an array of ``x``'s kind (numpy or torch), dtype and device."""
    if isinstance(x, np.ndarray):
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
        return np.asarray(values, dtype=dtype)  # type: ignore[return-value]
    import torch

    return torch.tensor(values, dtype=x.dtype, device=x.device)  # type: ignore[attr-defined,return-value]


def mirror_points(points: ArrayT) -> ArrayT:
    """``(..., 3)`` points, vertices or translations with x negated (``M P``); numpy or torch."""
    return points * _signs(points, [-1.0, 1.0, 1.0])  # type: ignore[operator]


def mirror_rotation_matrices(R: ArrayT) -> ArrayT:
    """``M R M`` for ``(..., 3, 3)`` rotation matrices (entry ``(i, j)`` times ``s_i s_j``); numpy or torch."""
    s = _signs(R, [-1.0, 1.0, 1.0])
    return R * s[:, None] * s[None, :]  # type: ignore[index,operator]


def mirror_axis_angle(aa: ArrayT) -> ArrayT:
    """Axis-angle ``(..., 3 k)``: every ``(x, y, z)`` triple becomes ``(x, -y, -z)``; numpy or torch."""
    shape = aa.shape  # type: ignore[attr-defined]
    if shape[-1] % 3:
        raise ValueError(f"mirror_axis_angle: last dimension must be a multiple of 3, got {tuple(shape)}")
    triples = aa.reshape(*shape[:-1], -1, 3)  # type: ignore[attr-defined]
    return (triples * _signs(aa, [1.0, -1.0, -1.0])).reshape(shape)


def flip_faces(faces: ArrayT) -> ArrayT:
    """``(F, 3)`` triangles with reversed winding (for meshes whose vertices were mirrored); numpy or torch."""
    return faces[:, [0, 2, 1]]  # type: ignore[index]
