"""A tiny FreiHAND-format folder written at test time, geometrically consistent with its intrinsics.

Keypoints are placed by choosing well-separated pixel positions and depths and back-projecting them with each
sample's K, so projecting ``xyz`` with ``K`` lands on the dots drawn into the images. Five marker joints are drawn
as saturated dots of distinct colours, so a test can find where an augmented image shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from handmesh.datasets.freihand_format import write_freihand_split

#: Joints drawn as dots, and their RGB colours.
MARKERS = (0, 4, 8, 12, 16)
MARKER_COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255]], dtype=np.uint8)
IMAGE_SIZE = 224


@dataclass
class TinyFreiHAND:
    root: Path
    n_train: int
    n_eval: int
    versions: int
    train: dict[str, np.ndarray]
    evaluation: dict[str, np.ndarray]
    markers: tuple[int, ...] = MARKERS  # joints drawn as dots
    marker_colours: np.ndarray = field(default_factory=lambda: MARKER_COLOURS)  # (5, 3) their RGB colours


def _intrinsics(rng: np.random.Generator, n: int) -> np.ndarray:
    K = np.zeros((n, 3, 3))
    K[:, 0, 0] = rng.uniform(400, 600, n)
    K[:, 1, 1] = K[:, 0, 0] * rng.uniform(0.9, 1.1, n)  # fx != fy: the augmentation must handle it
    K[:, 0, 2] = rng.uniform(100, 124, n)
    K[:, 1, 2] = rng.uniform(100, 124, n)
    K[:, 2, 2] = 1.0
    return K


def _separated_pixels(rng: np.random.Generator, count: int, lo: float, hi: float, min_dist: float) -> np.ndarray:
    pts: list[np.ndarray] = []
    while len(pts) < count:
        p = rng.uniform(lo, hi, size=2)
        if all(np.linalg.norm(p - q) >= min_dist for q in pts):
            pts.append(p)
    return np.array(pts)


def make_annotations(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """K, xyz, verts, mano, scale for n samples; marker joints project to well separated pixels."""
    K = _intrinsics(rng, n)
    xyz = np.zeros((n, 21, 3))
    for i in range(n):
        uv = rng.uniform(60, 164, size=(21, 2))
        uv[list(MARKERS)] = _separated_pixels(rng, len(MARKERS), 60, 164, 28)
        z = rng.uniform(0.45, 0.6) + rng.uniform(-0.03, 0.03, size=21)
        xyz[i] = (np.linalg.inv(K[i]) @ np.c_[uv, np.ones(21)].T).T * z[:, None]
    verts = xyz[:, rng.integers(0, 21, 778)] + rng.normal(scale=0.01, size=(n, 778, 3))
    mano = np.concatenate(
        [
            rng.normal(scale=0.3, size=(n, 48)),
            rng.normal(size=(n, 10)),
            rng.uniform(80, 140, (n, 2)),
            rng.uniform(0.5, 1.5, (n, 1)),
        ],
        axis=1,
    )
    return {"K": K, "xyz": xyz, "verts": verts, "mano": mano, "scale": rng.uniform(0.02, 0.04, n)}


def draw_markers(K: np.ndarray, xyz: np.ndarray, background: int = 40, radius: int = 4) -> np.ndarray:
    """A (224, 224, 3) RGB image with a coloured dot at each marker joint's projection."""
    img = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), background, np.uint8)
    uvw = xyz @ K.T
    uv = uvw[:, :2] / uvw[:, 2:]
    for j, colour in zip(MARKERS, MARKER_COLOURS, strict=True):
        centre = (int(round(uv[j, 0] * 16)), int(round(uv[j, 1] * 16)))
        cv2.circle(img, centre, radius * 16, tuple(int(c) for c in colour), -1, cv2.LINE_AA, shift=4)
    return img


def write_tiny_freihand(
    root: Path, n_train: int = 6, n_eval: int = 4, versions: int = 4, masks: bool = True, seed: int = 0
) -> TinyFreiHAND:
    rng = np.random.default_rng(seed)
    train, ev = make_annotations(rng, n_train), make_annotations(rng, n_eval)
    tr_images, tr_ids = [], []
    for k in range(versions):
        for i in range(n_train):
            tr_images.append(draw_markers(train["K"][i], train["xyz"][i], background=40 + 10 * k))
            tr_ids.append(i + n_train * k)
    tr_masks = (
        [
            np.where(draw_markers(train["K"][i], train["xyz"][i]).max(-1) > 100, 255, 0).astype(np.uint8)
            for i in range(n_train)
        ]
        if masks
        else None
    )
    write_freihand_split(root, "training", **train, images=tr_images, image_ids=tr_ids, masks=tr_masks)
    ev_images = [draw_markers(ev["K"][i], ev["xyz"][i]) for i in range(n_eval)]
    write_freihand_split(root, "evaluation", **ev, images=ev_images)
    return TinyFreiHAND(root, n_train, n_eval, versions, train, ev)


@pytest.fixture
def tiny_freihand(tmp_path: Path) -> TinyFreiHAND:
    """6 training annotations x 4 versions with masks, 4 evaluation samples with ground truth."""
    return write_tiny_freihand(tmp_path / "freihand")


@pytest.fixture
def make_tiny_freihand():
    """The writer itself, for tests that need another size or a single image version."""
    return write_tiny_freihand
