"""Pictures of the open hand for the documentation: a sheet of poses (right and left hands) and of shape directions.

    python -m handmesh.open_hand --figures data/media

renders the shipped model through :func:`handmesh.hand_model.build_hand_model` (the same path every user takes, so
the left hand is the package's mirrored model) with the project's renderer (:mod:`handmesh.render`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handmesh.utils.atomic import atomic_write_bytes

#: Poses on the sheet, in order, with their captions.
SHEET_POSES = (("flat", "rest"), ("fist", "fist"), ("point", "pointing"), ("open", "open"))

#: Shape directions on the shape sheet, with their captions.
SHEET_SHAPES = ((0, "size"), (1, "finger length"), (2, "palm width"), (3, "thickness"))

BACKGROUND = (246, 246, 246)


def _view_rotation(is_right: bool, turn: float) -> np.ndarray:
    """World -> camera rotation (3, 3): fingers up, palm towards the camera, turned ``turn`` radians about the
    vertical so the hand shows some depth. The left model's fingers point along +x (it is mirrored in x)."""
    down = np.array([1.0, 0.0, 0.0]) if is_right else np.array([-1.0, 0.0, 0.0])
    forward = np.array([0.0, 1.0, 0.0])  # the palm (-y) faces the camera
    right = np.cross(down, forward)
    base = np.stack([right, down, forward])  # rows: camera x, y, z in world coordinates
    c, s = np.cos(turn), np.sin(turn)
    spin = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return spin @ base


def _tile(
    vertices: np.ndarray, faces: np.ndarray, rotation: np.ndarray, size: tuple[int, int], span: float
) -> np.ndarray:
    """Render one mesh (world metres) centred in a tile of ``size`` (H, W) pixels showing ``span`` metres across
    its height. Returns (H, W, 3) uint8 RGB."""
    from handmesh.render import Light, Mesh, render

    h, w = size
    cam = (vertices - 0.5 * (vertices.min(axis=0) + vertices.max(axis=0))) @ rotation.T
    distance = 0.6
    cam[:, 2] += distance
    focal = h * distance / span
    K = np.array([[focal, 0.0, w / 2], [0.0, focal, h / 2], [0.0, 0.0, 1.0]])
    background = np.empty((h, w, 3), dtype=np.uint8)
    background[:] = BACKGROUND
    light = Light(direction=(-0.4, -0.6, -1.0), ambient=0.38, diffuse=0.68, specular=0.10)
    mesh = Mesh(cam.astype(np.float32), faces.astype(np.int32))
    return render([mesh], K, (h, w), light, background=background).rgb


def _caption(tile: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = tile.copy()
    cv2.putText(out, text, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.62, (60, 60, 60), 1, cv2.LINE_AA)
    return out


def _write_png(path: Path, rgb: np.ndarray) -> Path:
    import cv2

    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    atomic_write_bytes(path, data.tobytes())
    os.chmod(path, 0o644)
    return path


def pose_sheet(tile: tuple[int, int] = (300, 240), turn: float = 0.35) -> np.ndarray:
    """The open hand in rest, fist, pointing and open poses; right hands on the top row, left hands below.

    Args:
        tile: (H, W) pixels per picture. Default: (300, 240).
        turn: rotation about the vertical axis (radians), towards the thumb side. Default: 0.35.

    Returns:
        (2 H, 4 W, 3) uint8 RGB.
    """
    import torch

    from handmesh.hand_model import build_hand_model
    from handmesh.hand_model.mirror import mirror_axis_angle
    from handmesh.open_hand.generate import build_surface
    from handmesh.open_hand.poses import named_poses

    poses = named_poses(build_surface())
    rows = []
    for side in ("right", "left"):
        model = build_hand_model("open", side=side, flat_hand_mean=True)
        tiles = []
        for key, caption in SHEET_POSES:
            pose = torch.tensor(poses[key], dtype=torch.float32)[None]
            if side == "left":
                pose = mirror_axis_angle(pose)
            with torch.no_grad():
                out = model(torch.zeros(1, 3), pose, torch.zeros(1, 10))
            verts = out.vertices[0].double().numpy()
            rot = _view_rotation(side == "right", turn if side == "right" else -turn)
            tiles.append(_caption(_tile(verts, model.faces.numpy(), rot, tile, 0.24), f"{side}: {caption}"))
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def shape_sheet(tile: tuple[int, int] = (260, 200), amount: float = 2.5) -> np.ndarray:
    """The first four shape directions at ``-amount`` (top row) and ``+amount`` (bottom row), relaxed pose.

    Returns:
        (2 H, 4 W, 3) uint8 RGB.
    """
    import torch

    from handmesh.hand_model import build_hand_model

    model = build_hand_model("open", side="right")
    rows = []
    for sign in (-1.0, 1.0):
        tiles = []
        for index, caption in SHEET_SHAPES:
            betas = torch.zeros(1, 10)
            betas[0, index] = sign * amount
            with torch.no_grad():
                out = model(torch.zeros(1, 3), torch.zeros(1, 45), betas)
            verts = out.vertices[0].double().numpy()
            text = f"{caption} {'+' if sign > 0 else '-'}{amount:g}"
            tiles.append(_caption(_tile(verts, model.faces.numpy(), _view_rotation(True, 0.0), tile, 0.30), text))
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def write_figures(folder: str | os.PathLike) -> list[Path]:
    """Write ``open_hand_poses.png`` and ``open_hand_shapes.png`` into ``folder``.

    Returns:
        The paths written.
    """
    folder = Path(folder)
    return [
        _write_png(folder / "open_hand_poses.png", pose_sheet()),
        _write_png(folder / "open_hand_shapes.png", shape_sheet()),
    ]
