"""Hand mesh rendering on the CPU: a z-buffered triangle rasterizer (numba) with smooth shading, overlays,
wireframes and skeletons.

    >>> from handmesh.render import Mesh, overlay
    >>> out = overlay(frame_rgb, Mesh(vertices, faces), K, alpha=0.8)

The numba kernels compile on first use (about a second per kernel, then cached on disk), not at import.

Where things are:
    renderer.py    render (image, mask, depth) and overlay (blend onto a frame)
    rasterize.py   z-buffer triangle rasterization with a pinhole camera
    _kernels.py    the compiled loops: normals, screen window, z-buffer, shading, compositing
    mesh.py        Mesh, Light, skin tones
    draw.py        2D drawing: the 21-keypoint skeleton, wireframes
    primitives.py  boxes and ellipsoids wound outward (tests, benchmarks, synthetic occluders)
"""

from handmesh.render.draw import HAND_BONES, HAND_PARENTS, KEYPOINT_COLORS, draw_skeleton, draw_wireframe
from handmesh.render.mesh import DEFAULT_SKIN, SKIN_TONES, Light, Mesh, is_closed
from handmesh.render.rasterize import DEFAULT_NEAR, Fragments, pack_meshes, rasterize
from handmesh.render.renderer import RenderResult, overlay, render

__all__ = [
    "DEFAULT_NEAR",
    "DEFAULT_SKIN",
    "HAND_BONES",
    "HAND_PARENTS",
    "KEYPOINT_COLORS",
    "SKIN_TONES",
    "Fragments",
    "Light",
    "Mesh",
    "RenderResult",
    "draw_skeleton",
    "draw_wireframe",
    "is_closed",
    "overlay",
    "pack_meshes",
    "rasterize",
    "render",
]
