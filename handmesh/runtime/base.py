"""The interface every backend implements: normalized crops in, :class:`RuntimeOutput` (numpy, float32) out.

A backend implements ``_run(x) -> dict of arrays`` for a batch of the artefact's size; :class:`Runtime` checks and
converts the crops, resizes them when asked, splits batches for artefacts with a fixed batch size and assembles the
output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.artefact.metadata import OUTPUT_NAMES, ArtefactMetadata, output_shapes
from handmesh.errors import ConfigError

__all__ = ["Runtime", "RuntimeOutput"]


@dataclass
class RuntimeOutput:
    """What a runtime predicts for ``B`` crops: :class:`~handmesh.network.HandMeshOutput` as float32 numpy arrays.

    Attributes:
        rotmats: ``(B, 16, 3, 3)`` absolute joint rotations (global orientation first, then MANO's finger order).
        betas: ``(B, 10)`` shape coefficients.
        cam: ``(B, 3)`` weak-perspective crop camera ``(s, tx, ty)``: ``uv_norm = s * (xy + (tx, ty))``.
        vertices: ``(B, V, 3)`` root-relative mesh, metres.
        joints: ``(B, 21, 3)`` root-relative keypoints (FreiHAND/OpenPose order), metres.
        joints2d: ``(B, 21, 2)`` keypoints in normalized crop coordinates ``(uv_px - S/2) / (S/2)``.
    """

    rotmats: np.ndarray
    betas: np.ndarray
    cam: np.ndarray
    vertices: np.ndarray
    joints: np.ndarray
    joints2d: np.ndarray

    @property
    def batch_size(self) -> int:
        """B."""
        return int(self.vertices.shape[0])

    def __getitem__(self, index: Any) -> RuntimeOutput:
        """Select crops along the batch axis (an int keeps the axis: ``out[1]`` has ``B = 1``)."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 if int(index) != -1 else None)
        return RuntimeOutput(**{k: getattr(self, k)[index] for k in OUTPUT_NAMES})

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any]) -> RuntimeOutput:
        """From output name -> array (numpy or torch), cast to contiguous float32 numpy."""
        out = {}
        for k in OUTPUT_NAMES:
            v = arrays[k]
            if hasattr(v, "detach"):
                v = v.detach().float().cpu().numpy()
            out[k] = np.ascontiguousarray(v, dtype=np.float32)
        return cls(**out)

    @classmethod
    def concatenate(cls, parts: list[RuntimeOutput]) -> RuntimeOutput:
        """Join outputs along the batch axis."""
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts], axis=0) for k in OUTPUT_NAMES})


class Runtime:
    """A loaded model that maps normalized crops to :class:`RuntimeOutput`; build one with
    :func:`~handmesh.runtime.load_runtime`.

    Attributes:
        backend: ``"torch"``, ``"onnxruntime"``, ``"torchscript"`` or ``"coreml"``.
        metadata: the artefact's :class:`~handmesh.artefact.metadata.ArtefactMetadata` (for a checkpoint: the same
            fields, made from the network).
        source: the file that was loaded (the artefact, or for a cached export the checkpoint it came from).
        artefact: the file the backend runs (the cached export for ``backend="onnxruntime"`` from a checkpoint).
        device: where it runs, in words (``"cpu"``, ``"cuda:0"``, ``"CPUExecutionProvider"``).
        resize: resize crops of another size to :attr:`input_size` instead of raising.
        note: how the backend was chosen (``"auto: ..."``), or "".
    """

    backend: str = ""

    def __init__(
        self,
        metadata: ArtefactMetadata,
        source: str | Path,
        *,
        artefact: str | Path | None = None,
        device: str = "cpu",
        resize: bool = False,
    ) -> None:
        self.metadata = metadata
        self.source = Path(source)
        self.artefact = Path(artefact) if artefact is not None else self.source
        self.device = device
        self.resize = bool(resize)
        self.note = ""

    # ---------------------------------------------------------------------------------------------------- facts
    @property
    def input_size(self) -> int:
        """Crop side S in pixels."""
        return int(self.metadata.input_size)

    @property
    def mean(self) -> tuple[float, float, float]:
        """RGB normalization mean (0-1 pixels)."""
        return tuple(self.metadata.mean)  # type: ignore[return-value]

    @property
    def std(self) -> tuple[float, float, float]:
        """RGB normalization standard deviation (0-1 pixels)."""
        return tuple(self.metadata.std)  # type: ignore[return-value]

    @property
    def hand_model(self) -> str:
        """``"open"`` or ``"mano"``."""
        return self.metadata.hand_model

    @property
    def faces(self) -> np.ndarray:
        """``(F, 3)`` int32 triangles of the right hand mesh."""
        return self.metadata.faces

    @property
    def num_vertices(self) -> int:
        """V."""
        return int(self.metadata.num_vertices)

    @property
    def variant(self) -> str:
        """FastViT variant."""
        return self.metadata.variant

    @property
    def fixed_batch(self) -> int | None:
        """The batch size the artefact takes, or None for any (larger batches are split, smaller ones padded)."""
        return self.metadata.batch

    def describe(self) -> str:
        """One line: backend, where it runs, what it runs."""
        what = f"{self.variant} {self.input_size}px, {self.hand_model} hand"
        src = str(self.artefact)
        if self.artefact != self.source:
            src += f" (exported from {self.source})"
        note = f" [{self.note}]" if self.note else ""
        return f"{self.backend} on {self.device}{self._describe_extra()}: {what}; {src}{note}"

    def _describe_extra(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    # ------------------------------------------------------------------------------------------------- helpers
    def normalize(self, crops: np.ndarray) -> np.ndarray:
        """uint8 RGB crops -> the network's input.

        Args:
            crops: ``(B, S, S, 3)`` (or one ``(S, S, 3)``) uint8 RGB.

        Returns:
            ``(B, 3, S, S)`` float32, ``(rgb / 255 - mean) / std``.
        """
        a = np.asarray(crops)
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4 or a.shape[-1] != 3:
            raise ConfigError(f"normalize: expected uint8 RGB crops of shape (B, S, S, 3), got {a.shape}")
        mean = np.asarray(self.mean, np.float32) * 255.0
        scale = 1.0 / (np.asarray(self.std, np.float32) * 255.0)
        x = (a.astype(np.float32) - mean) * scale  # (B, S, S, 3)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def _check_crops(self, crops: Any, resize: bool) -> Any:
        """Shape checks; resizing. Returns a numpy array or a torch tensor (B, 3, S, S) float32."""
        shape = tuple(crops.shape)
        if len(shape) == 3 and shape[0] == 3:
            crops, shape = crops[None], (1, *shape)
        if len(shape) != 4 or shape[1] != 3:
            raise ConfigError(
                f"crops: expected normalized float crops of shape (B, 3, S, S) with S = "
                f"{self.input_size}, got {shape} (uint8 (B, S, S, 3) images go through "
                "runtime.normalize first)"
            )
        is_float = (
            crops.is_floating_point() if hasattr(crops, "is_floating_point") else np.asarray(crops).dtype.kind == "f"
        )
        if not is_float:
            raise ConfigError(
                f"crops: expected float32 normalized crops, got dtype {crops.dtype} (uint8 images go "
                "through runtime.normalize first)"
            )
        S = self.input_size
        if shape[2:] != (S, S):
            if shape[2] != shape[3]:
                raise ConfigError(f"crops are {shape[3]}x{shape[2]} pixels: expected square {S}x{S} crops")
            if not resize:
                raise ConfigError(
                    f"crops are {shape[3]}x{shape[2]} pixels but the model ({self.source.name}) takes {S}x{S}: "
                    f"crop at {S} pixels, or pass resize=True to resize them"
                )
            crops = _resize(crops, S)
        return crops

    def __call__(self, crops: Any, *, resize: bool | None = None) -> RuntimeOutput:
        """Predict hands in crops.

        Args:
            crops: ``(B, 3, S, S)`` float32 normalized crops (numpy or torch), ``B >= 0`` (two hands: ``B = 2``).
            resize: resize crops of another size to S (bilinear, antialiased). Default: :attr:`resize`.

        Returns:
            :class:`RuntimeOutput`.

        Raises:
            ConfigError: crops of the wrong shape or dtype, or of another size without ``resize``.
        """
        x = self._check_crops(crops, self.resize if resize is None else bool(resize))
        B = int(x.shape[0])
        if B == 0:
            shapes = output_shapes(self.num_vertices, 0)
            return RuntimeOutput(**{k: np.zeros(shapes[k], np.float32) for k in OUTPUT_NAMES})
        n = self.fixed_batch
        if n is None or n == B:
            return RuntimeOutput.from_arrays(self._run(x))
        parts = []
        for start in range(0, B, n):
            chunk = x[start : start + n]
            k = int(chunk.shape[0])
            if k < n:  # pad with copies of the last crop; their outputs are dropped
                pad = (
                    chunk[-1:].repeat(n - k, 1, 1, 1)
                    if hasattr(chunk, "detach")
                    else np.repeat(chunk[-1:], n - k, axis=0)
                )
                chunk = _cat([chunk, pad])
            parts.append(RuntimeOutput.from_arrays(self._run(chunk))[:k])
        return RuntimeOutput.concatenate(parts)

    def _run(self, x: Any) -> dict[str, Any]:
        """Run one batch ``(N, 3, S, S)`` -> output name -> array; implemented by each backend."""
        raise NotImplementedError

    @staticmethod
    def _as_numpy(x: Any) -> np.ndarray:
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        return np.ascontiguousarray(x, dtype=np.float32)


def _cat(parts: list[Any]) -> Any:
    if hasattr(parts[0], "detach"):
        import torch

        return torch.cat(parts, dim=0)
    return np.concatenate(parts, axis=0)


def _resize(crops: Any, size: int) -> Any:
    """Bilinear, antialiased resize of ``(B, 3, H, W)`` crops to ``(B, 3, size, size)`` (numpy or torch)."""
    import torch
    import torch.nn.functional as F

    is_torch = hasattr(crops, "detach")
    t = crops if is_torch else torch.from_numpy(np.ascontiguousarray(crops, dtype=np.float32))
    out = F.interpolate(t.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out if is_torch else out.numpy()
