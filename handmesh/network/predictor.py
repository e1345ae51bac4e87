"""A trained network as a camera-frame predictor: crops and their intrinsics in, keypoints and vertices out.

The network predicts a root-relative hand and where its keypoints fall in the crop. With the crop's intrinsics K the
translation that puts the hand there under full perspective is the least-squares solution of
:func:`~handmesh.geometry.camera_solve.solve_translation` (exact for crops anywhere in the image, unlike the
weak-perspective shortcut).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from handmesh.errors import BackendUnavailableError, ConfigError
from handmesh.geometry.camera_solve import solve_translation
from handmesh.geometry.projection import crop_normalized_to_pixels
from handmesh.network.checkpoint import CheckpointInfo, load_network
from handmesh.network.model import HandMeshNet

__all__ = ["NetworkPredictor", "check_torch_device", "place_in_camera", "resolve_device"]


def place_in_camera(
    joints: torch.Tensor, verts: torch.Tensor, joints2d: torch.Tensor, K: torch.Tensor, input_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Root-relative predictions -> camera frame: the least-squares translation that projects ``joints`` with the
    crops' ``K (B, 3, 3)`` onto ``joints2d (B, 21, 2)`` (normalized crop coordinates of a side-``input_size`` crop).

    Returns:
        ``xyz (B, 21, 3)`` and ``verts (B, V, 3)`` float32 on the CPU, metres.
    """
    joints, verts = joints.float().cpu(), verts.float().cpu()
    uv = crop_normalized_to_pixels(joints2d.float().cpu(), input_size)  # (B, 21, 2) pixels
    t = solve_translation(joints, uv, K.to(torch.float32).cpu())  # (B, 3)
    return joints + t[:, None], verts + t[:, None]


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else MPS, else CPU; other names are passed to :class:`torch.device`.

    Raises:
        BackendUnavailableError: a CUDA or MPS device was asked for but is not available.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailableError(f"device {device!r}: CUDA is not available on this machine")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise BackendUnavailableError(f"device {device!r}: MPS is not available on this machine")
    return dev


@dataclass
class NetworkPredictor:
    """``predictor(images, K) -> (xyz (B, 21, 3), verts (B, V, 3))`` in metres in the camera frame of the crop.

    Attributes:
        network: the network, in eval mode.
        info: its checkpoint info.
        device: where it runs.
        input_size: crop side S the images must have.
    """

    network: HandMeshNet
    info: CheckpointInfo
    device: torch.device

    @property
    def input_size(self) -> int:
        """Crop side S in pixels."""
        return int(self.network.input_size)

    @classmethod
    def from_checkpoint(cls, checkpoint: str | os.PathLike, device: str = "auto") -> NetworkPredictor:
        """Load ``checkpoint`` with :func:`~handmesh.network.load_network` onto ``device``."""
        dev = resolve_device(device)
        net, info = load_network(checkpoint, map_location=dev)
        return cls(network=net, info=info, device=dev)

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict.

        Args:
            images: ``(B, 3, S, S)`` normalized crops.
            K: ``(B, 3, 3)`` intrinsics of the crops, pixels.

        Returns:
            ``xyz (B, 21, 3)`` and ``verts (B, V, 3)``, metres, camera frame (on the CPU).
        """
        out = self.network(images.to(self.device, torch.float32))
        return place_in_camera(out.joints, out.vertices, out.joints2d, K, self.input_size)


def check_torch_device(device: str) -> torch.device:
    """:func:`~handmesh.network.resolve_device`, re-raised with the backend named."""
    try:
        return resolve_device(device)
    except BackendUnavailableError as e:
        raise BackendUnavailableError(f"backend 'torch': {e}") from e
    except RuntimeError as e:  # torch.device("nonsense")
        raise ConfigError(f"device {device!r}: expected auto, cpu, cuda, cuda:N or mps ({e})") from e
