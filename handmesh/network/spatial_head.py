"""The spatial head: hand parameters from features sampled where the keypoints are, not from one pooled vector.

A pooled vector tells the regressor where the hand is and little about how each finger bends. This head keeps the
stride-8 map, with the stride-16 and stride-32 maps upsampled and added to it (a small feature pyramid: the deep
maps say what is there, the shallow one where):

1. 21 heatmaps from that map; a softmax over each gives an attention map, and its expectation over the pixel grid
   (soft-argmax) a 2D keypoint in normalized crop coordinates.
2. Each keypoint's token is the same attention map applied to the features: the features *at* the keypoint and its
   neighbours, as much as the map's spread says (a weighted mean, so it exports as a matrix product: no grid
   sampling, which ONNX, TorchScript and Core ML treat differently). The token also carries its keypoint's
   position and an embedding of which keypoint it is.
3. Two mixer blocks over the 21 tokens (an MLP across tokens, then one across channels, each with a residual and
   LayerNorm), then an MLP from all tokens to the same outputs as the pooled head: 16 rotations in 6D, 10 betas and
   the crop camera ``(log s, tx, ty)``, as corrections to the model's mean parameters.

The soft-argmax keypoints come out beside the hand (``HandMeshOutput.head_keypoints2d``) so that training can
supervise them directly (the ``head2d`` loss term), as SimpleHand does: then each token is sampled where its keypoint
really is from the first steps on, instead of wherever the mesh losses happen to push the attention. The heatmap
logits come out too (``HandMeshOutput.head_heatmaps``) for the ``heatmap`` term, a Gaussian target around each true
keypoint: it gives every cell of the map a gradient, where the L1 on the expectation gives the map one direction,
and the keypoints sharpen sooner (docs/training.md). ``model.head=spatial`` chooses it
(:class:`~handmesh.network.HandMeshNet`).
"""

from __future__ import annotations

import torch
from torch import nn

from handmesh.geometry.projection import crop_pixels_to_normalized, map_cell_centres
from handmesh.network.head import NUM_BETAS, NUM_CAM, NUM_JOINTS, MeanParameters

__all__ = ["NUM_KEYPOINTS", "SpatialHead"]

NUM_KEYPOINTS = 21


class _MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, hidden), nn.GELU(), nn.Linear(hidden, tokens))
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mlp = nn.Sequential(
            nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, K, D)
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class SpatialHead(nn.Module):
    """Stride-8/16/32 encoder maps -> ``(pose6d (B, 96), betas (B, 10), cam (B, 3))`` like the pooled head.

    Args:
        channels8: channels of the stride-8 map (stage 2).
        channels16: channels of the stride-16 map (stage 3).
        channels32: channels of the stride-32 map (stage 4).
        input_size: crop side S in pixels, a multiple of 32 (the stride-8 map is S/8 on a side).
        mean: where the parameters start (:func:`~handmesh.network.head.mean_parameters`).
        dim: token width. Default: 128.
        hidden: width of the final MLP. Default: 512.
        dropout: dropout in the MLPs. Default: 0.

    """

    def __init__(
        self,
        channels8: int,
        channels16: int,
        channels32: int,
        input_size: int,
        mean: MeanParameters,
        dim: int = 128,
        hidden: int = 512,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.proj8 = nn.Sequential(nn.Conv2d(channels8, dim, 1), nn.BatchNorm2d(dim), nn.GELU())
        self.proj16 = nn.Sequential(nn.Conv2d(channels16, dim, 1), nn.BatchNorm2d(dim), nn.GELU())
        self.proj32 = nn.Sequential(nn.Conv2d(channels32, dim, 1), nn.BatchNorm2d(dim), nn.GELU())
        self.mix = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1, groups=dim), nn.Conv2d(dim, dim, 1), nn.GELU())
        self.heat = nn.Conv2d(dim, NUM_KEYPOINTS, 1)
        self.position = nn.Linear(2, dim)
        self.identity = nn.Parameter(torch.zeros(NUM_KEYPOINTS, dim))
        nn.init.normal_(self.identity, std=0.02)
        self.blocks = nn.Sequential(*[_MixerBlock(NUM_KEYPOINTS, dim, 4 * NUM_KEYPOINTS, dropout) for _ in range(2)])
        self.norm = nn.LayerNorm(dim)
        n_out = NUM_JOINTS * 6 + NUM_BETAS + NUM_CAM
        self.regress = nn.Sequential(
            nn.Linear(NUM_KEYPOINTS * dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_out)
        )
        nn.init.zeros_(self.regress[-1].weight)  # start at the mean parameters
        nn.init.zeros_(self.regress[-1].bias)
        self.register_buffer("init_pose", mean.pose6d.reshape(-1).clone())
        self.register_buffer("init_betas", mean.betas.clone())
        self.register_buffer("init_cam", mean.cam.clone())
        # The stride-8 map's cell centres in the network's normalized crop coordinates, (HW, 2) as (u, v), row-major:
        # cell i covers input pixels 8i .. 8i + 7, centre 8i + 3.5 (map_cell_centres, which the heatmap loss's
        # targets use too). A constant of the input size, so that no shape arithmetic is traced into the exported
        # graphs.
        n = input_size // 8
        centres = crop_pixels_to_normalized(map_cell_centres(n, input_size), input_size)
        self.register_buffer("grid", torch.stack([centres.repeat(n), centres.repeat_interleave(n)], dim=-1))

    def forward(
        self, map8: torch.Tensor, map16: torch.Tensor, map32: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The hand parameters of ``B`` crops from their stride-8 ``(B, C8, H, W)``, stride-16
        ``(B, C16, H/2, W/2)`` and stride-32 ``(B, C32, H/4, W/4)`` maps."""
        pose, betas, cam, _, _ = self.predict(map8, map16, map32)
        return pose, betas, cam

    def predict(
        self, map8: torch.Tensor, map16: torch.Tensor, map32: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`forward`, the ``(B, 21, 2)`` soft-argmax keypoints in normalized crop coordinates
        (``(uv_px - S/2) / (S/2)``, as ``HandMeshOutput.joints2d``) and the ``(B, 21, H*W)`` heatmap logits whose
        softmax weighed them (row-major over the stride-8 map)."""
        deep = self.proj16(map16)
        deep = deep + nn.functional.interpolate(self.proj32(map32), scale_factor=2.0, mode="nearest")
        x = self.proj8(map8) + nn.functional.interpolate(deep, scale_factor=2.0, mode="nearest")
        x = self.mix(x)
        logits = self.heat(x).flatten(2)  # (B, 21, HW)
        attention = logits.softmax(dim=-1)
        keypoints = attention @ self.grid  # (B, 21, 2): the soft-argmax
        tokens = attention @ x.flatten(2).transpose(1, 2)  # (B, 21, D): features where each keypoint is
        tokens = tokens + self.position(keypoints) + self.identity
        tokens = self.norm(self.blocks(tokens))
        out = self.regress(tokens.flatten(1))
        n_pose = NUM_JOINTS * 6
        pose = self.init_pose + out[:, :n_pose]
        betas = self.init_betas + out[:, n_pose : n_pose + NUM_BETAS]
        cam = self.init_cam + out[:, n_pose + NUM_BETAS :]
        return pose, betas, cam, keypoints, logits
