"""HandModel: parity with smplx's own MANO layer, pose conventions, finger locality, keypoints and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.geometry.rotations import axis_angle_to_matrix, matrix_to_rot6d, rot6d_to_matrix
from handmesh.hand_model.keypoints import FINGER_JOINTS_16, JOINT_NAMES_21
from handmesh.hand_model.mano_pickle import load_mano_pickle
from handmesh.hand_model.model import HandModel, HandOutput
from handmesh.hand_model.model_file import HandModelArrays
from handmesh.testing.mano_standin import standin_finger_vertices

ATOL = 1e-5  # metres: float32 round-off of two LBS implementations on a 0.2 m hand


def _params(B: int, seed: int = 0, scale: float = 0.4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    go = torch.randn(B, 3, generator=g) * scale
    return go, torch.randn(B, 45, generator=g) * scale, torch.randn(B, 10, generator=g)


@pytest.fixture(scope="module")
def smplx_mano(plain_mano_dir: Path):  # type: ignore[no-untyped-def]
    smplx = pytest.importorskip("smplx")

    def make(**kw):  # type: ignore[no-untyped-def]
        return smplx.MANO(str(plain_mano_dir / "MANO_RIGHT.pkl"), is_rhand=True, **kw)

    return make


@pytest.mark.parametrize("flat_hand_mean", [False, True])
def test_vertices_equal_smplx_mano(mano_dir: Path, smplx_mano, flat_hand_mean: bool) -> None:  # type: ignore
    ours = HandModel(load_mano_pickle(mano_dir / "MANO_RIGHT.pkl"), flat_hand_mean=flat_hand_mean)
    ref = smplx_mano(use_pca=False, flat_hand_mean=flat_hand_mean)
    go, hp, betas = _params(4)
    transl = torch.tensor([[0.0, 0.0, 0.5]]).repeat(4, 1)
    out = ours(go, hp, betas, transl)
    expected = ref(global_orient=go, hand_pose=hp, betas=betas, transl=transl)
    torch.testing.assert_close(out.vertices, expected.vertices, atol=ATOL, rtol=0)
    torch.testing.assert_close(out.joints16, expected.joints, atol=ATOL, rtol=0)


@pytest.mark.parametrize("num_pca_comps", [6, 12, 45])
def test_pca_pose_equals_smplx(mano_dir: Path, smplx_mano, num_pca_comps: int) -> None:  # type: ignore[no-untyped-def]
    ours = HandModel(load_mano_pickle(mano_dir / "MANO_RIGHT.pkl"), use_pca=True, num_pca_comps=num_pca_comps)
    ref = smplx_mano(use_pca=True, num_pca_comps=num_pca_comps, flat_hand_mean=False)
    assert ours.use_pca == (num_pca_comps != 45)  # smplx switches PCA off at 45
    go, _, betas = _params(3)
    coeffs = torch.randn(3, num_pca_comps, generator=torch.Generator().manual_seed(5))
    out = ours(go, coeffs, betas)
    torch.testing.assert_close(
        out.vertices, ref(global_orient=go, hand_pose=coeffs, betas=betas).vertices, atol=ATOL, rtol=0
    )


def test_output_fields_and_shapes(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    out = model(*_params(2))
    assert isinstance(out, HandOutput)
    assert out.vertices.shape == (2, 778, 3) and out.joints.shape == (2, 21, 3) and out.joints16.shape == (2, 16, 3)
    assert out.faces.shape == (1538, 3) and out.faces.dtype == torch.long
    assert out.parents.tolist() == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
    assert out.is_right is True and model.is_right and model.name == "mano" and model.num_vertices == 778
    assert model.hands_mean.shape == (45,) and model.tip_vertex_ids.tolist() == [744, 320, 443, 555, 672]


def test_rest_joints_are_regressed_from_the_template(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays, flat_hand_mean=True)
    out = model(torch.zeros(1, 3), torch.zeros(1, 45), torch.zeros(1, 10))
    expected = torch.from_numpy(right_arrays.J_regressor @ right_arrays.v_template)[None]
    torch.testing.assert_close(out.joints16, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(out.vertices[0], torch.from_numpy(right_arrays.v_template), atol=1e-7, rtol=0)
    torch.testing.assert_close(model.rest_joints(), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("finger", ["index", "middle", "pinky", "ring", "thumb"])
@pytest.mark.parametrize("level", [0, 1, 2])
def test_bending_one_finger_joint_moves_only_that_finger(
    right_arrays: HandModelArrays, finger: str, level: int
) -> None:
    model = HandModel(right_arrays, flat_hand_mean=True)
    zeros = torch.zeros(1, 15, 3)
    rest = model(torch.zeros(1, 3), zeros, torch.zeros(1, 10))
    joint = FINGER_JOINTS_16[finger][level]
    bent = zeros.clone()
    bent[0, joint - 1] = torch.tensor([0.0, 0.0, 0.8])  # 46 degrees
    out = model(torch.zeros(1, 3), bent, torch.zeros(1, 10))
    moved = ((out.vertices - rest.vertices).norm(dim=-1)[0] > 1e-7).nonzero()[:, 0].numpy()
    assert moved.size > 0
    assert set(moved) <= set(standin_finger_vertices()[finger].tolist())
    # Joints: exactly the descendants of the bent joint move.
    moved_joints = set(((out.joints16 - rest.joints16).norm(dim=-1)[0] > 1e-7).nonzero()[:, 0].tolist())
    assert moved_joints == set(FINGER_JOINTS_16[finger][level + 1 :])


def test_axis_angle_offsets_vs_absolute_matrices(right_arrays: HandModelArrays) -> None:
    """flat_hand_mean=False adds hands_mean to axis-angle; matrices are absolute and get nothing added."""
    relative = HandModel(right_arrays, flat_hand_mean=False)
    flat = HandModel(right_arrays, flat_hand_mean=True)
    go, hp, betas = _params(3)
    absolute_aa = hp + relative.hands_mean
    a = relative(go, hp, betas)
    b = flat(go, absolute_aa, betas)
    R = axis_angle_to_matrix(absolute_aa.reshape(3, 15, 3))
    c = relative(axis_angle_to_matrix(go), R, betas)  # same result whatever flat_hand_mean says
    d = flat(axis_angle_to_matrix(go), R, betas)
    for other in (b, c, d):
        torch.testing.assert_close(other.vertices, a.vertices, atol=1e-6, rtol=0)
    # zeros: relative model -> the mean pose, flat model -> the flat hand
    z = relative(torch.zeros(1, 3), torch.zeros(1, 45), torch.zeros(1, 10))
    z_flat = flat(torch.zeros(1, 3), relative.hands_mean[None], torch.zeros(1, 10))
    torch.testing.assert_close(z.vertices, z_flat.vertices, atol=1e-6, rtol=0)


def test_rotation_matrices_from_a_6d_head(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    go, hp, betas = _params(2)
    R = axis_angle_to_matrix(torch.cat([go, hp + model.hands_mean], 1).reshape(2, 16, 3))
    x6 = matrix_to_rot6d(R).requires_grad_(True)  # what a 6D regression head outputs, (B, 16, 6)
    Rh = rot6d_to_matrix(x6)
    out = model(Rh[:, 0], Rh[:, 1:], betas)
    torch.testing.assert_close(out.vertices, model(go, hp, betas).vertices, atol=1e-6, rtol=0)
    out.vertices.sum().backward()
    assert x6.grad is not None and torch.isfinite(x6.grad).all() and x6.grad.abs().sum() > 0


def test_accepted_pose_forms_agree(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    go, hp, betas = _params(2)
    ref = model(go, hp, betas).vertices
    torch.testing.assert_close(model(go[:, None], hp.reshape(2, 15, 3), betas).vertices, ref)
    torch.testing.assert_close(model(axis_angle_to_matrix(go)[:, None], hp, betas).vertices, ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(model(go.double(), hp.double(), betas.double()).vertices, ref)  # cast to float32


def test_transl_shifts_everything(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    go, hp, betas = _params(2)
    t = torch.tensor([[0.1, -0.2, 0.6], [0.0, 0.0, 1.0]])
    a, b = model(go, hp, betas), model(go, hp, betas, t)
    torch.testing.assert_close(b.vertices, a.vertices + t[:, None])
    torch.testing.assert_close(b.joints, a.joints + t[:, None])


def test_21_keypoints_by_name(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    out = model(*_params(2))
    name = JOINT_NAMES_21.index
    tips = out.vertices[:, model.tip_vertex_ids]
    for i, tip in enumerate(("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")):
        torch.testing.assert_close(out.joints[:, name(tip)], tips[:, i])
    pairs = {
        "wrist": 0,
        "index_mcp": 1,
        "index_dip": 3,
        "middle_pip": 5,
        "pinky_mcp": 7,
        "ring_dip": 12,
        "thumb_cmc": 13,
        "thumb_ip": 15,
    }
    regressed = torch.einsum("jv,bvc->bjc", model.J_regressor, out.vertices)  # FreiHAND: on the posed mesh
    for joint_name, j16 in pairs.items():
        torch.testing.assert_close(out.joints[:, name(joint_name)], regressed[:, j16])
        # The skeleton's joints are the same points up to the mesh's non-rigid deformation (millimetres).
        assert float((out.joints[:, name(joint_name)] - out.joints16[:, j16]).norm(dim=-1).max()) < 0.01


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((torch.zeros(2, 4), torch.zeros(2, 45), torch.zeros(2, 10)), r"global_orient: expected shape \(B, 3\)"),
        ((torch.zeros(2, 3), torch.zeros(2, 44), torch.zeros(2, 10)), r"hand_pose: expected shape \(B, 45\)"),
        ((torch.zeros(2, 3), torch.zeros(2, 15, 3, 2), torch.zeros(2, 10)), r"hand_pose: expected shape"),
        ((torch.zeros(2, 3), torch.zeros(2, 45), torch.zeros(2, 16)), r"betas: expected shape \(B, 10\)"),
        ((torch.zeros(2, 3), torch.zeros(2, 45), torch.zeros(10)), r"betas: expected shape \(B, 10\)"),
        ((torch.zeros(3, 3), torch.zeros(2, 45), torch.zeros(2, 10)), r"global_orient: batch size 3"),
        ((torch.zeros(2, 3), torch.zeros(2, 45), torch.zeros(2, 10), torch.zeros(2, 2)), r"transl: expected shape"),
    ],
)
def test_bad_shapes_name_the_argument(right_arrays: HandModelArrays, args, pattern: str) -> None:  # type: ignore
    with pytest.raises(ValueError, match=pattern):
        HandModel(right_arrays)(*args)


def test_pca_shape_error_names_the_component_count(right_arrays: HandModelArrays) -> None:
    with pytest.raises(ValueError, match=r"hand_pose: with use_pca=True expected shape \(B, 6\)"):
        HandModel(right_arrays, use_pca=True)(torch.zeros(1, 3), torch.zeros(1, 45), torch.zeros(1, 10))
    with pytest.raises(ValueError, match="num_pca_comps"):
        HandModel(right_arrays, use_pca=True, num_pca_comps=0)


@pytest.mark.parametrize("which", ["global_orient", "hand_pose", "betas", "transl"])
def test_nan_parameters_raise(right_arrays: HandModelArrays, which: str) -> None:
    params = dict(zip(("global_orient", "hand_pose", "betas"), _params(2)))
    params["transl"] = torch.zeros(2, 3)
    params[which] = params[which].clone()
    params[which][1, 0] = float("nan")
    with pytest.raises(ValueError, match=f"{which} contains NaN"):
        HandModel(right_arrays)(**params)
    HandModel(right_arrays, check_inputs=False)(**params)  # opt-out: no check, NaN flows through


def test_gradients_reach_every_parameter(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    params = [p.clone().requires_grad_(True) for p in _params(2)] + [torch.zeros(2, 3, requires_grad=True)]
    out = model(*params)
    (out.vertices.square().sum() + out.joints.sum()).backward()
    for p in params:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # At the flat pose (all-zero axis-angle) gradients are finite too.
    flat = HandModel(right_arrays, flat_hand_mean=True)
    zeros = [torch.zeros(1, 3, requires_grad=True), torch.zeros(1, 45, requires_grad=True)]
    flat(zeros[0], zeros[1], torch.zeros(1, 10)).vertices.sum().backward()
    assert all(torch.isfinite(z.grad).all() for z in zeros)


def test_model_moves_with_to(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays).to(torch.float64)
    out = model(*(p.double() for p in _params(1)))
    assert out.vertices.dtype == torch.float64
    assert np.isfinite(out.vertices.detach().numpy()).all()


@pytest.mark.filterwarnings("ignore")  # TorchScript-exporter deprecation and shape-check tracer notes
def test_onnx_export_with_dynamic_batch(right_arrays: HandModelArrays) -> None:
    """The network exports 6D -> matrices -> hand model in one graph; the batch size must stay dynamic."""
    import io

    ort = pytest.importorskip("onnxruntime")
    model = HandModel(right_arrays).eval()

    class Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hand = model

        def forward(self, x6: torch.Tensor, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            R = rot6d_to_matrix(x6)  # (B, 16, 3, 3)
            out = self.hand(R[:, 0], R[:, 1:], betas)
            return out.vertices, out.joints

    f = io.BytesIO()
    torch.onnx.export(
        Head(),
        (torch.randn(2, 16, 6), torch.zeros(2, 10)),
        f,
        dynamo=False,
        input_names=["x6", "betas"],
        dynamic_axes={"x6": {0: "B"}, "betas": {0: "B"}},
    )
    session = ort.InferenceSession(f.getvalue())
    g = torch.Generator().manual_seed(2)
    x6, betas = torch.randn(3, 16, 6, generator=g), torch.randn(3, 10, generator=g)
    verts, joints = session.run(None, {"x6": x6.numpy(), "betas": betas.numpy()})
    ref_v, ref_j = Head()(x6, betas)
    torch.testing.assert_close(torch.from_numpy(verts), ref_v, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.from_numpy(joints), ref_j, atol=1e-5, rtol=0)


@pytest.mark.gpu
def test_cuda_matches_cpu(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    params = _params(8)
    ref = model(*params)
    out = model.to("cuda")(*(p.cuda() for p in params))
    assert out.vertices.device.type == "cuda" and out.faces.device.type == "cuda"
    torch.testing.assert_close(out.vertices.cpu(), ref.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.joints.cpu(), ref.joints, atol=1e-5, rtol=0)
