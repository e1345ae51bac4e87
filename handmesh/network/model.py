"""The hand mesh network: a FastViT encoder, an iterative-error-feedback head and a hand model layer.

    images (B, 3, S, S) normalized
      -> FastViT.forward_features -> pooled (B, C)  [+ global average of the stage-3 map (B, C3) with fusion]
      -> IEFRegressor (3 iterations from the mean parameters) -> 6D pose (B, 16, 6), betas (B, 10), (log s, tx, ty)
      -> rot6d_to_matrix -> HandModel (absolute joint rotations) -> vertices, 21 joints
      -> root-relative (wrist at the origin) -> weak-perspective projection into the crop

The hand model's arrays are not part of the network's state dict: they come from the model file named in the
config (for MANO, a licensed file that a checkpoint must not redistribute), and :func:`load_network` rebuilds the
layer from the name stored in the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fastvit_backbone import create_model, is_reparameterized, reparameterize_model
from handmesh.errors import ConfigError
from handmesh.geometry.projection import weak_perspective_project
from handmesh.geometry.rotations import rot6d_to_matrix
from handmesh.network.head import NUM_BETAS, NUM_JOINTS, IEFRegressor, mean_parameters
from handmesh.network.spatial_head import SpatialHead

__all__ = ["HEADS", "HandMeshNet", "HandMeshOutput", "IMAGENET_MEAN", "IMAGENET_STD", "HAND_MODEL_PREFIX"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HAND_MODEL_PREFIX = "hand_model."
HEADS = ("pooled", "spatial")  # model.head: the regressor (network/head.py) or the spatial head (spatial_head.py)
FUSION_STAGE = 2  # stage 3 of 4 (stride 16): the deepest map that still resolves individual fingers


@dataclass
class HandMeshOutput:
    """What :class:`HandMeshNet` predicts for ``B`` crops of side ``S``. Metres; camera axes of the crop.

    Attributes:
        rotmats: ``(B, 16, 3, 3)`` absolute joint rotations (index 0 the global orientation, then MANO's finger
            order: index, middle, pinky, ring, thumb).
        betas: ``(B, 10)`` shape coefficients.
        cam: ``(B, 3)`` weak-perspective crop camera ``(s, tx, ty)``: ``uv_norm = s * (xy + (tx, ty))``, ``s > 0``
            in 1/metres, ``tx, ty`` in metres.
        vertices: ``(B, V, 3)`` mesh, root-relative (wrist keypoint at the origin), metres.
        joints: ``(B, 21, 3)`` keypoints in FreiHAND/OpenPose order, root-relative (``joints[:, 0] == 0``), metres.
        joints2d: ``(B, 21, 2)`` keypoints projected into the crop, normalized coordinates
            ``(uv_px - S/2) / (S/2)`` (-1 and 1 are the crop edges).
        head_keypoints2d: the spatial head's ``(B, 21, 2)`` soft-argmax keypoints in the same coordinates, for the
            ``head2d`` loss; None for the pooled head. Not one of the network's declared outputs
            (:mod:`handmesh.network.outputs`): exports leave it out.
        head_heatmaps: the spatial head's ``(B, 21, H*W)`` heatmap logits on the stride-8 map (row-major), for the
            ``heatmap`` loss; None for the pooled head. Not exported either.
    """

    rotmats: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor
    vertices: torch.Tensor
    joints: torch.Tensor
    joints2d: torch.Tensor
    head_keypoints2d: torch.Tensor | None = None
    head_heatmaps: torch.Tensor | None = None


class HandMeshNet(nn.Module):
    """FastViT encoder -> HMR-style regressor -> hand model.

    Args:
        hand_model: a right-hand :class:`~handmesh.hand_model.HandModel` (left hands are mirrored into right ones
            by the crop). Its NaN check is switched off: training handles non-finite values itself.
        variant: FastViT variant name (``fastvit_t8`` ... ``fastvit_ma36``). Default: ``"fastvit_t8"``.
        input_size: crop side S in pixels, a multiple of 32. Default: 224.
        feature_fusion: concatenate the global average of the stage-3 map to the pooled features. Default: False.
        ief_iterations: feedback iterations of the head. Default: 3.
        head_hidden: width of the head's hidden layers. Default: 1024.
        head_dropout: dropout in the head. Default: 0.
        head: ``"pooled"`` (iterative error feedback from the pooled features) or ``"spatial"`` (tokens sampled at
            soft-argmax keypoints of the stride-16/32 maps, :mod:`handmesh.network.spatial_head`). Default:
            ``"pooled"``.
        drop_path_rate: stochastic depth of the encoder. Default: 0.
        inference_mode: build the encoder reparameterized (to load a fused state dict). Default: False.

    Attributes:
        variant, input_size, hand_model_name, side: what :func:`~handmesh.network.load_network` needs to rebuild
            the network; ``mean`` and ``std`` are the input normalization (ImageNet, RGB).
    """

    def __init__(
        self,
        hand_model: nn.Module,
        *,
        variant: str = "fastvit_t8",
        input_size: int = 224,
        feature_fusion: bool = False,
        ief_iterations: int = 3,
        head_hidden: int = 1024,
        head_dropout: float = 0.0,
        head: str = "pooled",
        drop_path_rate: float = 0.0,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        if input_size <= 0 or input_size % 32:
            raise ConfigError(f"model.input_size = {input_size}: expected a positive multiple of 32 (e.g. 224, 256)")
        if not getattr(hand_model, "is_right", False):
            raise ConfigError(
                "the network predicts right hands (left hands are mirrored by the crop): build the right-hand model"
            )
        self.backbone = create_model(
            variant, num_classes=0, drop_path_rate=drop_path_rate, inference_mode=inference_mode
        )
        self.variant: str = str(self.backbone.variant)
        self.input_size = int(input_size)
        self.feature_fusion = bool(feature_fusion)
        self.hand_model = hand_model
        self.hand_model.check_inputs = False  # a NaN step must reach the trainer's skip logic, not raise here
        self.hand_model_name: str = str(hand_model.name)
        self.side = "right"
        self.mean = IMAGENET_MEAN
        self.std = IMAGENET_STD
        if head not in HEADS:
            raise ConfigError(f"model.head = {head!r}: expected one of {', '.join(HEADS)}")
        self.head_kind = head
        if head == "spatial":
            channels = self.backbone.stage_channels
            self.head = SpatialHead(
                channels[1],
                channels[2],
                channels[3],
                self.input_size,
                mean_parameters(hand_model),
                hidden=head_hidden,
                dropout=head_dropout,
            )
        else:
            in_features = self.backbone.num_features
            if self.feature_fusion:
                in_features += self.backbone.stage_channels[FUSION_STAGE]
            self.head = IEFRegressor(
                in_features,
                mean_parameters(hand_model),
                hidden=head_hidden,
                iterations=ief_iterations,
                dropout=head_dropout,
            )
        self.init_kwargs: dict[str, Any] = dict(
            variant=self.variant,
            input_size=self.input_size,
            feature_fusion=self.feature_fusion,
            ief_iterations=int(ief_iterations),
            head_hidden=int(head_hidden),
            head_dropout=float(head_dropout),
            head=str(head),
            drop_path_rate=float(drop_path_rate),
        )
        # The hand model's arrays come from its own file: keep them out of checkpoints (see the module docstring).
        self._register_state_dict_hook(_drop_hand_model_keys)
        self.register_load_state_dict_post_hook(_ignore_missing_hand_model_keys)

    # ------------------------------------------------------------------------------------------------------------
    @property
    def inference_mode(self) -> bool:
        """Whether the encoder is reparameterized (read by :func:`fastvit_backbone.is_reparameterized`)."""
        return is_reparameterized(self.backbone)

    def reparameterize(self) -> HandMeshNet:
        """Fuse the encoder's train-time branches in place (idempotent); the head and hand model are untouched.

        Call in eval mode before export: fusion uses the BatchNorms' running statistics.

        Returns:
            ``self``.
        """
        reparameterize_model(self.backbone, inplace=True)
        return self

    def features(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Encoder features for the head.

        Args:
            images: ``(B, 3, S, S)`` normalized RGB.

        Returns:
            The pooled head: ``((B, C),)`` (``C = num_features``, plus the stage-3 width with ``feature_fusion``).
            The spatial head: the stride-8, stride-16 and stride-32 maps.
        """
        feats = self.backbone.forward_features(images)
        if self.head_kind == "spatial":
            return feats.stages[1], feats.stages[2], feats.stages[3]
        if not self.feature_fusion:
            return (feats.pooled,)
        return (torch.cat([feats.pooled, feats.stages[FUSION_STAGE].mean(dim=(2, 3))], dim=1),)

    def forward(self, images: torch.Tensor) -> HandMeshOutput:
        """Predict hands in crops.

        Args:
            images: ``(B, 3, S, S)`` float, RGB normalized with :attr:`mean` and :attr:`std`.

        Returns:
            :class:`HandMeshOutput`.
        """
        features = self.features(images)
        # The head accumulates corrections and LBS chains 16 rotations: both keep float32 under mixed precision.
        with _autocast_off(images.device.type):
            head_keypoints2d = head_heatmaps = None
            if isinstance(self.head, SpatialHead):
                pose6d, betas, cam_state, head_keypoints2d, head_heatmaps = self.head.predict(
                    *(f.float() for f in features)
                )
            else:
                pose6d, betas, cam_state = self.head(*(f.float() for f in features))
            B = images.shape[0]
            rotmats = rot6d_to_matrix(pose6d.reshape(B, NUM_JOINTS, 6))  # (B, 16, 3, 3)
            out = self.hand_model(rotmats[:, 0], rotmats[:, 1:], betas)
            root = out.joints[:, :1]  # (B, 1, 3) wrist
            joints = out.joints - root
            vertices = out.vertices - root
            cam = torch.cat([cam_state[:, :1].exp(), cam_state[:, 1:]], dim=1)  # (B, 3) = (s, tx, ty)
            joints2d = weak_perspective_project(joints, cam)
        return HandMeshOutput(
            rotmats=rotmats,
            betas=betas.reshape(B, NUM_BETAS),
            cam=cam,
            vertices=vertices,
            joints=joints,
            joints2d=joints2d,
            head_keypoints2d=head_keypoints2d,
            head_heatmaps=head_heatmaps,
        )

    def extra_repr(self) -> str:
        return (
            f"variant={self.variant!r}, input_size={self.input_size}, hand_model={self.hand_model_name!r}, "
            f"feature_fusion={self.feature_fusion}"
        )


class _autocast_off:
    """Disable autocast for one device type inside a block, and only when it is on (keeps tracing clean)."""

    def __init__(self, device_type: str) -> None:
        self.device_type = device_type
        self.ctx: Any = None

    def __enter__(self) -> None:
        try:
            enabled = torch.is_autocast_enabled(self.device_type)
        except (TypeError, RuntimeError):  # device types without autocast support
            enabled = False
        if enabled:
            self.ctx = torch.autocast(self.device_type, enabled=False)
            self.ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self.ctx is not None:
            self.ctx.__exit__(*exc)
            self.ctx = None


def _drop_hand_model_keys(module: nn.Module, state_dict: dict, prefix: str, local_metadata: Any) -> None:
    for key in [k for k in state_dict if k.startswith(prefix + HAND_MODEL_PREFIX)]:
        del state_dict[key]


def _ignore_missing_hand_model_keys(module: nn.Module, incompatible: Any) -> None:
    missing = incompatible.missing_keys
    missing[:] = [k for k in missing if not k.startswith(HAND_MODEL_PREFIX) and f".{HAND_MODEL_PREFIX}" not in k]
