"""Every export checks itself: the artefact and PyTorch (reparameterized, float32) on the same random crops."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from handmesh.artefact.metadata import OUTPUT_NAMES

__all__ = [
    "FP32_VERTEX_TOLERANCE_M",
    "FP16_VERTEX_TOLERANCE_M",
    "ParityReport",
    "compare",
    "reference_outputs",
    "verification_crops",
]

FP32_VERTEX_TOLERANCE_M = 1e-4
# An encoder in half precision moves the regressed parameters by ~1e-3 relative; on a hand ~0.1 m across that is a
# few millimetres at the fingertips at most.
FP16_VERTEX_TOLERANCE_M = 5e-3


@dataclass
class ParityReport:
    """How an artefact's outputs compare with PyTorch's.

    Attributes:
        checked: whether the artefact was run (False where its runtime is unavailable, e.g. Core ML on Linux).
        max_abs: output name -> largest absolute difference (metres for vertices and joints).
        tolerance_m: the bound on the vertices' difference.
        batch: crops compared.
        note: why the check was skipped, or what was compared.
    """

    checked: bool
    max_abs: dict[str, float] = field(default_factory=dict)
    tolerance_m: float = FP32_VERTEX_TOLERANCE_M
    batch: int = 0
    note: str = ""

    @property
    def passed(self) -> bool | None:
        """True/False after a check (vertices within ``tolerance_m``), None when none ran."""
        if not self.checked:
            return None
        v = self.max_abs.get("vertices", float("inf"))
        return bool(v <= self.tolerance_m)

    def summary(self) -> str:
        """One line for the command line."""
        if not self.checked:
            return f"parity with PyTorch: not checked ({self.note})"
        verdict = "ok" if self.passed else "FAILED"
        parts = ", ".join(f"{k} {v:.2e}" for k, v in self.max_abs.items())
        return (
            f"parity with PyTorch on {self.batch} random crops: max abs error {parts} "
            f"(vertices/joints in metres; bound on vertices {self.tolerance_m:.0e} m): {verdict}"
        )


def verification_crops(input_size: int, batch: int, seed: int = 0) -> torch.Tensor:
    """``(batch, 3, S, S)`` float32 normalized crops with image-like structure: a random 4x4 colour field upsampled
    bilinearly (amplitude 1.5) plus white noise (0.3). Pure white noise would not do: every such crop pools to nearly
    the same encoder features, so the outputs would barely depend on the crop and a parity check would say little.
    """
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    field = F.interpolate(
        1.5 * torch.randn(batch, 3, 4, 4, generator=g),
        size=(input_size, input_size),
        mode="bilinear",
        align_corners=False,
    )
    return field + 0.3 * torch.randn(batch, 3, input_size, input_size, generator=g)


@torch.no_grad()
def reference_outputs(net: torch.nn.Module, crops: torch.Tensor) -> dict[str, np.ndarray]:
    """PyTorch's outputs of ``net`` (a prepared float32 network on the CPU) as float32 arrays by output name."""
    out = net(crops)
    return {k: getattr(out, k).float().cpu().numpy() for k in OUTPUT_NAMES}


def compare(
    reference: dict[str, np.ndarray], got: dict[str, np.ndarray], *, tolerance_m: float, note: str = ""
) -> ParityReport:
    """Largest absolute differences per output.

    Raises:
        ValueError: an output is missing or has another shape (the artefact does not match the network).
    """
    max_abs = {}
    for name in OUTPUT_NAMES:
        a, b = np.asarray(reference[name]), np.asarray(got[name])
        if a.shape != b.shape:
            raise ValueError(f"output {name!r}: shape {b.shape}, PyTorch gives {a.shape}")
        max_abs[name] = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0
    batch = int(next(iter(reference.values())).shape[0])
    return ParityReport(checked=True, max_abs=max_abs, tolerance_m=tolerance_m, batch=batch, note=note)
