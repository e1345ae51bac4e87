"""Crop geometry: boxes, the affine and its inverse, mirroring of left hands, crop intrinsics, warping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from handmesh.crop import (
    DEFAULT_EXPAND,
    box_from_keypoints,
    crop_box_from_detection,
    crop_detection,
    flip_faces,
    make_crop,
    mirror_axis_angle,
    mirror_points,
    mirror_rotation_matrices,
    square_box,
)
from handmesh.detection import HandDetection
from handmesh.geometry.camera_solve import default_intrinsics, translation_from_crop
from handmesh.geometry.rotations import axis_angle_to_matrix

RNG = np.random.default_rng(7)


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


def hand_points(n: int = 21) -> np.ndarray:
    """A hand-sized cloud (about 18 cm across), root (point 0) at the origin."""
    p = RNG.uniform(-0.09, 0.09, (n, 3)) * (1.0, 1.0, 0.3)
    return p - p[:1]


# ------------------------------------------------------------------------------------------------------ boxes
def test_square_box_keeps_centre_and_expands_longer_side() -> None:
    box = square_box(np.array([10.0, 20.0, 50.0, 40.0]), expand=1.5)
    np.testing.assert_allclose(box, [0.0, 0.0, 60.0, 60.0])
    np.testing.assert_allclose(square_box(np.array([5.0, 5.0, 5.0, 5.0])), [4.5, 4.5, 5.5, 5.5])  # min side 1


def test_crop_box_from_detection_uses_keypoints_then_box() -> None:
    kp = RNG.uniform(100, 200, (21, 2))
    det = HandDetection(np.array([0, 0, 640, 480]), "right", 0.9, keypoints2d=kp)
    tight = box_from_keypoints(kp)
    np.testing.assert_allclose(crop_box_from_detection(det), square_box(tight, DEFAULT_EXPAND))
    det_box = HandDetection(np.array([100, 100, 200, 300]), "right", 1.0)
    np.testing.assert_allclose(crop_box_from_detection(det_box), [50, 100, 250, 300])
    np.testing.assert_allclose(crop_box_from_detection(det_box, box_expand=2.0), [-50, 0, 350, 400])
    valid = np.zeros(21, bool)
    valid[:2] = True
    np.testing.assert_allclose(box_from_keypoints(kp, valid), [*kp[:2].min(0), *kp[:2].max(0)])


# ----------------------------------------------------------------------------------------------------- affine
@pytest.mark.parametrize("mirror", [False, True])
def test_box_edges_map_to_crop_edges_and_back_exactly(mirror: bool) -> None:
    box = np.array([123.4, 56.7, 323.4, 256.7])
    crop = make_crop(box, 224, mirror=mirror)
    corners = crop.to_crop(np.array([[box[0], box[1]], [box[2], box[3]]]))
    left, right = (223.5, -0.5) if mirror else (-0.5, 223.5)
    np.testing.assert_allclose(corners, [[left, -0.5], [right, 223.5]], atol=1e-10)
    pts = RNG.uniform(-100, 700, (50, 2))
    np.testing.assert_allclose(crop.to_frame(crop.to_crop(pts)), pts, atol=1e-9)
    np.testing.assert_allclose(crop.matrix @ np.vstack([crop.inverse_affine, [0, 0, 1]]), np.eye(3), atol=1e-12)
    assert crop.scale == pytest.approx(224 / 200)


def test_mirroring_is_a_left_right_flip_of_the_crop() -> None:
    frame = RNG.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    box = np.array([200.3, 100.2, 420.3, 320.2])
    plain = make_crop(box, 224).warp(frame)
    mirrored = make_crop(box, 224, mirror=True).warp(frame)
    diff = np.abs(mirrored.astype(int) - plain[:, ::-1].astype(int))
    assert diff.max() <= 1  # OpenCV's fixed-point interpolation may round the other way


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("side", [80.0, 224.0, 500.0])
def test_a_point_drawn_in_the_frame_lands_at_the_predicted_crop_pixel(mirror: bool, side: float) -> None:
    h, w = 480, 640
    point = np.array([301.3, 207.8])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    sigma = side / 40.0  # a blob a few crop pixels wide at every scale
    blob = np.exp(-((xs - point[0]) ** 2 + (ys - point[1]) ** 2) / (2 * sigma**2))
    frame = np.rint(blob * 255).astype(np.uint8)
    centre = point + RNG.uniform(-0.2, 0.2, 2) * side
    crop = make_crop(np.array([*(centre - side / 2), *(centre + side / 2)]), 224, mirror=mirror)
    img = crop.warp(frame).astype(np.float64)
    vs, us = np.mgrid[0:224, 0:224]
    found = np.array([(img * us).sum(), (img * vs).sum()]) / img.sum()
    np.testing.assert_allclose(found, crop.to_crop(point), atol=0.15)


def test_large_downscale_area_averages() -> None:
    # A one-pixel checkerboard averages to mid-grey; a plain bilinear warp at 1/10 scale would alias.
    frame = ((np.indices((2240, 2240)).sum(0) % 2) * 255).astype(np.uint8)
    crop = make_crop(np.array([-0.5, -0.5, 2239.5, 2239.5]), 224)
    out = crop.warp(frame)
    assert out.shape == (224, 224)
    ref = cv2.resize(frame, (224, 224), interpolation=cv2.INTER_AREA)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    assert abs(out.mean() - 127.5) < 1.0 and out.std() < 1.0


@pytest.mark.parametrize("side", [100.0, 3000.0])
def test_boxes_outside_the_frame_are_filled(side: float) -> None:
    n = int(side * 1.2)
    frame = np.full((n, n, 3), 200, np.uint8)
    half_out = make_crop(np.array([-side / 2, 0, side / 2, side]), 64).warp(frame)  # left half outside
    assert half_out[:, :30].max() == 0 and half_out[:, 34:].min() == 200
    gone = make_crop(np.array([5000, 5000, 5000 + side, 5000 + side]), 64).warp(frame)
    assert gone.shape == (64, 64, 3) and gone.max() == 0


# ------------------------------------------------------------------------------------------------- intrinsics
@pytest.mark.parametrize("mirror", [False, True])
def test_crop_intrinsics_see_the_crop(mirror: bool) -> None:
    K = default_intrinsics(640, 480)
    points = hand_points() + (0.05, -0.03, 0.5)
    uv = project(points, K)
    crop = make_crop(square_box(box_from_keypoints(uv), 1.5), 224, mirror=mirror)
    K_crop = crop.intrinsics(K)
    assert K_crop[0, 0] > 0 and K_crop[1, 1] > 0 and K_crop[0, 1] == 0
    seen = mirror_points(points) if mirror else points  # the mirrored crop shows the mirrored world
    np.testing.assert_allclose(project(seen, K_crop), crop.to_crop(uv), atol=1e-9)


# -------------------------------------------------------------------------------------------------- mirroring
def test_mirror_crop_round_trip_recovers_points_and_translation() -> None:
    """A left hand: crop (mirrored) -> what a network predicts there -> un-mirror -> the original hand."""
    K = default_intrinsics(640, 480)
    points = hand_points()
    t = np.array([-0.08, 0.02, 0.45])
    uv = project(points + t, K)
    det = HandDetection(np.zeros(4), "left", 0.9, keypoints2d=uv)
    _, crop = crop_detection(np.zeros((480, 640, 3), np.uint8), det)
    assert crop.mirrored
    # In the crop, the network sees a right hand: the mirrored points, at the mirrored crop pixels.
    pred_points, pred_uv = mirror_points(points), crop.to_crop(uv)
    K_crop = crop.intrinsics(K)
    np.testing.assert_allclose(project(pred_points + mirror_points(t), K_crop), pred_uv, atol=1e-9)
    np.testing.assert_allclose(mirror_points(pred_points), points, atol=0)
    np.testing.assert_allclose(crop.to_frame(pred_uv), uv, atol=1e-9)
    t_hat = translation_from_crop(pred_points[None], pred_uv[None], [crop], K)[0]
    np.testing.assert_allclose(t_hat, t, atol=1e-9)


def test_mirrored_rotations_round_trip_and_match_axis_angle() -> None:
    aa = torch.tensor(RNG.normal(size=(16, 3)), dtype=torch.float64)
    R = axis_angle_to_matrix(aa)
    R_m = mirror_rotation_matrices(R)
    torch.testing.assert_close(torch.linalg.det(R_m), torch.ones(16, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(mirror_rotation_matrices(R_m), R, rtol=0, atol=0)
    torch.testing.assert_close(axis_angle_to_matrix(mirror_axis_angle(aa)), R_m, rtol=0, atol=1e-12)
    torch.testing.assert_close(mirror_axis_angle(aa.reshape(1, 48)), mirror_axis_angle(aa).reshape(1, 48))
    # Mirroring a rotated point set equals rotating the mirrored set by the mirrored rotation: M R p = (M R M) M p.
    p = torch.tensor(hand_points(), dtype=torch.float64)
    torch.testing.assert_close(mirror_points(p @ R[0].T), mirror_points(p) @ R_m[0].T, rtol=0, atol=1e-12)
    # numpy gives the same numbers.
    np.testing.assert_allclose(mirror_rotation_matrices(R.numpy()), R_m.numpy(), atol=0)
    np.testing.assert_allclose(mirror_axis_angle(aa.numpy()), mirror_axis_angle(aa).numpy(), atol=0)
    with pytest.raises(ValueError, match="multiple of 3"):
        mirror_axis_angle(np.zeros(4))


def test_flipped_faces_stay_outward_after_mirroring() -> None:
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64) + (0.3, 0.2, 0.1)
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])  # outward for this tetrahedron

    def outward(v: np.ndarray, f: np.ndarray) -> bool:
        a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        normals = np.cross(b - a, c - a)
        return bool(np.all(np.sum(normals * ((a + b + c) / 3 - v.mean(0)), axis=1) > 0))

    assert outward(verts, faces)
    assert not outward(mirror_points(verts), faces)
    assert outward(mirror_points(verts), flip_faces(faces))
    assert torch.equal(flip_faces(torch.tensor(faces)), torch.tensor(flip_faces(faces)))


def test_crop_detection_mirrors_only_left_hands() -> None:
    frame = RNG.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    kp = RNG.uniform(200, 300, (21, 2))
    right_img, right = crop_detection(frame, HandDetection(np.zeros(4), "right", 1.0, keypoints2d=kp))
    left_img, left = crop_detection(frame, HandDetection(np.zeros(4), "left", 1.0, keypoints2d=kp))
    _, unmirrored = crop_detection(frame, HandDetection(np.zeros(4), "left", 1.0, keypoints2d=kp), mirror_left=False)
    assert not right.mirrored and left.mirrored and not unmirrored.mirrored
    assert right_img.shape == (224, 224, 3)
    assert np.abs(left_img.astype(int) - right_img[:, ::-1].astype(int)).max() <= 1
