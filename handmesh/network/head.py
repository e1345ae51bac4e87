"""The regression head: HMR's iterative error feedback (Kanazawa et al., "End-to-end Recovery of Human Shape and
Pose", CVPR 2018, Sec. 3.2) from pooled image features to hand parameters.

Starting from the mean parameters, each of ``iterations`` steps reads ``[features, current parameters]`` and adds a
correction. Parameters are 16 joint rotations in the continuous 6D form of Zhou et al. ("On the Continuity of
Rotation Representations in Neural Networks", CVPR 2019), 10 shape coefficients (betas) and the crop camera, kept
as ``(log s, tx, ty)`` so that the scale stays positive whatever the corrections add up to.

:func:`mean_parameters` derives the starting point from a hand model: its mean finger pose, a palm-to-camera
orientation, zero betas and a camera that makes the hand fill most of the crop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from handmesh.geometry.rotations import axis_angle_to_matrix, matrix_to_rot6d

__all__ = ["IEFRegressor", "MeanParameters", "mean_parameters", "NUM_JOINTS", "NUM_BETAS", "NUM_CAM"]

NUM_JOINTS = 16  # wrist (global orientation) + 15 finger joints, MANO order
NUM_BETAS = 10
NUM_CAM = 3  # (log s, tx, ty)
DEFAULT_FILL = 0.7  # the mean hand's longer image-plane side spans this fraction of the crop


@dataclass
class MeanParameters:
    """Where the regressor starts.

    Attributes:
        pose6d: ``(16, 6)`` joint rotations in 6D (index 0 the global orientation, then MANO's finger order).
        betas: ``(10,)`` shape coefficients.
        cam: ``(3,)`` ``(log s, tx, ty)``; ``s`` in 1/metres, ``tx, ty`` in metres (see
            :func:`~handmesh.geometry.projection.weak_perspective_project`).
    """

    pose6d: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor


def _canonical_orientation(hand_model: nn.Module) -> torch.Tensor:
    """``(3, 3)``: palm towards the camera (-z), fingers up in the image (-y), from the model's rest joints."""
    from handmesh.hand_model.anatomy import HandFrame

    frame = HandFrame.from_model(hand_model)
    return torch.as_tensor(frame.canonical_rotation(), dtype=torch.float32)


@torch.no_grad()
def mean_parameters(hand_model: nn.Module, fill: float = DEFAULT_FILL) -> MeanParameters:
    """The regressor's starting point for ``hand_model``.

    * fingers: the model's ``hands_mean`` as absolute rotations (the relaxed hand MANO's pose space centres on);
    * global orientation: palm to the camera, fingers up (the most common view in FreiHAND-style crops);
    * betas: zeros (the mean shape);
    * camera: ``s`` and ``(tx, ty)`` such that the mean hand's root-relative vertices, projected, are centred in the
      crop with their longer side spanning ``fill`` of it.

    Args:
        hand_model: a right-hand :class:`~handmesh.hand_model.HandModel`.
        fill: fraction of the crop side the mean hand spans. Default: 0.7.

    Returns:
        :class:`MeanParameters` (float32, CPU).
    """
    fingers = axis_angle_to_matrix(hand_model.hands_mean.detach().float().cpu().reshape(NUM_JOINTS - 1, 3))
    glob = _canonical_orientation(hand_model)
    rot = torch.cat([glob[None], fingers], dim=0)  # (16, 3, 3)
    betas = torch.zeros(NUM_BETAS)
    device = hand_model.v_template.device
    out = hand_model(rot[:1].to(device), rot[None, 1:].to(device), betas[None].to(device))
    verts = (out.vertices - out.joints[:, :1])[0].cpu()  # (V, 3) root-relative
    lo, hi = verts[:, :2].min(dim=0).values, verts[:, :2].max(dim=0).values
    centre = (lo + hi) / 2
    half = float((hi - lo).max()) / 2
    # uv_norm = s (xy + t) lies in [-fill, fill] along the longer side: s = fill / half, t = -centre.
    scale = fill / max(half, 1e-6)
    cam = torch.tensor([math.log(scale), -float(centre[0]), -float(centre[1])])
    return MeanParameters(pose6d=matrix_to_rot6d(rot), betas=betas, cam=cam)


class IEFRegressor(nn.Module):
    """Iterative error feedback regressor: features -> (6D pose, betas, camera state).

    Per iteration: ``x = [features, pose6d, betas, cam]`` -> Linear -> ReLU -> Dropout -> Linear -> ReLU -> Dropout
    -> three linear decoders whose outputs are added to the parameters. The decoders start with small weights
    (Xavier, gain 0.01, as in HMR and SPIN) so an untrained head outputs close to the mean parameters.

    Args:
        in_features: width of the image feature vector.
        mean: the starting parameters (:func:`mean_parameters`).
        hidden: width of the two hidden layers. Default: 1024.
        iterations: feedback iterations (HMR: 3). Default: 3.
        dropout: dropout after each hidden layer. Default: 0.

    Buffers ``init_pose (1, 96)``, ``init_betas (1, 10)``, ``init_cam (1, 3)`` hold the mean parameters and are
    saved in the state dict.
    """

    def __init__(
        self,
        in_features: int,
        mean: MeanParameters,
        *,
        hidden: int = 1024,
        iterations: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError(f"iterations: expected >= 1, got {iterations}")
        self.iterations = int(iterations)
        npose = NUM_JOINTS * 6
        self.fc1 = nn.Linear(in_features + npose + NUM_BETAS + NUM_CAM, hidden)
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, hidden)
        self.drop2 = nn.Dropout(dropout)
        self.dec_pose = nn.Linear(hidden, npose)
        self.dec_betas = nn.Linear(hidden, NUM_BETAS)
        self.dec_cam = nn.Linear(hidden, NUM_CAM)
        for dec in (self.dec_pose, self.dec_betas, self.dec_cam):
            nn.init.xavier_uniform_(dec.weight, gain=0.01)
            nn.init.zeros_(dec.bias)
        self.register_buffer("init_pose", mean.pose6d.reshape(1, npose).float().clone())
        self.register_buffer("init_betas", mean.betas.reshape(1, NUM_BETAS).float().clone())
        self.register_buffer("init_cam", mean.cam.reshape(1, NUM_CAM).float().clone())

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Regress the parameters.

        Args:
            features: ``(B, in_features)``.

        Returns:
            ``pose6d (B, 96)``, ``betas (B, 10)``, ``cam_state (B, 3)`` = ``(log s, tx, ty)``.
        """
        B = features.shape[0]
        pose = self.init_pose.expand(B, -1)
        betas = self.init_betas.expand(B, -1)
        cam = self.init_cam.expand(B, -1)
        for _ in range(self.iterations):
            x = torch.cat([features, pose, betas, cam], dim=1)  # (B, in_features + 109)
            x = self.drop1(torch.relu(self.fc1(x)))
            x = self.drop2(torch.relu(self.fc2(x)))
            pose = pose + self.dec_pose(x)
            betas = betas + self.dec_betas(x)
            cam = cam + self.dec_cam(x)
        return pose, betas, cam

    def extra_repr(self) -> str:
        return f"iterations={self.iterations}"
