"""Random hands with FreiHAND annotations, and their images.

:class:`HandSampler` draws a batch of hands (pose, shape, orientation, camera, placement) and annotates them the way
FreiHAND does; :meth:`HandSampler.render` draws one annotated hand with its own background, light, skin tone and
camera effects. Randomness is keyed by ``(seed, split, index)`` (geometry) and ``(seed, split, index, version)``
(appearance), so a sample never depends on which batch or process produced it.

The annotation of a hand is made by :func:`~handmesh.hand_model.mesh_to_freihand_mano` and then decoded back with
:func:`~handmesh.hand_model.freihand_mano_to_mesh` after rounding to the precision written to JSON: the stored
``xyz``/``verts`` are exactly what the stored 61 numbers reproduce, and the image is rendered from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from handmesh.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from handmesh.hand_model import freihand_mano_to_mesh, mesh_to_freihand_mano
from handmesh.render import Mesh, is_closed, render
from handmesh.synth.poses import (
    INTERSECTION_TOLERANCE,
    HandFrame,
    sample_finger_pose,
    sample_global_rotation,
    self_penetration,
)
from handmesh.synth.scene import (
    CENTRE_SIGMA,
    EXTENT_RANGE,
    CameraEffects,
    place_in_view,
    procedural_background,
    sample_intrinsics,
    sample_light,
    sample_occluder,
    sample_skin,
)

SPLIT_CODES = {"training": 0, "evaluation": 1, "video": 2}
# Decimal places written to JSON: 6 (1 micrometre) for metres and intrinsics, 7 for the MANO numbers (radians,
# pixels, focal / z).
DECIMALS = 6
MANO_DECIMALS = 7
MAX_POSE_ATTEMPTS = 8
BETA_SIGMA = 0.8
BETA_LIMIT = 2.5


@dataclass
class HandAnnotation:
    """One annotated hand in FreiHAND's conventions (numpy, metres, camera frame).

    Attributes:
        index: annotation index in its split.
        K: ``(3, 3)`` intrinsics.
        mano: ``(61,)`` pose (48, fingers relative to ``hands_mean``), betas (10), root uv (2), focal / root z (1),
            rounded to :data:`MANO_DECIMALS`.
        xyz: ``(21, 3)`` keypoints, rounded to :data:`DECIMALS`.
        verts: ``(V, 3)`` vertices, rounded to :data:`DECIMALS`.
        scale: length of the bone between keypoints 9 and 10 (middle MCP -> PIP), metres, from ``xyz``.
        occluder: a mesh in front of the hand, or None.
    """

    index: int
    K: np.ndarray
    mano: np.ndarray
    xyz: np.ndarray
    verts: np.ndarray
    scale: float
    occluder: Mesh | None


def rng_for(seed: int, split: str, index: int, *stream: int) -> np.random.Generator:
    """The random stream of one sample (``stream`` distinguishes geometry, appearance, versions)."""
    return np.random.default_rng([int(seed), SPLIT_CODES[split], int(index), *stream])


def freihand_scale(xyz: np.ndarray) -> np.ndarray:
    """FreiHAND's ``scale``: length of the bone from keypoint 9 (middle MCP) to 10 (middle PIP); ``(..., 21, 3)``
    -> ``(...)`` metres."""
    return np.linalg.norm(xyz[..., 10, :] - xyz[..., 9, :], axis=-1)


class HandSampler:
    """Draws annotated random hands and renders them.

    Args:
        model: a right-hand :class:`~handmesh.hand_model.HandModel` (FreiHAND annotates right hands).
        image_size: side of the square images in pixels. Default: 224.
        occluder_prob: probability that an object floats in front of the hand. Default: 0.25.
    """

    def __init__(self, model, image_size: int = 224, occluder_prob: float = 0.25) -> None:
        if not model.is_right:
            raise ValueError("HandSampler: FreiHAND-format data needs the right-hand model")
        self.model = model
        self.frame = HandFrame.from_model(model)
        self.size = int(image_size)
        self.occluder_prob = float(occluder_prob)
        self.faces = model.faces.cpu().numpy().astype(np.int32)
        self.cull = is_closed(self.faces)  # MANO is open at the wrist: draw the inside seen through it
        self.hands_mean = model.hands_mean.double().cpu().numpy()

    def _forward(self, global_rot: np.ndarray, finger_aa: np.ndarray, betas: np.ndarray):
        """Model output for absolute rotations: ``(B, 3, 3)``, ``(B, 15, 3)`` axis-angle, ``(B, 10)``."""
        with torch.no_grad():
            R = torch.as_tensor(global_rot, dtype=torch.float32)
            fingers = axis_angle_to_matrix(torch.as_tensor(finger_aa, dtype=torch.float32))
            return self.model(R, fingers, torch.as_tensor(betas, dtype=torch.float32))

    def _poses(self, rngs: list[np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
        """Finger poses ``(B, 15, 3)`` free of self-intersection (beyond the tolerance) and betas ``(B, 10)``."""
        n = len(rngs)
        betas = np.stack([np.clip(r.normal(0.0, BETA_SIGMA, 10), -BETA_LIMIT, BETA_LIMIT) for r in rngs])
        aa = np.zeros((n, 15, 3))
        todo = np.arange(n)
        for attempt in range(MAX_POSE_ATTEMPTS + 1):
            # The last attempt is the flat hand, which never intersects itself.
            damping = 0.0 if attempt == MAX_POSE_ATTEMPTS else 0.85**attempt
            aa[todo] = np.stack([sample_finger_pose(rngs[i], self.frame, damping) for i in todo])
            eye = np.repeat(np.eye(3)[None], len(todo), axis=0)
            joints = self._forward(eye, aa[todo], betas[todo]).joints.double().numpy()
            bad = self_penetration(joints, self.frame) > INTERSECTION_TOLERANCE
            todo = todo[bad]
            if not len(todo):
                break
        return aa, betas

    def sample(self, split: str, indices: list[int] | np.ndarray, seed: int) -> list[HandAnnotation]:
        """Annotated random hands for ``indices`` of ``split`` (``"training"``, ``"evaluation"``).

        Args:
            split: which split's random streams to use.
            indices: annotation indices.
            seed: the dataset seed.

        Returns:
            One :class:`HandAnnotation` per index, in order.
        """
        indices = [int(i) for i in indices]
        if not indices:
            return []
        rngs = [rng_for(seed, split, i, 0) for i in indices]
        finger_aa, betas = self._poses(rngs)
        n = len(indices)
        R = np.stack([sample_global_rotation(r, self.frame) for r in rngs])
        Ks = np.round(np.stack([sample_intrinsics(r, self.size) for r in rngs]), DECIMALS)
        extent = np.array([r.uniform(*EXTENT_RANGE) for r in rngs])
        offset = np.stack([r.normal(0.0, CENTRE_SIGMA * self.size, 2) for r in rngs])
        verts0 = self._forward(R, finger_aa, betas).vertices.double().numpy()
        transl = np.stack(
            [place_in_view(verts0[i], Ks[i], (self.size, self.size), extent[i], offset[i]) for i in range(n)]
        )
        global_aa = matrix_to_axis_angle(torch.as_tensor(R)).numpy()
        pose48 = np.concatenate([global_aa, finger_aa.reshape(n, 45) - self.hands_mean], axis=1)
        mano = mesh_to_freihand_mano(pose48, betas, Ks, self.model, transl=transl)
        mano = np.round(np.asarray(mano, np.float64), MANO_DECIMALS)
        verts, xyz = freihand_mano_to_mesh(mano, Ks, self.model)
        verts = np.round(verts.astype(np.float64), DECIMALS)
        xyz = np.round(xyz.astype(np.float64), DECIMALS)
        scale = np.round(freihand_scale(xyz), DECIMALS)
        out = []
        for k, i in enumerate(indices):
            occ = sample_occluder(rngs[k], xyz[k]) if rngs[k].random() < self.occluder_prob else None
            out.append(HandAnnotation(i, Ks[k], mano[k], xyz[k], verts[k], float(scale[k]), occ))
        return out

    def render(
        self, ann: HandAnnotation, split: str, seed: int, version: int = 0
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Draw one annotated hand.

        Args:
            ann: the hand.
            split: its split (selects the random streams).
            seed: the dataset seed.
            version: image version: the same hand under another background, light, skin tone and camera effects.
                Default: 0.

        Returns:
            ``rgb (S, S, 3)`` uint8, ``mask (S, S)`` bool of the visible hand, and the JPEG quality to write with.
        """
        rng = rng_for(seed, split, ann.index, 1, version)
        size = (self.size, self.size)
        bg = procedural_background(rng, size)
        hand = Mesh(ann.verts, self.faces, color=sample_skin(rng))
        light = sample_light(rng)
        meshes = [hand] if ann.occluder is None else [hand, ann.occluder]
        res = render(meshes, ann.K, size, light, background=bg, cull_backfaces=self.cull)
        effects = CameraEffects.sample(rng)
        return effects.apply(rng, res.rgb), res.mesh_id == 0, effects.jpeg_quality
