"""Training losses of the hand mesh network, weighted by the config's ``loss`` section.

Terms (each a masked mean over the samples that have the ground truth it needs; a weight of 0 disables a term):

==============  ===========================================================================  ===================
term            definition                                                                   needs
==============  ===========================================================================  ===================
``joints3d``    L1 between root-relative 3D keypoints (wrist at the origin), metres          ``xyz``
``joints3d_local``  the same in each hand's own frame (its global rotation undone): the finger  ``xyz``, hand
                articulation alone, which PA-MPJPE measures                                   parameters
``verts3d``     L1 between vertices relative to the wrist keypoint, metres                   ``verts``, same model
``joints2d``    L1 between 2D keypoints in normalized crop coordinates, in full perspective    ``uv``, ``K``
                through the sample's K (see below)
``head2d``      L1 between the spatial head's soft-argmax keypoints and the 2D targets,       ``uv``, spatial head
                normalized crop coordinates (nothing for the pooled head)
``heatmap``     KL divergence from a Gaussian around each true keypoint (sigma one cell) to   ``uv``, spatial head
                the softmax of the spatial head's heatmap over the stride-8 map
``pose``        MSE between the 16 absolute joint rotation matrices                          hand parameters
``betas``       MSE between shape coefficients                                               hand parameters
``betas_prior`` mean squared betas (keeps the shape near the mean where nothing else does)  nothing
``edge``        L1 between mesh edge lengths, predicted vs ground truth, metres             ``verts``, same model
``normal``      mean ``|cos|`` between predicted edges and ground-truth face normals        ``verts``, same model
==============  ===========================================================================  ===================

The 2D term places the predicted root-relative keypoints the way the live pipeline does: the translation that makes
their perspective projection through the sample's crop intrinsics ``K`` best reproduce where the network's
weak-perspective crop camera puts them (:func:`~handmesh.geometry.camera_solve.solve_translation`), then projects
them through ``K``. Its targets are the perspective projections of the true keypoints, so, unlike a weak-perspective
term, it can reach zero for a correct hand: it does not pull the 3D keypoints towards a flattened hand.

Hand parameters and vertices only mean something for the hand model that produced them: FreiHAND's are MANO's, a
synthetic set's are those of the model it was rendered with. With another network hand model the trainer builds
this loss with ``use_hand_params=False, use_vertices=False`` and the network learns from keypoints only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from handmesh.geometry.camera_solve import solve_translation
from handmesh.geometry.projection import (
    crop_normalized_to_pixels,
    crop_pixels_to_normalized,
    map_cell_centres,
    project_points,
)
from handmesh.geometry.rotations import axis_angle_to_matrix

__all__ = ["LOSS_TERMS", "HandMeshLoss", "LossOutput", "build_loss", "heatmap_log_targets", "mesh_edges"]

LOSS_TERMS = (
    "joints3d",
    "joints3d_local",
    "verts3d",
    "joints2d",
    "head2d",
    "heatmap",
    "pose",
    "betas",
    "betas_prior",
    "edge",
    "normal",
)
_NEEDS_VERTS = ("verts3d", "edge", "normal")
_NEEDS_PARAMS = ("joints3d_local", "pose", "betas")
_NEEDS_HEAD_KEYPOINTS = ("head2d", "heatmap")
HEATMAP_SIGMA = 1.0  # the heatmap term's target spread, in cells of the map


@dataclass
class LossOutput:
    """One batch's loss.

    Attributes:
        total: ``()`` the weighted sum that is minimised.
        terms: unweighted value of each active term (``()`` tensors, still in the graph).
    """

    total: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


def heatmap_log_targets(uv: torch.Tensor, cells: int, input_size: int, sigma: float = HEATMAP_SIGMA) -> torch.Tensor:
    """``(B, K, cells)`` log-probabilities of a Gaussian of ``sigma`` cells around each keypoint, over the cell
    centres of a square ``sqrt(cells)``-sided map of the ``input_size`` crop, row-major (rows are image y).

    ``uv`` is ``(B, K, 2)`` crop pixels; the cell centres are :func:`~handmesh.geometry.projection.map_cell_centres`,
    as the spatial head's soft-argmax grid. A keypoint outside the crop puts its mass on the nearest border cells,
    where a soft-argmax over the map gets closest to it.
    """
    n = int(round(cells**0.5))
    if n * n != cells:
        raise ValueError(f"heatmap of {cells} cells: expected a square map")
    stride = input_size / n
    centres = map_cell_centres(n, input_size, uv.dtype).to(uv.device)
    scale = 2.0 * (sigma * stride) ** 2
    dx = (uv[..., 0:1] - centres).square()  # (B, K, n) over columns
    dy = (uv[..., 1:2] - centres).square()  # (B, K, n) over rows
    logits = -(dy[..., :, None] + dx[..., None, :]).flatten(-2) / scale  # (B, K, n*n), row-major
    return logits.log_softmax(dim=-1)


def mesh_edges(faces: torch.Tensor) -> torch.Tensor:
    """Unique undirected edges of a triangle mesh.

    Args:
        faces: ``(F, 3)`` long.

    Returns:
        ``(E, 2)`` long, each edge once with the smaller index first.
    """
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], dim=0)  # (3F, 2)
    e = torch.sort(e, dim=1).values
    return torch.unique(e, dim=0)


def _masked_mean(per_sample: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``per_sample (B,)`` over samples where ``mask (B,)`` is set; 0 (in the graph) when none is."""
    m = mask.to(per_sample.dtype)
    return (per_sample * m).sum() / m.sum().clamp_min(1.0)


class HandMeshLoss(nn.Module):
    """The weighted training loss (see the module docstring for the terms).

    Args:
        faces: ``(F, 3)`` long faces of the network's hand model (edge and normal terms).
        hands_mean: ``(45,)`` the hand model's mean finger pose: ground-truth ``mano_pose`` finger numbers are
            offsets from it (FreiHAND's convention), so it is added to get absolute rotations.
        input_size: crop side S in pixels (to normalize the 2D targets).
        weights: term name -> weight; missing terms weigh 0.
        use_hand_params: the data's hand parameters belong to the network's hand model (``pose``, ``betas``).
            Default: True.
        use_vertices: the data's vertices belong to the network's hand model (``verts3d``, ``edge``, ``normal``).
            Default: True.
        use_head_keypoints: the network's head predicts its own 2D keypoints (the spatial head), so ``head2d``
            applies. Default: False.
    """

    def __init__(
        self,
        faces: torch.Tensor,
        hands_mean: torch.Tensor,
        input_size: int,
        weights: Mapping[str, float],
        *,
        use_hand_params: bool = True,
        use_vertices: bool = True,
        use_head_keypoints: bool = False,
    ) -> None:
        super().__init__()
        unknown = sorted(set(weights) - set(LOSS_TERMS))
        if unknown:
            raise ValueError(f"unknown loss term(s) {unknown}; valid: {', '.join(LOSS_TERMS)}")
        self.input_size = int(input_size)
        self.use_hand_params = bool(use_hand_params)
        self.use_vertices = bool(use_vertices)
        self.use_head_keypoints = bool(use_head_keypoints)
        self.weights = {k: float(weights.get(k, 0.0)) for k in LOSS_TERMS}
        self.register_buffer("edges", mesh_edges(faces.long()), persistent=False)  # (E, 2)
        self.register_buffer("faces", faces.long().clone(), persistent=False)  # (F, 3)
        self.register_buffer("hands_mean", hands_mean.detach().float().reshape(45).clone(), persistent=False)

    @property
    def active_terms(self) -> list[str]:
        """Terms that can contribute (non-zero weight and the right kind of ground truth)."""
        out = []
        for name in LOSS_TERMS:
            if self.weights[name] == 0.0:
                continue
            if name in _NEEDS_VERTS and not self.use_vertices:
                continue
            if name in _NEEDS_PARAMS and not self.use_hand_params:
                continue
            if name in _NEEDS_HEAD_KEYPOINTS and not self.use_head_keypoints:
                continue
            out.append(name)
        return out

    def forward(self, pred: Any, batch: Mapping[str, torch.Tensor]) -> LossOutput:
        """Compute the loss.

        Args:
            pred: a :class:`~handmesh.network.HandMeshOutput` (``joints (B, 21, 3)``, ``vertices (B, V, 3)``,
                ``joints2d (B, 21, 2)``, ``rotmats (B, 16, 3, 3)``, ``betas (B, 10)``).
            batch: a collated :class:`~handmesh.datasets.HandSample` batch on the same device (``xyz``, ``uv``,
                ``has_xyz``, ``verts``, ``has_verts``, ``mano_pose``, ``mano_shape``, ``has_mano``).

        Returns:
            :class:`LossOutput`.
        """
        terms: dict[str, torch.Tensor] = {}
        active = self.active_terms
        xyz = batch["xyz"].to(pred.joints.dtype)  # (B, 21, 3)
        root = xyz[:, :1]
        has_xyz = batch["has_xyz"].bool()
        if "joints3d" in active:
            err = (pred.joints - (xyz - root)).abs().mean(dim=(1, 2))  # (B,)
            terms["joints3d"] = _masked_mean(err, has_xyz)
        if "joints2d" in active:
            terms["joints2d"] = self._joints2d(pred, batch, has_xyz)
        if "head2d" in active:
            head_keypoints = pred.head_keypoints2d
            if head_keypoints is None:
                raise ValueError(
                    "loss.head2d needs the spatial head's keypoints: build the loss with "
                    "use_head_keypoints=False for the pooled head"
                )
            target = crop_pixels_to_normalized(batch["uv"].to(head_keypoints.dtype), self.input_size)
            terms["head2d"] = _masked_mean((head_keypoints - target).abs().mean(dim=(1, 2)), has_xyz)
        if "heatmap" in active:
            if pred.head_heatmaps is None:
                raise ValueError("loss.heatmap needs the spatial head's heatmaps (model.head=spatial)")
            log_p = pred.head_heatmaps.float().log_softmax(dim=-1)  # (B, 21, HW)
            log_t = heatmap_log_targets(batch["uv"].to(log_p.dtype), log_p.shape[-1], self.input_size)
            kl = (log_t.exp() * (log_t - log_p)).sum(dim=-1).mean(dim=1)  # (B,)
            terms["heatmap"] = _masked_mean(kl, has_xyz)
        need_verts = [t for t in active if t in _NEEDS_VERTS]
        if need_verts:
            mask = batch["has_verts"].bool() & has_xyz
            gt_v = batch["verts"].to(pred.vertices.dtype) - root  # (B, V, 3)
            if "verts3d" in active:
                terms["verts3d"] = _masked_mean((pred.vertices - gt_v).abs().mean(dim=(1, 2)), mask)
            if "edge" in active:
                terms["edge"] = _masked_mean(self._edge_error(pred.vertices, gt_v), mask)
            if "normal" in active:
                terms["normal"] = _masked_mean(self._normal_error(pred.vertices, gt_v), mask)
        if "pose" in active or "betas" in active or "joints3d_local" in active:
            has_mano = batch["has_mano"].bool()
            gt_rot = self._gt_rotations(batch["mano_pose"].to(pred.rotmats.dtype))  # (B, 16, 3, 3)
            if "joints3d_local" in active:
                # Row vectors: J @ R = (R^T J^T)^T, the root-relative joints with the global rotation undone.
                pred_local = pred.joints @ pred.rotmats[:, 0]
                gt_local = (xyz - root) @ gt_rot[:, 0]
                err = (pred_local - gt_local).abs().mean(dim=(1, 2))
                terms["joints3d_local"] = _masked_mean(err, has_mano & has_xyz)
            if "pose" in active:
                terms["pose"] = _masked_mean((pred.rotmats - gt_rot).square().mean(dim=(1, 2, 3)), has_mano)
            if "betas" in active:
                err = (pred.betas - batch["mano_shape"].to(pred.betas.dtype)).square().mean(dim=1)
                terms["betas"] = _masked_mean(err, has_mano)
        if "betas_prior" in active:
            terms["betas_prior"] = pred.betas.square().mean()
        if terms:
            total = sum(self.weights[k] * v for k, v in terms.items())
        else:  # nothing to learn from: a zero that still depends on the prediction, so backward works
            total = pred.joints.sum() * 0.0
        return LossOutput(total=total, terms=terms)  # type: ignore[arg-type]

    def _gt_rotations(self, pose48: torch.Tensor) -> torch.Tensor:
        """FreiHAND-convention ``(B, 48)`` axis-angle -> ``(B, 16, 3, 3)`` absolute rotations."""
        B = pose48.shape[0]
        fingers = pose48[:, 3:] + self.hands_mean.to(pose48.dtype)  # offsets from hands_mean -> absolute
        aa = torch.cat([pose48[:, :3], fingers], dim=1).reshape(B, 16, 3)
        return axis_angle_to_matrix(aa)

    def _edge_error(self, pred_v: torch.Tensor, gt_v: torch.Tensor) -> torch.Tensor:
        """``(B,)`` mean |edge length difference|, metres."""
        a, b = self.edges[:, 0], self.edges[:, 1]
        lp = (pred_v[:, a] - pred_v[:, b]).norm(dim=-1)  # (B, E)
        lg = (gt_v[:, a] - gt_v[:, b]).norm(dim=-1)
        return (lp - lg).abs().mean(dim=1)

    def _normal_error(self, pred_v: torch.Tensor, gt_v: torch.Tensor) -> torch.Tensor:
        """``(B,)`` mean |cosine| between predicted face edges and ground-truth face normals (Wang et al.,
        Pixel2Mesh, ECCV 2018): zero when every predicted face lies in the plane of its ground-truth face."""
        f = self.faces
        g0, g1, g2 = gt_v[:, f[:, 0]], gt_v[:, f[:, 1]], gt_v[:, f[:, 2]]  # (B, F, 3)
        normal = nn.functional.normalize(torch.cross(g1 - g0, g2 - g0, dim=-1), dim=-1, eps=1e-12)
        p0, p1, p2 = pred_v[:, f[:, 0]], pred_v[:, f[:, 1]], pred_v[:, f[:, 2]]
        cos = [
            (nn.functional.normalize(e, dim=-1, eps=1e-12) * normal).sum(dim=-1).abs()
            for e in (p1 - p0, p2 - p1, p0 - p2)
        ]
        return torch.stack(cos, dim=-1).mean(dim=(1, 2))

    def _joints2d(self, pred: Any, batch: Mapping[str, torch.Tensor], has_xyz: torch.Tensor) -> torch.Tensor:
        """The perspective 2D term (see the module docstring)."""
        S = self.input_size
        K = batch["K"].to(pred.joints.dtype)
        placed = crop_normalized_to_pixels(pred.joints2d, S)  # where the crop camera puts the keypoints, pixels
        t = solve_translation(pred.joints, placed, K)  # (B, 3); NaN for a degenerate hand
        ok = has_xyz & torch.isfinite(t).all(dim=-1) & (t[:, 2] > 1e-3)
        t = torch.where(ok[:, None], torch.nan_to_num(t), torch.tensor([0.0, 0.0, 1.0], dtype=t.dtype, device=t.device))
        uv = project_points(pred.joints + t[:, None], K)
        target = batch["uv"].to(uv.dtype)
        err = (crop_pixels_to_normalized(uv, S) - crop_pixels_to_normalized(target, S)).abs().mean(dim=(1, 2))
        return _masked_mean(torch.nan_to_num(err), ok)


def build_loss(
    loss_cfg: Any,
    hand_model: nn.Module,
    input_size: int,
    *,
    use_hand_params: bool = True,
    use_vertices: bool = True,
    use_head_keypoints: bool = False,
) -> HandMeshLoss:
    """Build :class:`HandMeshLoss` from the config's ``loss`` section and the network's hand model.

    Args:
        loss_cfg: :class:`~handmesh.config.LossConfig` (one float attribute per term).
        hand_model: the network's hand model (faces, ``hands_mean``).
        input_size: crop side S.
        use_hand_params, use_vertices, use_head_keypoints: see :class:`HandMeshLoss`.
    """
    weights = {name: float(getattr(loss_cfg, name)) for name in LOSS_TERMS}
    return HandMeshLoss(
        hand_model.faces,
        hand_model.hands_mean,
        input_size,
        weights,
        use_hand_params=use_hand_params,
        use_vertices=use_vertices,
        use_head_keypoints=use_head_keypoints,
    )
