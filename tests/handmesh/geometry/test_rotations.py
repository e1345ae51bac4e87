"""Rotation conversions: round trips, known rotations, agreement with scipy and smplx, finite gradients at 0 and pi."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from handmesh.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    quaternion_to_axis_angle,
    rot6d_to_matrix,
)


def _random_axis_angle(n: int, max_angle: float = math.pi * 0.999, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)
    angle = torch.rand(n, 1, generator=g, dtype=torch.float64) * max_angle
    return axis * angle


def test_known_rotation_quarter_turn_about_z() -> None:
    R = axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2]))
    # Right-hand rule: +x goes to +y, +y goes to -x.
    torch.testing.assert_close(R @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(R @ torch.tensor([0.0, 1.0, 0.0]), torch.tensor([-1.0, 0.0, 0.0]), atol=1e-6, rtol=0)


def test_zero_is_identity() -> None:
    torch.testing.assert_close(axis_angle_to_matrix(torch.zeros(4, 3)), torch.eye(3).expand(4, 3, 3))
    torch.testing.assert_close(matrix_to_axis_angle(torch.eye(3).expand(2, 5, 3, 3)), torch.zeros(2, 5, 3))


def test_axis_angle_matches_scipy() -> None:
    aa = _random_axis_angle(200)
    expected = torch.from_numpy(Rotation.from_rotvec(aa.numpy()).as_matrix())
    torch.testing.assert_close(axis_angle_to_matrix(aa), expected, atol=1e-12, rtol=0)


def test_axis_angle_matches_smplx_rodrigues() -> None:
    from smplx.lbs import batch_rodrigues

    aa = _random_axis_angle(100).float()
    torch.testing.assert_close(axis_angle_to_matrix(aa), batch_rodrigues(aa), atol=1e-5, rtol=0)


def test_round_trip_axis_angle_matrix() -> None:
    aa = _random_axis_angle(500).reshape(5, 100, 3)  # extra leading dims
    back = matrix_to_axis_angle(axis_angle_to_matrix(aa))
    torch.testing.assert_close(back, aa, atol=1e-9, rtol=0)


@pytest.mark.parametrize("angle", [math.pi, math.pi - 1e-7, math.pi - 1e-4])
def test_round_trip_near_pi(angle: float) -> None:
    axis = torch.nn.functional.normalize(torch.tensor([[0.3, -0.5, 0.8], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]), dim=-1)
    aa = (axis * angle).double()
    R = axis_angle_to_matrix(aa)
    back = matrix_to_axis_angle(R)
    # aa and -aa are the same rotation at pi: compare the matrices, and the angle itself.
    torch.testing.assert_close(axis_angle_to_matrix(back), R, atol=1e-7, rtol=0)
    torch.testing.assert_close(back.norm(dim=-1), torch.full((3,), angle, dtype=torch.float64), atol=1e-6, rtol=0)


def test_quaternion_convention_scalar_first_nonnegative() -> None:
    aa = _random_axis_angle(50)
    q = matrix_to_quaternion(axis_angle_to_matrix(aa))
    expected = torch.from_numpy(Rotation.from_rotvec(aa.numpy()).as_quat())  # scipy: (x, y, z, w)
    expected = torch.cat([expected[:, 3:], expected[:, :3]], dim=-1)
    expected = torch.where(expected[:, :1] < 0, -expected, expected)
    torch.testing.assert_close(q, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(quaternion_to_axis_angle(-q), aa, atol=1e-10, rtol=0)


def test_gradients_finite_at_zero() -> None:
    aa = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(aa).sum().backward()
    assert aa.grad is not None and torch.isfinite(aa.grad).all()
    # d(R v)/d(aa) at 0 is -[v]_x: check one column numerically against the analytic value.
    aa2 = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    (axis_angle_to_matrix(aa2) @ torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))[1].backward()
    torch.testing.assert_close(aa2.grad, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))

    R = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1).requires_grad_(True)
    matrix_to_axis_angle(R).sum().backward()
    assert R.grad is not None and torch.isfinite(R.grad).all()


def test_gradients_finite_near_pi() -> None:
    aa = (torch.tensor([[0.0, 0.0, 1.0], [0.6, 0.8, 0.0]], dtype=torch.float64) * (math.pi - 1e-6)).requires_grad_()
    matrix_to_axis_angle(axis_angle_to_matrix(aa)).sum().backward()
    assert aa.grad is not None and torch.isfinite(aa.grad).all()


def test_gradcheck() -> None:
    aa = (_random_axis_angle(4, max_angle=2.5, seed=3)).requires_grad_()
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (aa,))
    tiny = (torch.randn(3, 3, dtype=torch.float64) * 1e-5).requires_grad_()
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (tiny,))
    R = axis_angle_to_matrix(_random_axis_angle(4, max_angle=2.5, seed=4)).detach().requires_grad_()
    assert torch.autograd.gradcheck(matrix_to_axis_angle, (R,))
    x = torch.randn(4, 6, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(rot6d_to_matrix, (x,))


def test_rot6d_columns_and_round_trip() -> None:
    R = axis_angle_to_matrix(_random_axis_angle(100))
    x = matrix_to_rot6d(R)
    torch.testing.assert_close(x[:, 0:3], R[:, :, 0])  # first column
    torch.testing.assert_close(x[:, 3:6], R[:, :, 1])  # second column
    torch.testing.assert_close(rot6d_to_matrix(x), R, atol=1e-12, rtol=0)


def test_rot6d_of_arbitrary_input_is_a_rotation() -> None:
    x = torch.randn(2, 64, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    R = rot6d_to_matrix(x)
    eye = torch.eye(3, dtype=torch.float64).expand(2, 64, 3, 3)
    torch.testing.assert_close(R.transpose(-1, -2) @ R, eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(2, 64, dtype=torch.float64), atol=1e-12, rtol=0)
    # Gram-Schmidt keeps the direction of the first vector.
    torch.testing.assert_close(R[..., :, 0], torch.nn.functional.normalize(x[..., 0:3], dim=-1))


@pytest.mark.parametrize(
    ("fn", "bad"),
    [
        (axis_angle_to_matrix, torch.zeros(2, 4)),
        (matrix_to_axis_angle, torch.zeros(2, 3, 4)),
        (rot6d_to_matrix, torch.zeros(2, 5)),
        (matrix_to_rot6d, torch.zeros(3, 3, 2)),
    ],
)
def test_bad_shapes_raise(fn, bad: torch.Tensor) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="expected shape"):
        fn(bad)


def test_float32_round_trip_precision() -> None:
    aa = _random_axis_angle(1000, seed=7).float()
    back = matrix_to_axis_angle(axis_angle_to_matrix(aa))
    err = (axis_angle_to_matrix(back) - axis_angle_to_matrix(aa)).abs().max().item()
    assert err < 1e-5, err
    assert np.isfinite(back.numpy()).all()
