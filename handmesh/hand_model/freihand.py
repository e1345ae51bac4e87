"""FreiHAND's 61-number MANO annotation <-> camera-frame mesh and keypoints, exactly as the FreiHAND toolbox does it.

``training_mano.json`` stores per sample ``[pose (48), shape (10), uv_root (2), scale (1)]``:

* ``pose``: axis-angle, 3 global + 45 finger numbers, the fingers relative to ``hands_mean`` (the toolbox loads MANO
  with ``flat_hand_mean=False`` and no PCA);
* ``uv_root`` and ``scale`` place the hand: with ``focal = (fx + fy) / 2`` and ``pp = (cx, cy)`` from K, the root
  keypoint sits at ``xyz_root = [uv_root - pp, focal] / scale`` (the toolbox's ``recover_root``/``backproject_ortho``),
  and the posed mesh is translated so that keypoint 9 (the middle finger's MCP joint, 21-keypoint order) lands there.

Keypoints are FreiHAND's (the toolbox's ``_calc_coords``): the joint regressor applied to the posed mesh, plus the
fingertip vertices, in the 21-keypoint order (:meth:`~handmesh.hand_model.HandModel.keypoints`); all outputs are
metres in the camera frame. FreiHAND annotates right hands only.
"""

from __future__ import annotations

import numpy as np
import torch

from handmesh.geometry.rotations import axis_angle_to_matrix
from handmesh.hand_model.model import HandModel, HandOutput

__all__ = ["FREIHAND_ROOT_KEYPOINT", "split_freihand_mano", "freihand_mano_to_mesh", "mesh_to_freihand_mano"]

# The keypoint uv_root/scale refer to: 9 = middle_mcp in the 21-keypoint order (the toolbox's root_id=9).
FREIHAND_ROOT_KEYPOINT = 9


def _as_tensor(x: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple)):
        return torch.from_numpy(np.array(x, dtype=np.float64))  # a copy: inputs may be read-only views
    raise TypeError(f"{name}: expected a numpy array or a torch tensor, got {type(x).__name__}")


def _intrinsics(K: torch.Tensor, n: int) -> torch.Tensor:
    if K.shape == (3, 3):
        K = K.expand(n, 3, 3)
    if K.dim() == 4 and K.shape[1] == 1:  # FreiHAND-style nesting (N, 1, 3, 3)
        K = K[:, 0]
    if K.shape != (n, 3, 3):
        raise ValueError(f"K: expected shape ({n}, 3, 3) = (N, 3, 3) or (3, 3), got {tuple(K.shape)}")
    return K


def _focal_pp(K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The toolbox's ``get_focal_pp``: mean focal length ``(N,)`` and principal point ``(N, 2)``."""
    return 0.5 * (K[:, 0, 0] + K[:, 1, 1]), K[:, :2, 2]


def split_freihand_mano(mano61: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(N, 61)`` -> ``pose (N, 48)``, ``betas (N, 10)``, ``uv_root (N, 2)`` pixels, ``scale (N,)``."""
    return mano61[:, :48], mano61[:, 48:58], mano61[:, 58:60], mano61[:, 60]


def _check_model(model: HandModel) -> None:
    if not model.is_right:
        raise ValueError("model: FreiHAND annotations describe right hands; build the right-hand model")


def _pose_freihand(pose48: torch.Tensor, betas: torch.Tensor, model: HandModel) -> HandOutput:
    """Pose the model from FreiHAND-convention parameters, untranslated, whatever the model's pose options are."""
    dtype = model.v_template.dtype
    pose48 = pose48.to(dtype)
    # Absolute rotations: the finger numbers are offsets from hands_mean (flat_hand_mean=False in the toolbox).
    fingers = (pose48[:, 3:] + model.hands_mean).reshape(-1, 15, 3)
    return model(axis_angle_to_matrix(pose48[:, :3]), axis_angle_to_matrix(fingers), betas.to(dtype))


def freihand_mano_to_mesh(
    mano61: np.ndarray | torch.Tensor,
    K: np.ndarray | torch.Tensor,
    model: HandModel,
    *,
    batch_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]:
    """Vertices and 21 keypoints of FreiHAND MANO annotations, in the camera frame.

    Args:
        mano61: ``(N, 61)`` (or ``(N, 1, 61)`` as the json nests it): pose 48, shape 10, uv_root 2, scale 1.
        K: ``(N, 3, 3)`` (or ``(3, 3)`` for all) camera intrinsics, pixels.
        model: a right-hand model (MANO for FreiHAND's own annotations; the open hand for files written with it).
            Its ``flat_hand_mean``/``use_pca`` settings do not matter: the FreiHAND convention is applied here.
        batch_size: samples per forward pass (bounds memory for the full 32,560-sample file). Default: 1024.

    Returns:
        ``verts (N, V, 3)`` and ``joints (N, 21, 3)``, metres. numpy float32 for numpy input, torch tensors
        (differentiable, on the model's device) for tensor input.
    """
    _check_model(model)
    is_numpy = not isinstance(mano61, torch.Tensor)
    m = _as_tensor(mano61, "mano61")
    if m.dim() == 3 and m.shape[1] == 1:
        m = m[:, 0]
    if m.dim() != 2 or m.shape[1] != 61:
        raise ValueError(f"mano61: expected shape (N, 61), got {tuple(m.shape)}")
    device, dtype = model.v_template.device, model.v_template.dtype
    m = m.to(device=device, dtype=dtype)
    Kt = _intrinsics(_as_tensor(K, "K").to(device=device, dtype=dtype), m.shape[0])
    verts_out, joints_out = [], []
    for start in range(0, m.shape[0], batch_size):
        mb, Kb = m[start : start + batch_size], Kt[start : start + batch_size]
        pose, betas, uv_root, scale = split_freihand_mano(mb)
        focal, pp = _focal_pp(Kb)
        xyz_root = torch.cat([uv_root - pp, focal[:, None]], dim=1) / scale[:, None]  # (b, 3)
        out = _pose_freihand(pose, betas, model)
        shift = (xyz_root - out.joints[:, FREIHAND_ROOT_KEYPOINT])[:, None]  # new root - old root
        verts_out.append(out.vertices + shift)
        joints_out.append(out.joints + shift)
    if not verts_out:
        empty_v = torch.zeros(0, model.num_vertices, 3, dtype=dtype, device=device)
        verts_out, joints_out = [empty_v], [torch.zeros(0, 21, 3, dtype=dtype, device=device)]
    verts, joints = torch.cat(verts_out), torch.cat(joints_out)
    if is_numpy:
        return verts.detach().cpu().numpy().astype(np.float32), joints.detach().cpu().numpy().astype(np.float32)
    return verts, joints


def mesh_to_freihand_mano(
    pose48: np.ndarray | torch.Tensor,
    betas: np.ndarray | torch.Tensor,
    K: np.ndarray | torch.Tensor,
    model: HandModel,
    *,
    transl: np.ndarray | torch.Tensor | None = None,
    joints: np.ndarray | torch.Tensor | None = None,
    vertices: np.ndarray | torch.Tensor | None = None,
) -> np.ndarray | torch.Tensor:
    """The 61-number FreiHAND annotation of a posed, placed hand: the inverse of :func:`freihand_mano_to_mesh`.

    Give the placement as exactly one of ``transl``, ``joints`` or ``vertices``.

    Args:
        pose48: ``(N, 48)`` axis-angle in FreiHAND's convention (fingers relative to ``hands_mean``).
        betas: ``(N, 10)``.
        K: ``(N, 3, 3)`` or ``(3, 3)`` intrinsics, pixels.
        model: the right-hand model the annotation is for.
        transl: ``(N, 3)`` metres, the translation added to the untranslated model output (camera frame).
        joints: ``(N, 21, 3)`` metres, the placed keypoints (only keypoint 9 is used).
        vertices: ``(N, V, 3)`` metres, the placed mesh (the translation is the mean offset from the model).

    Returns:
        ``(N, 61)``: pose, betas, uv_root (pixels), scale; numpy float64 for numpy ``pose48``, else a tensor.

    Raises:
        ValueError: not exactly one placement given, or the root is not in front of the camera (z <= 0).
    """
    _check_model(model)
    given = [x is not None for x in (transl, joints, vertices)]
    if sum(given) != 1:
        raise ValueError("mesh_to_freihand_mano: give exactly one of transl, joints or vertices")
    is_numpy = not isinstance(pose48, torch.Tensor)
    device, dtype = model.v_template.device, model.v_template.dtype
    pose = _as_tensor(pose48, "pose48")
    if pose.dim() != 2 or pose.shape[1] != 48:
        raise ValueError(f"pose48: expected shape (N, 48), got {tuple(pose.shape)}")
    n = pose.shape[0]
    b = _as_tensor(betas, "betas")
    if tuple(b.shape) != (n, 10):
        raise ValueError(f"betas: expected shape ({n}, 10) = (N, 10), got {tuple(b.shape)}")
    # The annotation is computed in float64 so that writing it and reading it back loses nothing measurable.
    work = torch.float64
    Kt = _intrinsics(_as_tensor(K, "K").to(dtype=work, device=device), n)
    if joints is not None:
        jt = _as_tensor(joints, "joints").to(dtype=work, device=device)
        if jt.dim() != 3 or jt.shape[0] != n or jt.shape[1:] != (21, 3):
            raise ValueError(f"joints: expected shape ({n}, 21, 3) = (N, 21, 3), got {tuple(jt.shape)}")
        root = jt[:, FREIHAND_ROOT_KEYPOINT]
    else:
        out = _pose_freihand(pose.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype), model)
        if transl is not None:
            t = _as_tensor(transl, "transl").to(dtype=work, device=device)
            if tuple(t.shape) != (n, 3):
                raise ValueError(f"transl: expected shape ({n}, 3) = (N, 3), got {tuple(t.shape)}")
        else:
            v = _as_tensor(vertices, "vertices").to(dtype=work, device=device)  # type: ignore[arg-type]
            if v.dim() != 3 or v.shape[0] != n or v.shape[1:] != (model.num_vertices, 3):
                raise ValueError(
                    f"vertices: expected shape ({n}, {model.num_vertices}, 3) = (N, V, 3), got {tuple(v.shape)}"
                )
            t = (v - out.vertices.to(work)).mean(dim=1)
        root = out.joints[:, FREIHAND_ROOT_KEYPOINT].to(work) + t
    if n and bool((root[:, 2] <= 0).any()):
        bad = int(torch.nonzero(root[:, 2] <= 0)[0, 0])
        raise ValueError(f"sample {bad}: the root keypoint is not in front of the camera (z = {root[bad, 2]:.4f} m)")
    focal, pp = _focal_pp(Kt)
    scale = focal / root[:, 2]  # (N,)
    uv_root = pp + root[:, :2] * scale[:, None]  # inverse of xyz_root = [uv_root - pp, focal] / scale
    parts = [pose.to(device=device, dtype=work), b.to(device=device, dtype=work), uv_root, scale[:, None]]
    result = torch.cat(parts, dim=1)  # (N, 61)
    if is_numpy:
        return result.detach().cpu().numpy()
    return result
