"""Validation during training: PA-MPJPE and PA-MPVPE (FreiHAND's per-sample Procrustes alignment with scale) on the
validation carve-out, and pictures of predicted meshes over validation crops.

Under ``torchrun`` every process scores its share of the validation items and the sums are added up, so the
numbers equal a single-process run's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from handmesh.metrics.alignment import align_w_scale
from handmesh.train.distributed import DistInfo, all_reduce_sum

__all__ = ["ValResult", "validate", "mesh_panel", "validation_subset"]


@dataclass
class ValResult:
    """One validation run.

    Attributes:
        pa_mpjpe_mm: mean aligned keypoint error, mm.
        pa_mpvpe_mm: mean aligned vertex error, mm; None when the vertices are not comparable (another hand model
            than the data's) or absent.
        num_samples: samples scored (all processes).
        panels: ``(H, W, 3)`` uint8 pictures of the first samples (rank 0 only).
    """

    pa_mpjpe_mm: float
    pa_mpvpe_mm: float | None
    num_samples: int
    panels: list[np.ndarray] = field(default_factory=list)

    def as_dict(self) -> dict[str, float | None]:
        return {"pa_mpjpe_mm": self.pa_mpjpe_mm, "pa_mpvpe_mm": self.pa_mpvpe_mm}


def validation_subset(dataset: Dataset, max_samples: int, info: DistInfo) -> Dataset:
    """At most ``max_samples`` items spread evenly over ``dataset``, then this process's share (every
    ``world_size``-th item)."""
    n = len(dataset)  # type: ignore[arg-type]
    keep = np.arange(n) if max_samples <= 0 or n <= max_samples else np.linspace(0, n - 1, max_samples).round()
    keep = np.unique(keep.astype(np.int64))[info.rank :: info.world_size]
    return Subset(dataset, keep.tolist())


def _unnormalize(image: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """``(3, S, S)`` normalized -> ``(S, S, 3)`` uint8 RGB."""
    m = torch.tensor(mean).view(3, 1, 1)
    s = torch.tensor(std).view(3, 1, 1)
    rgb = (image.float().cpu() * s + m).clamp(0, 1).permute(1, 2, 0).numpy()
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def mesh_panel(
    image: torch.Tensor,
    K: torch.Tensor,
    vertices: torch.Tensor,
    joints: torch.Tensor,
    joints2d: torch.Tensor,
    faces: torch.Tensor,
    gt_uv: torch.Tensor | None = None,
    mean: tuple[float, ...] = (0.485, 0.456, 0.406),
    std: tuple[float, ...] = (0.229, 0.224, 0.225),
) -> np.ndarray:
    """One validation crop, side by side: the crop with the ground-truth skeleton, and the predicted mesh over it.

    The root-relative prediction is placed with the translation that makes its keypoints project where the network
    put them (:func:`~handmesh.geometry.camera_solve.solve_translation` with the crop's K).

    Args:
        image: ``(3, S, S)`` normalized crop.
        K: ``(3, 3)`` crop intrinsics, pixels.
        vertices: ``(V, 3)`` predicted root-relative vertices, metres.
        joints: ``(21, 3)`` predicted root-relative keypoints, metres.
        joints2d: ``(21, 2)`` predicted keypoints in normalized crop coordinates.
        faces: ``(F, 3)`` mesh faces.
        gt_uv: ``(21, 2)`` ground-truth keypoints in crop pixels. Default: none drawn.
        mean, std: the input normalization.

    Returns:
        ``(S, 2 S, 3)`` uint8 RGB.
    """
    from handmesh.geometry.camera_solve import solve_translation
    from handmesh.geometry.projection import crop_normalized_to_pixels
    from handmesh.render import Mesh, draw_skeleton, overlay

    crop = _unnormalize(image, mean, std)
    S = crop.shape[0]
    left = crop.copy()
    if gt_uv is not None:
        left = draw_skeleton(left, gt_uv.float().cpu().numpy(), thickness=1, radius=1)
    uv = crop_normalized_to_pixels(joints2d.float().cpu()[None], S)
    t = solve_translation(joints.float().cpu()[None], uv, K.float().cpu()[None])[0]  # (3,)
    right = crop.copy()
    placed = (vertices.float().cpu() + t).numpy()
    if np.isfinite(placed).all() and float(t[2]) > 0:
        right = overlay(right, Mesh(placed, faces.cpu().numpy().astype(np.int32)), K.double().cpu().numpy(), alpha=0.7)
    return np.concatenate([left, right], axis=1)


@torch.no_grad()
def validate(
    net: nn.Module,
    dataset: Dataset,
    device: torch.device,
    info: DistInfo,
    *,
    batch_size: int,
    num_workers: int = 0,
    use_vertices: bool = True,
    image_count: int = 0,
    autocast: contextlib.AbstractContextManager | None = None,
) -> ValResult:
    """Score ``net`` on this process's share of the validation items.

    Args:
        net: the network (unwrapped; EMA weights if used). Put in eval mode here and back afterwards.
        dataset: this process's validation items (:func:`validation_subset`), unaugmented.
        device: where the network is.
        info: process group info (sums are reduced over processes).
        batch_size: images per batch.
        num_workers: loader workers. Default: 0.
        use_vertices: score PA-MPVPE (the data's vertices belong to the network's hand model). Default: True.
        image_count: pictures to make of the first samples (rank 0). Default: 0.
        autocast: the training autocast context factory (called per batch). Default: none.

    Returns:
        :class:`ValResult` (the same numbers on every process).
    """
    was_training = net.training
    net.eval()
    # Its own generator: building an iterator would otherwise draw from the global RNG (see train.data).
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, generator=torch.Generator()
    )
    # sums: keypoint error, keypoint samples, vertex error, vertex samples
    sums = torch.zeros(4, dtype=torch.float64)
    panels: list[np.ndarray] = []
    try:
        for batch in loader:
            images = batch["image"].to(device, non_blocking=True)
            with autocast() if autocast is not None else contextlib.nullcontext():  # type: ignore[operator]
                out = net(images)
            joints = out.joints.float().cpu().numpy()  # (B, 21, 3) root-relative
            xyz = batch["xyz"].double().numpy()
            ok = batch["has_xyz"].numpy().astype(bool) & np.isfinite(joints).all(axis=(1, 2))
            if ok.any():
                gt = xyz[ok] - xyz[ok][:, :1]
                d = np.linalg.norm(align_w_scale(gt, joints[ok]) - gt, axis=-1)  # (b, 21)
                sums[0] += float(d.mean(axis=1).sum())
                sums[1] += int(ok.sum())
            if use_vertices:
                verts = out.vertices.float().cpu().numpy()
                okv = ok & batch["has_verts"].numpy().astype(bool) & np.isfinite(verts).all(axis=(1, 2))
                if okv.any():
                    gtv = batch["verts"].double().numpy()[okv]
                    d = np.linalg.norm(align_w_scale(gtv, verts[okv]) - gtv, axis=-1)
                    sums[2] += float(d.mean(axis=1).sum())
                    sums[3] += int(okv.sum())
            if info.is_main and len(panels) < image_count:
                faces = net.hand_model.faces
                for i in range(min(image_count - len(panels), images.shape[0])):
                    panels.append(
                        mesh_panel(
                            batch["image"][i],
                            batch["K"][i],
                            out.vertices[i],
                            out.joints[i],
                            out.joints2d[i],
                            faces,
                            batch["uv"][i],
                        )
                    )
    finally:
        net.train(was_training)
    total = all_reduce_sum(sums.to(device), info).cpu()
    pa_mpjpe = float(total[0] / total[1] * 1000.0) if total[1] > 0 else float("nan")
    pa_mpvpe = float(total[2] / total[3] * 1000.0) if total[3] > 0 else None
    return ValResult(pa_mpjpe_mm=pa_mpjpe, pa_mpvpe_mm=pa_mpvpe, num_samples=int(total[1]), panels=panels)
