"""Left hands: the mirrored model reproduces the mirrored right output; MANO's left shapedirs are fixed; faces stay
wound outward on both sides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.geometry.rotations import axis_angle_to_matrix
from handmesh.hand_model.build import build_hand_model
from handmesh.hand_model.mano_pickle import load_mano_pickle, read_mano_pickle
from handmesh.hand_model.mirror import (
    flip_face_winding,
    mirror_axis_angle,
    mirror_model_arrays,
    mirror_points,
    mirror_rotation_matrix,
)
from handmesh.hand_model.model import HandModel
from handmesh.hand_model.model_file import HandModelArrays, write_model_file
from handmesh.hand_model.winding import signed_volume
from handmesh.testing.mano_standin import standin_closed_faces, write_mano_style_pickle

ATOL = 2e-6


def _params(B: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    return (
        torch.randn(B, 3, generator=g) * 0.6,
        torch.randn(B, 45, generator=g) * 0.4,
        torch.randn(B, 10, generator=g),
        torch.randn(B, 3, generator=g) * 0.1,
    )


def _assert_mirrored(right: HandModel, left: HandModel, pca: bool = False) -> None:
    go, hp, betas, t = _params(3)
    if pca:
        hp = hp[:, : right.num_pca_comps]  # PCA coefficients are shared: the basis itself is mirrored
        hp_left = hp
    else:
        hp_left = mirror_axis_angle(hp)
    r = right(go, hp, betas, t)
    lo = left(mirror_axis_angle(go), hp_left, betas, mirror_points(t))
    torch.testing.assert_close(lo.vertices, mirror_points(r.vertices), atol=ATOL, rtol=0)
    torch.testing.assert_close(lo.joints, mirror_points(r.joints), atol=ATOL, rtol=0)
    assert left.is_right is False and lo.is_right is False


@pytest.mark.parametrize("flat_hand_mean", [False, True])
def test_left_output_is_the_mirrored_right_output(right_arrays: HandModelArrays, flat_hand_mean: bool) -> None:
    left_arrays = mirror_model_arrays(right_arrays)
    _assert_mirrored(
        HandModel(right_arrays, flat_hand_mean=flat_hand_mean), HandModel(left_arrays, flat_hand_mean=flat_hand_mean)
    )


def test_left_pca_coefficients_mirror_through_the_basis(right_arrays: HandModelArrays) -> None:
    right = HandModel(right_arrays, use_pca=True, num_pca_comps=10)
    left = HandModel(mirror_model_arrays(right_arrays), use_pca=True, num_pca_comps=10)
    _assert_mirrored(right, left, pca=True)


def test_mirrored_rotation_matrices_as_input(right_arrays: HandModelArrays) -> None:
    right, left = HandModel(right_arrays), HandModel(mirror_model_arrays(right_arrays))
    go, hp, betas, _ = _params(2)
    R = axis_angle_to_matrix(torch.cat([go, hp + right.hands_mean], 1).reshape(2, 16, 3))
    Rl = mirror_rotation_matrix(R)
    torch.testing.assert_close(
        Rl,
        axis_angle_to_matrix(mirror_axis_angle(torch.cat([go, hp + right.hands_mean], 1)).reshape(2, 16, 3)),
        atol=1e-6,
        rtol=0,
    )
    r, lo = right(R[:, 0], R[:, 1:], betas), left(Rl[:, 0], Rl[:, 1:], betas)
    torch.testing.assert_close(lo.vertices, mirror_points(r.vertices), atol=ATOL, rtol=0)


def test_mirroring_twice_is_the_identity(right_arrays: HandModelArrays) -> None:
    back = mirror_model_arrays(mirror_model_arrays(right_arrays))
    for key in ("v_template", "shapedirs", "posedirs", "faces", "hands_mean", "hands_components"):
        np.testing.assert_array_equal(getattr(back, key), getattr(right_arrays, key), err_msg=key)
    assert back.is_right


def test_mano_left_file_shapedirs_are_fixed(mano_dir: Path, right_arrays: HandModelArrays) -> None:
    """The left fixture is the mirror image with the official file's unmirrored shapedirs: after loading it must
    be exactly the mirror model, so equal betas give mirror-image hands."""
    left = load_mano_pickle(mano_dir / "MANO_LEFT.pkl")
    expected = mirror_model_arrays(right_arrays)
    np.testing.assert_allclose(left.shapedirs, expected.shapedirs, rtol=0, atol=1e-8)
    np.testing.assert_allclose(left.shapedirs[:, 0], -right_arrays.shapedirs[:, 0], rtol=0, atol=1e-8)
    _assert_mirrored(HandModel(right_arrays), HandModel(left))
    # Without the fix the mirror property fails for nonzero betas: the test above can tell.
    unfixed = load_mano_pickle(mano_dir / "MANO_LEFT.pkl", fix_left=False)
    with pytest.raises(AssertionError):
        _assert_mirrored(HandModel(right_arrays), HandModel(unfixed))


def test_left_fix_checks_against_the_right_model(tmp_path: Path, mano_dir: Path, right_arrays: HandModelArrays) -> None:
    """A left file whose shapedirs were fixed already is left alone when the right model is at hand."""
    fixed_left = load_mano_pickle(mano_dir / "MANO_LEFT.pkl")
    data = {
        "v_template": fixed_left.v_template,
        "f": fixed_left.faces,
        "shapedirs": fixed_left.shapedirs,
        "posedirs": fixed_left.posedirs,
        "J_regressor": fixed_left.J_regressor,
        "weights": fixed_left.weights,
        "kintree_table": np.stack([np.r_[4294967295, fixed_left.parents[1:].astype(np.int64)], np.arange(16)]),
        "hands_components": fixed_left.hands_components,
        "hands_mean": fixed_left.hands_mean,
    }
    write_mano_style_pickle(tmp_path / "MANO_LEFT.pkl", data)
    write_model_file(tmp_path / "MANO_RIGHT.npz", right_arrays)
    again = load_mano_pickle(tmp_path / "MANO_LEFT.pkl")  # finds MANO_RIGHT.npz beside it
    np.testing.assert_allclose(again.shapedirs, fixed_left.shapedirs, rtol=0, atol=1e-7)


def _outward(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per face: does its right-hand-rule normal point away from the mesh centroid?"""
    tri = vertices[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return np.einsum("ij,ij->i", normals, tri.mean(1) - vertices.mean(0)) > 0


def test_faces_wound_outward_on_both_sides(right_arrays: HandModelArrays) -> None:
    closed = standin_closed_faces()
    np.testing.assert_array_equal(closed[:1538], right_arrays.faces)  # the open MANO-format faces are a prefix
    v = right_arrays.v_template.astype(np.float64)
    assert signed_volume(v, closed) > 0
    assert _outward(v, closed).mean() > 0.95  # a flattened tube: a few faces near the tip may face the centroid
    left = mirror_model_arrays(right_arrays)
    v_left = left.v_template.astype(np.float64)
    closed_left = flip_face_winding(closed)
    np.testing.assert_array_equal(closed_left[:1538], left.faces)
    assert signed_volume(v_left, closed_left) > 0
    assert _outward(v_left, closed_left).mean() > 0.95
    # And posed: winding is a property of the topology, it survives skinning.
    out_l = HandModel(left)(torch.zeros(1, 3), torch.zeros(1, 45), torch.zeros(1, 10))
    assert signed_volume(out_l.vertices[0].numpy().astype(np.float64), closed_left) > 0


@pytest.mark.parametrize("side", ["right", "left"])
def test_open_hand_asset_mirror_and_winding(side: str) -> None:
    from handmesh.hand_model.build import _ASSETS, OPEN_HAND_ASSET

    if not (_ASSETS / OPEN_HAND_ASSET).is_file():
        pytest.skip("the open hand asset (handmesh/assets/open_hand_right.npz) is not built yet")
    model = build_hand_model("open", side)
    assert model.is_right == (side == "right") and model.name == "open" and model.num_vertices == 778
    v = model.v_template.numpy().astype(np.float64)
    assert signed_volume(v, model.faces.numpy()) > 0
    if side == "left":
        _assert_mirrored(build_hand_model("open", "right"), model)


@pytest.mark.parametrize("side", ["RIGHT", "LEFT"])
def test_inward_faces_in_a_mano_file_are_rewound(tmp_path: Path, mano_dir: Path, side: str) -> None:
    """A left file that mirrored the vertices but kept the right faces would face inward: loading rewinds it."""
    good = load_mano_pickle(mano_dir / f"MANO_{side}.pkl")
    data = read_mano_pickle(mano_dir / f"MANO_{side}.pkl")
    data["f"] = flip_face_winding(np.asarray(data["f"]))  # inward
    write_mano_style_pickle(tmp_path / f"MANO_{side}.pkl", data)
    loaded = load_mano_pickle(tmp_path / f"MANO_{side}.pkl", right_reference=mano_dir / "MANO_RIGHT.pkl")
    np.testing.assert_array_equal(loaded.faces, good.faces)
    assert signed_volume(loaded.v_template, loaded.faces) > 0
