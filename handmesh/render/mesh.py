"""What the renderer draws and how it is lit: :class:`Mesh`, :class:`Light`, skin tones.

Coordinates are the OpenCV/FreiHAND camera frame (x right, y down, z forward, metres); a point is visible only in
front of the camera (z > 0). Colours are RGB in 0-1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: A few skin tones (linear-ish RGB, 0-1), light to dark. The synthetic data generator samples around these.
SKIN_TONES: dict[str, tuple[float, float, float]] = {
    "porcelain": (0.96, 0.80, 0.69),
    "light": (0.92, 0.72, 0.60),
    "medium_light": (0.85, 0.64, 0.50),
    "medium": (0.75, 0.53, 0.38),
    "tan": (0.64, 0.44, 0.30),
    "brown": (0.49, 0.32, 0.21),
    "dark": (0.34, 0.22, 0.15),
}

#: Default mesh colour: a light-medium skin tone.
DEFAULT_SKIN: tuple[float, float, float] = SKIN_TONES["medium_light"]


@dataclass
class Mesh:
    """A triangle mesh in the camera frame.

    Args:
        vertices: ``(V, 3)`` float, camera-frame metres (OpenCV axes: z forward).
        faces: ``(F, 3)`` int vertex indices. Faces are expected to be wound outward (the right-hand-rule normal of
            ``(v1 - v0) x (v2 - v0)`` points out of the surface), as both hand models in this project are.
        color: ``(3,)`` RGB in 0-1. Default: :data:`DEFAULT_SKIN`.
        flip_winding: set for a mesh wound the other way (inward normals); the renderer then swaps two indices of
            every face so culling and shading see outward faces. Default: ``False``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    color: tuple[float, float, float] | np.ndarray = DEFAULT_SKIN
    flip_winding: bool = False

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, dtype=np.float32)
        self.faces = np.asarray(self.faces)
        if self.vertices.ndim != 2 or self.vertices.shape[1] != 3:
            raise ValueError(f"Mesh.vertices must have shape (V, 3), got {self.vertices.shape}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or not np.issubdtype(self.faces.dtype, np.integer):
            raise ValueError(
                f"Mesh.faces must be an integer array of shape (F, 3), got {self.faces.dtype} {self.faces.shape}"
            )
        if self.faces.size and (self.faces.min() < 0 or self.faces.max() >= len(self.vertices)):
            raise ValueError(
                f"Mesh.faces index vertices 0..{len(self.vertices) - 1}, found {self.faces.min()}..{self.faces.max()}"
            )
        self.faces = self.faces.astype(np.int32, copy=False)
        color = np.asarray(self.color, dtype=np.float32)
        if color.shape != (3,):
            raise ValueError(f"Mesh.color must be 3 RGB numbers in 0-1, got shape {color.shape}")
        self.color = np.clip(color, 0.0, 1.0)


def is_closed(faces: np.ndarray) -> bool:
    """Whether a triangle mesh is closed: every edge is shared by exactly two faces, in opposite directions.

    Back-face culling is exact only for closed meshes: through the wrist opening of MANO (open) one sees the inside
    of the hand, which culling would drop. Render open meshes with ``cull_backfaces=False``.

    Args:
        faces: ``(F, 3)`` int vertex indices.
    """
    f = np.asarray(faces, dtype=np.int64)
    if f.ndim != 2 or f.shape[1] != 3 or not len(f):
        return False
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    n = int(f.max()) + 1
    fwd = np.unique(edges[:, 0] * n + edges[:, 1])
    rev = np.unique(edges[:, 1] * n + edges[:, 0])
    return len(fwd) == len(edges) and np.array_equal(fwd, rev)


@dataclass
class Light:
    """One directional light plus ambient light; Blinn-Phong shading.

    Shaded colour per pixel: ``albedo * (ambient + diffuse * max(n.l, 0) * color) + specular * max(n.h, 0) **
    shininess * color``, clipped to 0-1, with ``n`` the interpolated vertex normal, ``l`` the unit direction
    towards the light, ``h`` the half vector between ``l`` and the direction towards the camera.

    Args:
        direction: ``(3,)`` direction from the surface *towards* the light, camera frame (normalized on use).
            Default: from above-left of the camera, ``(-0.3, -0.5, -1.0)``.
        color: ``(3,)`` light RGB in 0-1. Default: white.
        ambient: ambient term. Default: 0.35.
        diffuse: Lambert term weight. Default: 0.7.
        specular: Blinn-Phong highlight weight (0 gives pure Lambert). Default: 0.12.
        shininess: Blinn-Phong exponent. Default: 20.
    """

    direction: tuple[float, float, float] | np.ndarray = (-0.3, -0.5, -1.0)
    color: tuple[float, float, float] | np.ndarray = (1.0, 1.0, 1.0)
    ambient: float = 0.35
    diffuse: float = 0.7
    specular: float = 0.12
    shininess: float = 20.0
    _unit: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        d = np.asarray(self.direction, dtype=np.float64).reshape(3)
        n = float(np.linalg.norm(d))
        if not np.isfinite(n) or n == 0.0:
            raise ValueError(f"Light.direction must be a non-zero 3-vector, got {self.direction}")
        self._unit = d / n
        self.color = np.asarray(self.color, dtype=np.float64).reshape(3)

    def unit_direction(self) -> np.ndarray:
        """``(3,)`` float64 unit vector towards the light."""
        return self._unit
