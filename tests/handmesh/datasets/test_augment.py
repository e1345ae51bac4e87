"""Augmentation keeps image and 3D targets consistent: the dots drawn at the keypoints are found where the augmented
targets project, and ``uv == project(xyz, K)`` after every transform."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from handmesh.datasets.augment import (
    AugmentParams,
    add_occluders,
    color_augment,
    crop_transform,
    rotate_global_orient,
)
from handmesh.datasets.freihand import IMAGENET_MEAN, IMAGENET_STD, FreiHANDDataset
from handmesh.geometry.projection import project_pinhole as project

GEOMETRY_ONLY = AugmentParams(
    scale=0.25, rotation_deg=180.0, translation=0.1, color_jitter=0.0, blur_prob=0.0, occlusion_prob=0.0
)


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    rgb = image.numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)


def _find_dot(image: np.ndarray, colour: np.ndarray) -> np.ndarray | None:
    """Centroid (x, y) of pixels close to ``colour``, weighted by closeness; None if too few pixels."""
    dist = np.linalg.norm(image.astype(np.float64) - colour.astype(np.float64), axis=-1)
    weight = np.clip(1.0 - dist / 120.0, 0.0, None)
    if (weight > 0.5).sum() < 8:
        return None
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


@pytest.mark.parametrize("input_size", [224, 160])
def test_dots_land_on_augmented_keypoints(tiny_freihand, input_size: int) -> None:
    ds = FreiHANDDataset(
        tiny_freihand.root, "training", versions=["gs"], augment=GEOMETRY_ONLY, input_size=input_size, cache_dir=False
    )
    checked = 0
    for i in range(len(ds)):
        for seed in range(4):
            s = ds.get_sample(i, np.random.default_rng(seed))
            image = _to_uint8(s["image"])
            uv = s["uv"].numpy()
            for j, colour in zip(tiny_freihand.markers, tiny_freihand.marker_colours, strict=True):
                margin = 8 * input_size / 224
                if not (margin <= uv[j]).all() or not (uv[j] <= input_size - 1 - margin).all():
                    continue  # the dot is cut by the crop border
                found = _find_dot(image, colour)
                assert found is not None, f"dot {j} not found in sample {i}, seed {seed}"
                np.testing.assert_allclose(found, uv[j], atol=0.75, err_msg=f"sample {i} seed {seed} joint {j}")
                checked += 1
    assert checked > 60


def test_uv_is_projection_of_xyz_after_augmentation(tiny_freihand) -> None:
    ds = FreiHANDDataset(tiny_freihand.root, "training", augment=AugmentParams(), cache_dir=False)
    for i in range(0, len(ds), 3):
        s = ds.get_sample(i, np.random.default_rng(i))
        xyz, K, uv = (s[k].double().numpy() for k in ("xyz", "K", "uv"))
        np.testing.assert_allclose(project(xyz, K), uv, atol=1e-3)
        # The crop affine maps original projections to crop projections, for keypoints and vertices alike.
        idx = int(s["index"])
        A = s["crop_affine"].double().numpy()
        for orig, aug in (
            (tiny_freihand.train["xyz"][idx], xyz),
            (tiny_freihand.train["verts"][idx], s["verts"].double().numpy()),
        ):
            uv0 = project(orig, tiny_freihand.train["K"][idx])
            np.testing.assert_allclose(uv0 @ A[:, :2].T + A[:, 2], project(aug, K), atol=2e-3)
        # Rotation about the optical axis keeps depth and distances.
        np.testing.assert_allclose(xyz[:, 2], tiny_freihand.train["xyz"][idx][:, 2], atol=1e-6)


def test_identity_crop_is_identity() -> None:
    K = np.array([[500.0, 0, 110], [0, 480.0, 117], [0, 0, 1]])
    tf = crop_transform(K, (224, 224), 224)
    np.testing.assert_allclose(tf.affine, [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(tf.K, K, atol=1e-12)
    np.testing.assert_allclose(tf.rotation, np.eye(3), atol=1e-12)


def test_rotation_about_principal_point_for_square_pixels() -> None:
    K = np.array([[500.0, 0, 100], [0, 500.0, 120], [0, 0, 1]])
    a = math.radians(30)
    tf = crop_transform(K, (224, 224), 224, rotation=a, center=(100, 120))
    # The box centre is the principal point, so it stays at the crop centre and K is unchanged.
    np.testing.assert_allclose(tf.affine @ [100, 120, 1], [111.5, 111.5], atol=1e-9)
    np.testing.assert_allclose(tf.affine[:, :2], [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], atol=1e-12)
    np.testing.assert_allclose(tf.K[:2, :2], K[:2, :2], atol=1e-12)


def test_global_orientation_rotated_fingers_untouched(tiny_freihand) -> None:
    ds = FreiHANDDataset(tiny_freihand.root, "evaluation", augment=GEOMETRY_ONLY, cache_dir=False)
    s = ds.get_sample(1, np.random.default_rng(3))
    orig = tiny_freihand.evaluation["mano"][1]
    pose = s["mano_pose"].double().numpy()
    # Rz is recovered from how the keypoints moved (rotation about z keeps z).
    xyz0, xyz1 = tiny_freihand.evaluation["xyz"][1], s["xyz"].double().numpy()
    (x0, y0), (x1, y1) = xyz0[0, :2], xyz1[0, :2]
    angle = math.atan2(x0 * y1 - y0 * x1, x0 * x1 + y0 * y1)
    rz = cv2.Rodrigues(np.array([0.0, 0.0, angle]))[0]
    np.testing.assert_allclose(cv2.Rodrigues(pose[:3])[0], rz @ cv2.Rodrigues(orig[:3])[0], atol=1e-5)
    np.testing.assert_allclose(pose[3:], orig[3:48], atol=1e-6)
    np.testing.assert_allclose(s["mano_shape"].double().numpy(), orig[48:58], atol=1e-6)


def test_rotate_global_orient_composes() -> None:
    tf = crop_transform(np.diag([500.0, 500.0, 1.0]), (224, 224), 224, rotation=0.7)
    aa = np.array([0.3, -1.2, 2.0])
    r = cv2.Rodrigues(rotate_global_orient(aa, tf))[0]
    np.testing.assert_allclose(r, tf.rotation @ cv2.Rodrigues(aa)[0], atol=1e-12)


def test_colour_changes_pixels_not_targets(tiny_freihand) -> None:
    colour = AugmentParams(color_jitter=0.4, blur_prob=1.0, occlusion_prob=1.0)
    plain = AugmentParams(color_jitter=0.0, blur_prob=0.0, occlusion_prob=0.0)
    a = FreiHANDDataset(tiny_freihand.root, "training", augment=colour, cache_dir=False)
    b = FreiHANDDataset(tiny_freihand.root, "training", augment=plain, cache_dir=False)
    sa, sb = a.get_sample(2, np.random.default_rng(7)), b.get_sample(2, np.random.default_rng(7))
    for key in ("K", "xyz", "uv", "verts", "crop_affine", "mano_pose"):
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)
    assert (sa["image"] - sb["image"]).abs().mean() > 0.05


def test_blur_and_occluders() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    blurred = color_augment(img, rng, AugmentParams(color_jitter=0.0, blur_prob=1.0))
    assert blurred.dtype == np.uint8 and blurred.shape == img.shape
    assert cv2.Laplacian(blurred, cv2.CV_64F).var() < 0.5 * cv2.Laplacian(img, cv2.CV_64F).var()
    occluded = add_occluders(img, rng, AugmentParams(occlusion_prob=1.0))
    assert occluded.shape == img.shape and (occluded != img).any(axis=-1).mean() > 0.005
    assert add_occluders(img, rng, AugmentParams(occlusion_prob=0.0)) is img


def test_training_augmentation_reproducible_under_torch_seed(tiny_freihand) -> None:
    ds = FreiHANDDataset(tiny_freihand.root, "train", augment=AugmentParams(), cache_dir=False)
    torch.manual_seed(5)
    first = ds[0]
    torch.manual_seed(5)
    again = ds[0]
    torch.testing.assert_close(first["image"], again["image"], rtol=0, atol=0)
    torch.testing.assert_close(first["uv"], again["uv"], rtol=0, atol=0)
