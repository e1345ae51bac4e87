"""The demo's windows: whether one can be shown, and the open3d window with the hands' meshes in 3D.

The picture itself is shown with OpenCV in the window named :data:`WINDOW` (by :func:`handmesh.app.loop.run_demo`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from handmesh.errors import BackendUnavailableError

WINDOW = "handmesh"


def display_available() -> bool:
    """Whether a window can be shown: a display (X11/Wayland on Linux) and an OpenCV build with a GUI."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import cv2

    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:  # opencv-python-headless, or no GUI backend
        return False
    return True


class Viewer3D:
    """An open3d window showing the hands' meshes in 3D (camera frame, viewed from behind the camera)."""

    def __init__(self) -> None:
        try:
            import open3d as o3d
        except ImportError as e:
            raise BackendUnavailableError(
                f"--view3d needs open3d, which is not installed ({e}): pip install 'handmesh[viz]' (on Linux open3d "
                "also needs `apt-get install libusb-1.0-0`); or run without --view3d"
            ) from None
        self.o3d = o3d
        self.vis = o3d.visualization.Visualizer()
        if not self.vis.create_window("handmesh 3D", 640, 480):
            raise BackendUnavailableError("--view3d: open3d could not open a window (no display?)")
        self._meshes: list[Any] = []

    def update(self, hands: list) -> bool:
        """Show this frame's hands; returns False once the window was closed."""
        o3d = self.o3d
        flip = np.array([1.0, -1.0, -1.0])  # camera frame (y down, z forward) -> open3d's y up, looking down -z
        while len(self._meshes) < len(hands):
            m = o3d.geometry.TriangleMesh()
            self._meshes.append(m)
            self.vis.add_geometry(m, reset_bounding_box=len(self._meshes) == 1)
        for k, m in enumerate(self._meshes):
            if k < len(hands):
                m.vertices = o3d.utility.Vector3dVector(hands[k].vertices.astype(np.float64) * flip)
                m.triangles = o3d.utility.Vector3iVector(hands[k].faces.astype(np.int32))
                m.compute_vertex_normals()
            else:
                m.vertices = o3d.utility.Vector3dVector(np.zeros((0, 3)))
                m.triangles = o3d.utility.Vector3iVector(np.zeros((0, 3), np.int32))
            self.vis.update_geometry(m)
        alive = bool(self.vis.poll_events())
        self.vis.update_renderer()
        return alive

    def close(self) -> None:
        """Close the window."""
        self.vis.destroy_window()
