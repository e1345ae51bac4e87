"""Training losses: zero for a perfect prediction, each term reacting to its own error, masks, keypoint-only mode,
and the ground-truth rotation convention (FreiHAND pose numbers are offsets from hands_mean)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handmesh.config import LossConfig
from handmesh.geometry import project_points, weak_perspective_project
from handmesh.hand_model import build_hand_model, freihand_mano_to_mesh
from handmesh.losses import LOSS_TERMS, HandMeshLoss, build_loss, heatmap_log_targets, mesh_edges
from handmesh.network import HandMeshOutput

S = 64
ALL_ON = dict.fromkeys(LOSS_TERMS, 1.0)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):
    from handmesh.hand_model.model_file import write_model_file
    from handmesh.testing.mano_standin import standin_model_arrays

    d = tmp_path_factory.mktemp("mano")
    write_model_file(d / "MANO_RIGHT.npz", standin_model_arrays())
    return build_hand_model("mano", "right", d)


CROP_K = torch.tensor([[70.0, 0.0, S / 2], [0.0, 70.0, S / 2], [0.0, 0.0, 1.0]])  # a crop camera of the batch


def _scene(model, n: int = 3, seed: int = 0) -> tuple[HandMeshOutput, dict[str, torch.Tensor]]:
    """Random hands as ground truth (FreiHAND convention, camera frame) and the prediction that equals them."""
    g = torch.Generator().manual_seed(seed)
    pose48 = torch.randn(n, 48, generator=g) * 0.3
    betas = torch.randn(n, 10, generator=g) * 0.5
    fingers = (pose48[:, 3:] + model.hands_mean).reshape(n, 15, 3)
    from handmesh.geometry import axis_angle_to_matrix

    rot = torch.cat([axis_angle_to_matrix(pose48[:, None, :3]), axis_angle_to_matrix(fingers)], dim=1)
    out = model(rot[:, 0], rot[:, 1:], betas)
    root = out.joints[:, :1]
    cam = torch.tensor([[8.0, 0.01, -0.02]]).expand(n, 3)
    joints, verts = out.joints - root, out.vertices - root
    t = torch.tensor([0.02, -0.01, 0.5])
    uv = project_points(joints + t, CROP_K)  # the true keypoints' pixels in the crop, full perspective
    joints2d = (uv - S / 2) / (S / 2)  # a perfect network puts them there
    pred = HandMeshOutput(
        rotmats=rot,
        betas=betas,
        cam=cam,
        vertices=verts,
        joints=joints,
        joints2d=joints2d,
        head_keypoints2d=joints2d.clone(),  # a perfect spatial head's keypoints
        head_heatmaps=heatmap_log_targets(uv, (S // 8) ** 2, S),  # and heatmaps (logits = the target's log)
    )
    batch = {
        "xyz": joints + t,
        "verts": verts + t,
        "uv": uv,
        "K": CROP_K.expand(n, 3, 3),
        "has_xyz": torch.ones(n, dtype=torch.bool),
        "has_verts": torch.ones(n, dtype=torch.bool),
        "mano_pose": pose48,
        "mano_shape": betas,
        "has_mano": torch.ones(n, dtype=torch.bool),
    }
    return pred, batch


def _loss(model, weights=ALL_ON, **kw) -> HandMeshLoss:
    kw.setdefault("use_head_keypoints", True)  # the scene's prediction carries a spatial head's keypoints
    return HandMeshLoss(model.faces, model.hands_mean, S, weights, **kw)


def test_perfect_prediction_costs_nothing_but_the_prior(model) -> None:
    pred, batch = _scene(model)
    out = _loss(model)(pred, batch)
    assert set(out.terms) == set(LOSS_TERMS)
    for name, value in out.terms.items():
        if name != "betas_prior":
            assert float(value) < 1e-5, name
    torch.testing.assert_close(out.terms["betas_prior"], pred.betas.square().mean())


@pytest.mark.parametrize("term", [t for t in LOSS_TERMS if t != "betas_prior"])
def test_each_term_sees_its_error_and_has_gradients(model, term: str) -> None:
    pred, batch = _scene(model)
    g = torch.Generator().manual_seed(1)
    noisy = HandMeshOutput(
        **{k: (v + 0.01 * torch.randn(v.shape, generator=g)).requires_grad_() for k, v in vars(pred).items()}
    )
    out = _loss(model, {term: 1.0})(noisy, batch)
    assert list(out.terms) == [term]
    assert float(out.total.detach()) > 1e-5
    out.total.backward()
    grads = [v.grad for v in vars(noisy).values() if v.grad is not None and v.grad.abs().sum() > 0]
    assert grads, f"{term}: no gradient reaches the prediction"


def test_masks_leave_samples_without_ground_truth_out(model) -> None:
    pred, batch = _scene(model, n=2)
    bad = HandMeshOutput(**{k: v.clone() for k, v in vars(pred).items()})
    bad.joints[1] += 0.05
    bad.vertices[1] += 0.05
    bad.rotmats[1] = torch.eye(3)
    batch["has_xyz"][1] = False
    batch["has_mano"][1] = False
    out = _loss(model)(bad, batch)
    for name in ("joints3d", "verts3d", "pose"):
        assert float(out.terms[name]) < 1e-5, name
    batch["has_xyz"][:] = False
    batch["has_mano"][:] = False
    out = _loss(model)(bad, batch)
    assert float(out.terms["joints3d"]) == 0.0 and float(out.terms["pose"]) == 0.0


def test_keypoint_only_training_uses_keypoint_terms(model) -> None:
    loss = _loss(model, use_hand_params=False, use_vertices=False)
    assert loss.active_terms == ["joints3d", "joints2d", "head2d", "heatmap", "betas_prior"]
    pred, batch = _scene(model)
    for k in ("verts", "mano_pose", "mano_shape"):
        batch[k] = torch.full_like(batch[k], float("nan"))  # another model's numbers must not matter at all
    out = loss(pred, batch)
    assert torch.isfinite(out.total) and set(out.terms) == {"joints3d", "joints2d", "head2d", "heatmap", "betas_prior"}


def test_ground_truth_rotations_follow_freihand(model) -> None:
    """The pose target built from mano_pose reproduces freihand_mano_to_mesh's mesh (up to translation)."""
    pred, batch = _scene(model, n=2, seed=3)
    K = torch.tensor([[500.0, 0, 112], [0, 500.0, 112], [0, 0, 1]], dtype=torch.float64)
    mano61 = torch.cat(
        [batch["mano_pose"], batch["mano_shape"], torch.tensor([[112.0, 112.0]] * 2), torch.tensor([[900.0]] * 2)],
        dim=1,
    )
    verts, joints = freihand_mano_to_mesh(mano61.double(), K, model)
    rot = _loss(model)._gt_rotations(batch["mano_pose"])
    out = model(rot[:, 0], rot[:, 1:], batch["mano_shape"])
    rel = (out.vertices - out.joints[:, :1]).double()
    torch.testing.assert_close(rel, (verts - joints[:, :1]).double(), atol=1e-5, rtol=0)


def test_two_d_term_is_perspective_through_k(model) -> None:
    """With the true 3D keypoints, a crop camera exists that makes the 2D term zero (its translation reprojects them
    exactly through K); a weak-perspective 2D term cannot reach zero for a hand this close to the camera."""
    pred, batch = _scene(model, n=1)
    batch["xyz"] = pred.joints + torch.tensor([0.03, 0.02, 0.22])  # 22 cm away: strong perspective
    batch["uv"] = project_points(batch["xyz"], CROP_K)
    target = (batch["uv"] - S / 2) / (S / 2)
    loss = _loss(model, {"joints2d": 1.0})

    fitted: list[torch.Tensor] = []

    def fit(objective) -> float:
        cam = torch.tensor([[5.0, 0.0, 0.0]], requires_grad=True)
        opt = torch.optim.Adam([cam], lr=0.05)
        schedule = torch.optim.lr_scheduler.ExponentialLR(opt, 0.996)
        for _ in range(1500):
            opt.zero_grad()
            value = objective(cam)
            value.backward()
            opt.step()
            schedule.step()
        fitted.append(cam.detach())
        return float(objective(cam).detach())

    def perspective(cam: torch.Tensor) -> torch.Tensor:
        p = HandMeshOutput(
            pred.rotmats, pred.betas, cam, pred.vertices, pred.joints, weak_perspective_project(pred.joints, cam)
        )
        return loss(p, batch).total

    def weak(cam: torch.Tensor) -> torch.Tensor:
        return (weak_perspective_project(pred.joints, cam) - target).abs().mean()

    assert fit(perspective) < 1e-3  # converging to 0 (8e-5 after these steps)
    assert fit(weak) > 2e-2  # stuck near 0.14: a flattened hand cannot match perspective
    # The term reads the sample's K: the fitted camera scored through another focal length costs far more.
    other = dict(batch, K=batch["K"] * torch.tensor([[1.3], [1.3], [1.0]]))
    assert float(perspective(fitted[0]).detach()) < 1e-3
    with torch.no_grad():
        p = HandMeshOutput(
            pred.rotmats,
            pred.betas,
            fitted[0],
            pred.vertices,
            pred.joints,
            weak_perspective_project(pred.joints, fitted[0]),
        )
        assert float(loss(p, other).total) > 1e-2


def test_mesh_edges_of_a_closed_mesh() -> None:
    faces = torch.tensor([[0, 1, 2], [0, 3, 1], [1, 3, 2], [2, 3, 0]])  # tetrahedron
    edges = mesh_edges(faces)
    assert edges.shape == (6, 2) and (edges[:, 0] < edges[:, 1]).all()


def test_build_loss_reads_the_config_and_rejects_unknown_terms(model) -> None:
    loss = build_loss(LossConfig(edge=0.5), model, S)
    assert loss.weights["edge"] == 0.5 and "normal" not in loss.active_terms
    with pytest.raises(ValueError, match="unknown loss term"):
        HandMeshLoss(model.faces, model.hands_mean, S, {"joint3d": 1.0})


def test_shipped_open_hand_works_with_the_loss() -> None:
    open_hand = build_hand_model("open")
    loss = build_loss(LossConfig(edge=1.0, normal=1.0), open_hand, S)
    pred, batch = _scene(open_hand, n=2)
    assert np.isfinite(float(loss(pred, batch).total))
    assert loss.edges.shape[0] == 3 * open_hand.faces.shape[0] // 2  # watertight: every edge in two faces
