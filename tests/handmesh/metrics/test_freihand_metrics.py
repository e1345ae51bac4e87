"""evaluate() equals a straightforward per-sample implementation of the official FreiHAND protocol, and gives the
known answers on constructed cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from handmesh.metrics import evaluate
from handmesh.metrics.freihand import auc, pck_curve


# ---------------------------------------------------------------------------------------------------------------------
# Reference: the protocol written out per sample, with per-point accumulators as the official script keeps them.
def _ref_align(gt, pred, return_trafo=False):
    t1, t2 = gt.mean(0), pred.mean(0)
    a, b = gt - t1, pred - t2
    s1, s2 = np.linalg.norm(a) + 1e-8, np.linalg.norm(b) + 1e-8
    R, s = orthogonal_procrustes(a / s1, b / s2)
    if return_trafo:
        return R, s, s1, t1 - t2
    return (b / s2) @ R.T * s * s1 + t1


def _ref_fscore(gt, pred, th):
    d_gt = np.array([np.sqrt(((pred - p) ** 2).sum(1)).min() for p in gt])
    d_pred = np.array([np.sqrt(((gt - p) ** 2).sum(1)).min() for p in pred])
    recall, precision = float(np.sum(d_gt < th)) / len(d_gt), float(np.sum(d_pred < th)) / len(d_pred)
    return 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0


class _PointErrors:
    """Distances per point index over samples; mean, PCK (<=) and AUC exactly as defined officially."""

    def __init__(self, num_points):
        self.data = [[] for _ in range(num_points)]

    def feed(self, gt, pred):
        for i, d in enumerate(np.sqrt(((gt - pred) ** 2).sum(1))):
            self.data[i].append(d)

    def measures(self):
        th = np.linspace(0.0, 0.05, 100)
        norm = np.trapezoid(np.ones_like(th), th)
        means, aucs = [], []
        for d in self.data:
            d = np.array(d)
            means.append(d.mean())
            aucs.append(np.trapezoid(np.array([np.mean(d <= t) for t in th]), th) / norm)
        return float(np.mean(means)), float(np.mean(aucs))


def reference_scores(pred_xyz, gt_xyz, pred_verts, gt_verts):
    """scores.txt values (means in metres here) for one pass over the samples."""
    n_v = gt_verts.shape[1]
    same = pred_verts.shape[1] == n_v
    xyz, xyz_al = _PointErrors(21), _PointErrors(21)
    mesh, mesh_al = _PointErrors(n_v), _PointErrors(n_v)
    f, f_al = [], []
    for gx, gv, px, pv in zip(gt_xyz, gt_verts, pred_xyz, pred_verts, strict=True):
        xyz.feed(gx, px)
        xyz_al.feed(gx, _ref_align(gx, px))
        if same:
            mesh.feed(gv, pv)
            pv_al = _ref_align(gv, pv)
            mesh_al.feed(gv, pv_al)
        else:
            R, s, s1, t = _ref_align(gx, px, return_trafo=True)
            t2 = pv.mean(0)
            pv_al = (pv - t2) @ R.T * s * s1 + t + t2
        f.append([_ref_fscore(gv, pv, t) for t in (0.005, 0.015)])
        f_al.append([_ref_fscore(gv, pv_al, t) for t in (0.005, 0.015)])
    out = {}
    out["xyz_mean3d"], out["xyz_auc3d"] = xyz.measures()
    out["xyz_al_mean3d"], out["xyz_al_auc3d"] = xyz_al.measures()
    if same:
        out["mesh_mean3d"], out["mesh_auc3d"] = mesh.measures()
        out["mesh_al_mean3d"], out["mesh_al_auc3d"] = mesh_al.measures()
    f, f_al = np.array(f).mean(0), np.array(f_al).mean(0)
    out.update(f_score_5=f[0], f_al_score_5=f_al[0], f_score_15=f[1], f_al_score_15=f_al[1])
    return out


def _random_case(seed: int, n: int = 24, n_pred_verts: int = 778):
    rng = np.random.default_rng(seed)
    gt_xyz = rng.normal(size=(n, 21, 3)) * 0.03 + rng.normal(size=(n, 1, 3)) * [0.05, 0.05, 0.1] + [0, 0, 0.6]
    gt_verts = rng.normal(size=(n, 778, 3)) * [0.04, 0.03, 0.015] + gt_xyz.mean(1, keepdims=True)
    noise = rng.uniform(0.002, 0.03, size=(n, 1, 1))
    R = Rotation.random(n, random_state=seed).as_matrix()
    pred_xyz = (
        np.einsum("nij,npj->npi", R, gt_xyz) * rng.uniform(0.8, 1.2, (n, 1, 1)) + rng.normal(size=gt_xyz.shape) * noise
    )
    if n_pred_verts == 778:
        pred_verts = gt_verts + rng.normal(size=gt_verts.shape) * noise
    else:
        pred_verts = gt_verts[:, :n_pred_verts] + rng.normal(size=(n, n_pred_verts, 3)) * noise
    pred_verts[3] = pred_verts[3] * [-1, 1, 1]
    pred_xyz[min(7, n - 1)] = 0.0  # the zero predictor
    return pred_xyz, gt_xyz, pred_verts, gt_verts


@pytest.mark.parametrize("seed", [0, 1])
def test_equals_official_definitions(seed: int) -> None:
    pred_xyz, gt_xyz, pred_verts, gt_verts = _random_case(seed)
    got = evaluate(pred_xyz, gt_xyz, pred_verts, gt_verts).official_scores()
    ref = reference_scores(pred_xyz, gt_xyz, pred_verts, gt_verts)
    for key, value in ref.items():
        if key.endswith("mean3d"):
            value *= 100.0  # the official report is in cm
        assert got[key] == pytest.approx(value, abs=1e-9), key
    assert set(got) == set(ref)


def test_other_mesh_topology_uses_keypoint_alignment() -> None:
    pred_xyz, gt_xyz, pred_verts, gt_verts = _random_case(2, n=10, n_pred_verts=500)
    res = evaluate(pred_xyz, gt_xyz, pred_verts, gt_verts)
    ref = reference_scores(pred_xyz, gt_xyz, pred_verts, gt_verts)
    got = res.official_scores()
    assert res.mpvpe_mm is None and got["mesh_mean3d"] == -1.0 and got["mesh_al_auc3d"] == -1.0
    for key in ("f_score_5", "f_al_score_5", "f_score_15", "f_al_score_15", "xyz_al_mean3d"):
        value = ref[key] * (100.0 if key.endswith("mean3d") else 1.0)
        assert got[key] == pytest.approx(value, abs=1e-9), key


def test_similarity_copy_has_zero_aligned_error() -> None:
    rng = np.random.default_rng(3)
    gt_xyz, gt_verts = rng.normal(size=(5, 21, 3)) * 0.05, rng.normal(size=(5, 778, 3)) * 0.05
    R = Rotation.random(5, random_state=4).as_matrix()
    scale, shift = rng.uniform(0.5, 2.0, (5, 1, 1)), rng.normal(size=(5, 1, 3))
    res = evaluate(
        np.einsum("nij,npj->npi", R, gt_xyz) * scale + shift,
        gt_xyz,
        np.einsum("nij,npj->npi", R, gt_verts) * scale + shift,
        gt_verts,
    )
    # Zero up to the official 1e-8 added to each norm (a relative scale error of ~1e-8: nanometres here).
    assert res.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-4)
    assert res.pa_mpvpe_mm == pytest.approx(0.0, abs=1e-4)
    assert res.fscore == (1.0, 1.0)
    # Those nanometre errors exceed the first PCK threshold (0 m), so the official AUC is 1 - half a step.
    assert res.auc_pa_joints == pytest.approx(1 - 0.5 / 99, abs=1e-12)
    assert res.auc_pa_verts == pytest.approx(1 - 0.5 / 99, abs=1e-12)
    assert res.mpjpe_mm > 100.0  # unaligned errors see the transform


def test_known_offsets() -> None:
    gt = np.random.default_rng(5).normal(size=(4, 21, 3)) * 0.05
    lengths = np.linspace(0.001, 0.021, 21)  # per-joint offset lengths, metres
    directions = Rotation.random(21, random_state=6).apply([1.0, 0.0, 0.0])
    res = evaluate(gt + lengths[:, None] * directions, gt)
    assert res.mpjpe_mm == pytest.approx(lengths.mean() * 1000.0, abs=1e-9)
    np.testing.assert_allclose(res.per_sample.mpjpe, lengths.mean() * 1000.0, atol=1e-9)
    shifted = evaluate(gt + [0.01, -0.02, 0.02], gt)  # one translation for all joints: 30 mm
    assert shifted.mpjpe_mm == pytest.approx(30.0, abs=1e-9)
    assert shifted.rr_mpjpe_mm == pytest.approx(0.0, abs=1e-9)
    assert shifted.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-4)
    assert shifted.mpvpe_mm is None and shifted.fscore is None


def test_auc_hand_computed() -> None:
    th = np.linspace(0.0, 0.05, 100)
    assert auc(pck_curve(np.zeros(10), th), th) == 1.0
    assert auc(pck_curve(np.full(10, 0.06), th), th) == 0.0
    # 0.025 m lies halfway between thresholds 49 and 50 (of 0..99): area 49.5 steps of 99.
    assert auc(pck_curve(np.full(10, 0.025), th), th) == pytest.approx(49.5 / 99, abs=1e-12)
    # Half at 10 mm (between thresholds 19 and 20), half beyond 50 mm: 0.5 * 79 + 0.25 steps of 99.
    assert auc(pck_curve(np.r_[np.full(5, 0.01), np.full(5, 0.06)], th), th) == pytest.approx(39.75 / 99, abs=1e-12)
    np.testing.assert_array_equal(pck_curve(np.array([0.0, th[3]]), th)[2:5], [0.5, 1.0, 1.0])  # <= threshold


def test_nan_predictions_reported_not_averaged() -> None:
    pred_xyz, gt_xyz, pred_verts, gt_verts = _random_case(7, n=12)
    bad_xyz, bad_verts = pred_xyz.copy(), pred_verts.copy()
    bad_xyz[3, 5, 1] = np.nan
    bad_verts[9, 100, 2] = np.inf
    res = evaluate(bad_xyz, gt_xyz, bad_verts, gt_verts)
    keep = np.setdiff1d(np.arange(12), [3, 9])
    clean = evaluate(pred_xyz[keep], gt_xyz[keep], pred_verts[keep], gt_verts[keep])
    assert res.bad_indices == [3, 9] and res.num_evaluated == 10
    for key, value in clean.official_scores().items():
        assert res.official_scores()[key] == pytest.approx(value, abs=1e-12), key
    assert np.isnan(res.per_sample.pa_mpjpe[[3, 9]]).all() and np.isfinite(res.per_sample.pa_mpjpe[keep]).all()
    assert "excluded 2 predictions with NaN/inf: 3, 9" in res.table()


def test_shape_errors_say_what_was_expected() -> None:
    from handmesh.errors import DataError

    gt = np.zeros((4, 21, 3))
    with pytest.raises(DataError, match=r"\(3, 21, 3\).*expected \(4, 21, 3\)"):
        evaluate(np.zeros((3, 21, 3)), gt)
    with pytest.raises(DataError, match=r"expected \(4, 778, 3\)"):
        evaluate(np.zeros((4, 21, 3)), gt, np.zeros((4, 778, 2)), np.zeros((4, 778, 3)))


def test_report_dict_and_table() -> None:
    pred_xyz, gt_xyz, pred_verts, gt_verts = _random_case(8, n=6)
    res = evaluate(pred_xyz, gt_xyz, pred_verts, gt_verts)
    d = res.to_dict()
    assert d["metrics_mm"]["pa_mpjpe"] == res.pa_mpjpe_mm
    assert d["official_scores"]["xyz_al_mean3d"] == pytest.approx(res.pa_mpjpe_mm / 10)
    assert len(d["pck"]["thresholds_mm"]) == 100 and len(d["pck"]["mesh_al"]) == 100
    assert set(d["fscore"]) == {"f@5mm", "f@15mm", "f@5mm_unaligned", "f@15mm_unaligned"}
    table = res.table()
    assert "PA-MPJPE" in table and f"{res.pa_mpjpe_mm:7.2f} mm" in table and "F@15mm" in table
