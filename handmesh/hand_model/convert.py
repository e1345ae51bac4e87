"""Converting MANO pickles to the compact model file once, and describing model files (``handmesh-mano``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handmesh.errors import DataError
from handmesh.hand_model.keypoints import JOINT_NAMES_21, MANO16_TO_21, TIP_VERTEX_IDS
from handmesh.hand_model.mano_pickle import load_mano_pickle, read_mano_pickle, side_from_filename
from handmesh.hand_model.model_file import HandModelArrays, read_model_file, write_model_file
from handmesh.hand_model.winding import boundary_edge_count, signed_volume

__all__ = ["convert_mano_pickle", "describe_model_file"]


def convert_mano_pickle(
    src: str | os.PathLike,
    dst: str | os.PathLike | None = None,
    *,
    is_right: bool | None = None,
    fix_left: bool = True,
) -> Path:
    """Read a MANO pickle safely and write the compact ``.npz`` model file (atomically).

    Args:
        src: ``MANO_RIGHT.pkl`` or ``MANO_LEFT.pkl``.
        dst: output path. Default: None (``src`` with the suffix ``.npz``, e.g. ``data/mano/MANO_RIGHT.npz``).
        is_right: the side. Default: None (from the file name).
        fix_left: fix the left file's ``shapedirs`` sign (see
            :func:`~handmesh.hand_model.mano_pickle.fix_left_shapedirs`). Default: True.

    Returns:
        The path written.
    """
    src = Path(src)
    dst = src.with_suffix(".npz") if dst is None else Path(dst)
    if dst.resolve() == src.resolve():
        raise DataError(f"{src}: the output would overwrite the input; pass another output path")
    arrays = load_mano_pickle(src, is_right=is_right, fix_left=fix_left)
    return write_model_file(dst, arrays)


def _tip_convention(tips: np.ndarray) -> str:
    names = [n for n, ids in TIP_VERTEX_IDS.items() if tuple(int(t) for t in tips) == ids]
    return names[0] if names else "custom"


def _summary(a: HandModelArrays) -> list[str]:
    v, f = a.v_template, a.faces
    joints = a.J_regressor @ v  # rest joints (16, 3)
    tips = v[a.tip_vertex_ids]
    joints21 = np.concatenate([joints, tips])[list(MANO16_TO_21)]
    middle_tip = joints21[JOINT_NAMES_21.index("middle_tip")]
    extent = v.max(0) - v.min(0)
    volume = signed_volume(v, f)
    return [
        f"model: {a.name}, {'right' if a.is_right else 'left'} hand",
        f"vertices: {a.num_vertices}, faces: {len(f)}, boundary edges: {boundary_edge_count(f)}, joints: 16",
        f"faces wound: {'outward' if volume > 0 else 'INWARD'} (signed volume {volume * 1e6:.1f} cm^3)",
        f"rest size: wrist to middle fingertip {np.linalg.norm(middle_tip - joints21[0]) * 100:.1f} cm; "
        f"bounding box {extent[0] * 100:.1f} x {extent[1] * 100:.1f} x {extent[2] * 100:.1f} cm",
        f"fingertip vertices (thumb, index, middle, ring, pinky): {' '.join(str(int(t)) for t in a.tip_vertex_ids)} "
        f"({_tip_convention(a.tip_vertex_ids)} convention)",
        f"shape: 10 betas, |shapedirs| max {np.abs(a.shapedirs).max() * 1000:.1f} mm per unit beta",
        f"pose: hands_mean norm {np.linalg.norm(a.hands_mean):.3f} rad, PCA basis 45 x 45",
    ]


def describe_model_file(path: str | os.PathLike) -> str:
    """A human-readable summary of a model ``.npz`` or a MANO ``.pkl`` (read safely).

    Args:
        path: the file.

    Returns:
        Several lines of text: keys and shapes (for pickles), side, sizes, winding, fingertips.
    """
    path = Path(path)
    lines = [f"file: {path}"]
    if path.suffix == ".npz":
        lines[0] += " (hand model file, format_version 1)"
        lines += _summary(read_model_file(path))
        return "\n".join(lines)
    raw = read_mano_pickle(path)
    lines[0] += " (pickle, read without chumpy)"
    for key in sorted(raw):
        value = raw[key]
        desc = f"{np.asarray(value).dtype} {np.shape(value)}" if isinstance(value, np.ndarray) else repr(value)[:60]
        lines.append(f"  {key}: {desc}")
    side = side_from_filename(path)
    if side is None:
        lines.append("side: unknown from the file name (name it MANO_RIGHT.pkl or MANO_LEFT.pkl)")
        return "\n".join(lines)
    lines += _summary(load_mano_pickle(path, is_right=side))
    return "\n".join(lines)
