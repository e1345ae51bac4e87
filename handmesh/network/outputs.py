"""The network's outputs, declared once: names, shapes and meaning.

Everything that carries a prediction derives from this table: :class:`~handmesh.network.HandMeshOutput` (torch),
:class:`~handmesh.runtime.RuntimeOutput` (numpy), the pipeline's ``Prediction`` protocol (the fields it reads),
and the exported graphs' output names and shapes (:mod:`handmesh.artefact.metadata`). A test holds each of them to
this table. ``B`` is the batch, ``V`` the hand model's vertex count, ``S`` the crop side.

This module imports nothing heavy, so that readers of exported models need no torch to know their outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NETWORK_OUTPUTS", "OUTPUT_NAMES", "NetworkOutput", "output_shapes"]


@dataclass(frozen=True)
class NetworkOutput:
    """One output: its name, its shape (``"B"`` and ``"V"`` stand for the batch and the vertex count), its meaning."""

    name: str
    shape: tuple[int | str, ...]
    meaning: str


NETWORK_OUTPUTS: tuple[NetworkOutput, ...] = (
    NetworkOutput(
        "rotmats",
        ("B", 16, 3, 3),
        "absolute joint rotations: index 0 the global orientation, then "
        "MANO's finger order (index, middle, pinky, ring, thumb)",
    ),
    NetworkOutput("betas", ("B", 10), "shape coefficients"),
    NetworkOutput(
        "cam",
        ("B", 3),
        "weak-perspective crop camera (s, tx, ty): uv_norm = s * (xy + (tx, ty)), s > 0 in 1/metres, tx, ty in metres",
    ),
    NetworkOutput("vertices", ("B", "V", 3), "mesh, root-relative (wrist keypoint at the origin), metres"),
    NetworkOutput(
        "joints", ("B", 21, 3), "keypoints in FreiHAND/OpenPose order, root-relative (joints[:, 0] == 0), metres"
    ),
    NetworkOutput(
        "joints2d",
        ("B", 21, 2),
        "keypoints projected into the crop, normalized coordinates (uv_px - S/2) / (S/2) (-1 and 1 are the crop edges)",
    ),
)

OUTPUT_NAMES: tuple[str, ...] = tuple(o.name for o in NETWORK_OUTPUTS)
"""The outputs' names, in the order of the exported graphs' outputs."""


def output_shapes(num_vertices: int, batch: int | str | None = None) -> dict[str, list[int | str]]:
    """Each output's shape for a hand model of ``num_vertices`` vertices; ``batch`` None gives the symbolic
    ``"batch"`` (a dynamic batch dimension)."""
    b: int | str = "batch" if batch is None else batch if isinstance(batch, str) else int(batch)
    sizes = {"B": b, "V": int(num_vertices)}
    return {o.name: [sizes.get(d, d) if isinstance(d, str) else d for d in o.shape] for o in NETWORK_OUTPUTS}
