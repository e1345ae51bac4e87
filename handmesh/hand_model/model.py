"""The hand model: pose and shape parameters -> a skinned mesh and 21 keypoints, in metres.

Skinning is smplx's linear blend skinning (:func:`smplx.lbs.lbs`, Loper et al., SMPL, 2015; Romero et al., MANO,
2017): shape blend shapes, joint regression, pose blend shapes, forward kinematics and LBS. This module only turns
the accepted parameter forms into the 16 absolute joint rotations that ``lbs`` consumes and assembles the output.

Pose conventions (those of smplx's ``MANO`` layer):

* Axis-angle finger pose with ``flat_hand_mean=False`` (the default, and FreiHAND's convention): the parameters are
  offsets from the model's mean pose, so ``hands_mean`` is added; zeros give the relaxed mean hand. With
  ``flat_hand_mean=True`` nothing is added; zeros give the flat hand.
* ``use_pca=True``: ``hand_pose`` holds ``num_pca_comps`` coefficients of the first rows of ``hands_components``;
  the 45 axis-angle numbers are ``coeffs @ hands_components[:num_pca_comps]`` (then the mean as above). As in
  smplx, ``num_pca_comps=45`` switches PCA off.
* Rotation matrices (e.g. from a 6D head through :func:`~handmesh.geometry.rotations.rot6d_to_matrix`) are the
  absolute joint rotations: ``hands_mean`` is never added to them, whatever ``flat_hand_mean`` says.
* The global orientation is never offset by any mean.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from smplx.lbs import lbs
from torch import nn

from handmesh.geometry.rotations import axis_angle_to_matrix
from handmesh.hand_model.keypoints import MANO16_TO_21
from handmesh.hand_model.model_file import NUM_BETAS, NUM_JOINTS, HandModelArrays

__all__ = ["HandOutput", "HandModel", "model_fingerprint"]

NUM_HAND_JOINTS = NUM_JOINTS - 1  # 15 finger joints; joint 0 is the wrist (global orientation)


@dataclass
class HandOutput:
    """What :meth:`HandModel.forward` returns. All positions in metres, in the frame of ``transl``.

    Attributes:
        vertices: ``(B, V, 3)`` mesh vertices.
        joints: ``(B, 21, 3)`` keypoints in FreiHAND/OpenPose order (0 wrist, 1-4 thumb, 5-8 index, 9-12 middle,
            13-16 ring, 17-20 pinky; see ``JOINT_NAMES_21``), defined as FreiHAND defines its ``xyz`` (the toolbox's
            ``_calc_coords``): the joint regressor applied to the *posed* mesh, plus the fingertip vertices. Every
            keypoint in the package (predictions, losses, ``pred.json``, evaluation, synthetic ground truth, ``Hand``)
            is this one (:meth:`HandModel.keypoints`).
        joints16: ``(B, 16, 3)`` the skeleton's joints in MANO order, as the kinematic chain moves them (the rest
            joints carried by each bone's rotation): what the landmark fit's forward kinematics models. They differ
            from the regressed keypoints by the mesh's non-rigid deformation (under a millimetre on average).
        faces: ``(F, 3)`` long, outward winding.
        parents: ``(16,)`` long, kinematic tree (``parents[0] = -1``).
        is_right: right hand (True) or left.
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    joints16: torch.Tensor
    faces: torch.Tensor
    parents: torch.Tensor
    is_right: bool


def _shape_str(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


class HandModel(nn.Module):
    """A MANO-style hand model (MANO itself, or the shipped open hand) as a differentiable layer.

    Build one with :func:`~handmesh.hand_model.build.build_hand_model`; the constructor takes validated arrays.

    Attributes:
        name: ``"open"`` or ``"mano"``.
        is_right: right (True) or left hand.
        flat_hand_mean: whether axis-angle/PCA finger poses are absolute (True) or offsets from ``hands_mean``.
        use_pca: whether ``hand_pose`` holds PCA coefficients.
        num_pca_comps: number of PCA coefficients when ``use_pca``.
        faces: ``(F, 3)`` long buffer, outward winding.
        parents: ``(16,)`` long buffer.
        tip_vertex_ids: ``(5,)`` long buffer: thumb, index, middle, ring, pinky fingertip vertices.
        hands_mean: ``(45,)`` the model's mean finger pose (axis-angle), whatever ``flat_hand_mean`` is: add it to
            FreiHAND-style pose parameters to get absolute rotations.
        hands_components: ``(45, 45)`` pose PCA basis (rows).
        num_vertices: V (778 for both MANO and the open hand).
    """

    def __init__(
        self,
        arrays: HandModelArrays,
        *,
        flat_hand_mean: bool = False,
        use_pca: bool = False,
        num_pca_comps: int = 6,
        check_inputs: bool = True,
    ) -> None:
        """Create the layer.

        Args:
            arrays: validated model arrays (see :mod:`handmesh.hand_model.model_file`).
            flat_hand_mean: axis-angle/PCA finger poses are absolute (True) or offsets from ``hands_mean`` (False,
                MANO's and FreiHAND's convention). Default: False.
            use_pca: ``hand_pose`` is ``(B, num_pca_comps)`` PCA coefficients. Default: False.
            num_pca_comps: 1..45; 45 turns PCA off, as in smplx. Default: 6.
            check_inputs: raise on NaN/Inf parameters (one device sync per call; skipped while tracing or
                exporting). Shapes are always checked. Default: True.
        """
        super().__init__()
        if not 1 <= int(num_pca_comps) <= 45:
            raise ValueError(f"num_pca_comps: expected 1..45, got {num_pca_comps}")
        self.name = arrays.name
        self.is_right = bool(arrays.is_right)
        self.flat_hand_mean = bool(flat_hand_mean)
        self.num_pca_comps = int(num_pca_comps)
        self.use_pca = bool(use_pca) and self.num_pca_comps != 45
        self.check_inputs = bool(check_inputs)
        f32 = torch.float32

        self.register_buffer("v_template", torch.tensor(arrays.v_template, dtype=f32))  # (V, 3)
        self.register_buffer("shapedirs", torch.tensor(arrays.shapedirs, dtype=f32))  # (V, 3, 10)
        # smplx's lbs wants posedirs as (135, V * 3): features x flattened vertex offsets.
        V = arrays.num_vertices
        posedirs = torch.tensor(arrays.posedirs, dtype=f32).reshape(V * 3, -1).T.contiguous()
        self.register_buffer("posedirs", posedirs)
        self.register_buffer("J_regressor", torch.tensor(arrays.J_regressor, dtype=f32))  # (16, V)
        self.register_buffer("lbs_weights", torch.tensor(arrays.weights, dtype=f32))  # (V, 16)
        self.register_buffer("parents", torch.tensor(arrays.parents, dtype=torch.long))
        self.register_buffer("faces", torch.tensor(arrays.faces, dtype=torch.long))
        self.register_buffer("tip_vertex_ids", torch.tensor(arrays.tip_vertex_ids, dtype=torch.long))
        self.register_buffer("hands_mean", torch.tensor(arrays.hands_mean, dtype=f32))  # (45,)
        self.register_buffer("hands_components", torch.tensor(arrays.hands_components, dtype=f32))  # (45, 45)
        self.register_buffer("mano16_to_21", torch.tensor(MANO16_TO_21, dtype=torch.long), persistent=False)

    @property
    def num_vertices(self) -> int:
        """V."""
        return int(self.v_template.shape[0])

    def extra_repr(self) -> str:
        side = "right" if self.is_right else "left"
        pca = f", use_pca=True, num_pca_comps={self.num_pca_comps}" if self.use_pca else ""
        return f"name={self.name!r}, side={side}, V={self.num_vertices}, flat_hand_mean={self.flat_hand_mean}{pca}"

    # ----------------------------------------------------------------------------------------------------------
    # Parameter forms -> rotation matrices

    def _global_rotation(self, global_orient: torch.Tensor) -> torch.Tensor:
        """``(B, 3)``/``(B, 1, 3)`` axis-angle or ``(B, 3, 3)``/``(B, 1, 3, 3)`` matrix -> ``(B, 1, 3, 3)``."""
        shape = tuple(global_orient.shape)
        if global_orient.dim() == 2 and shape[1] == 3:
            return axis_angle_to_matrix(global_orient)[:, None]
        if global_orient.dim() == 3 and shape[1:] == (1, 3):
            return axis_angle_to_matrix(global_orient)
        if global_orient.dim() == 3 and shape[1:] == (3, 3):
            return global_orient[:, None]
        if global_orient.dim() == 4 and shape[1:] == (1, 3, 3):
            return global_orient
        raise ValueError(f"global_orient: expected shape (B, 3) axis-angle or (B, 3, 3) rotation matrix, got {shape}")

    def _finger_rotations(self, hand_pose: torch.Tensor) -> torch.Tensor:
        """Any accepted ``hand_pose`` form -> ``(B, 15, 3, 3)`` absolute rotations."""
        shape = tuple(hand_pose.shape)
        if hand_pose.dim() == 4 and shape[1:] == (NUM_HAND_JOINTS, 3, 3):
            return hand_pose  # matrices are absolute: no mean added
        if self.use_pca:
            if hand_pose.dim() != 2 or shape[1] != self.num_pca_comps:
                raise ValueError(
                    f"hand_pose: with use_pca=True expected shape (B, {self.num_pca_comps}) PCA coefficients or "
                    f"(B, 15, 3, 3) rotation matrices, got {shape}"
                )
            aa = hand_pose @ self.hands_components[: self.num_pca_comps]  # (B, 45)
        elif hand_pose.dim() == 2 and shape[1] == 3 * NUM_HAND_JOINTS:
            aa = hand_pose
        elif hand_pose.dim() == 3 and shape[1:] == (NUM_HAND_JOINTS, 3):
            aa = hand_pose.reshape(shape[0], 3 * NUM_HAND_JOINTS)
        else:
            raise ValueError(
                f"hand_pose: expected shape (B, 45) or (B, 15, 3) axis-angle, or (B, 15, 3, 3) rotation matrices, "
                f"got {shape}"
            )
        if not self.flat_hand_mean:
            aa = aa + self.hands_mean
        return axis_angle_to_matrix(aa.reshape(shape[0], NUM_HAND_JOINTS, 3))

    def _check_finite(self, **tensors: torch.Tensor | None) -> None:
        # A data-dependent check cannot be traced or compiled (ONNX/TorchScript export, torch.compile): skip it there.
        if not self.check_inputs or torch.jit.is_tracing() or torch.compiler.is_compiling():
            return
        for name, t in tensors.items():
            if t is not None and not bool(torch.isfinite(t).all()):
                raise ValueError(f"{name} contains NaN or Inf values")

    # ----------------------------------------------------------------------------------------------------------

    def forward(
        self,
        global_orient: torch.Tensor,
        hand_pose: torch.Tensor,
        betas: torch.Tensor,
        transl: torch.Tensor | None = None,
    ) -> HandOutput:
        """Pose and shape the hand.

        Args:
            global_orient: wrist rotation, ``(B, 3)`` axis-angle or ``(B, 3, 3)`` rotation matrix (``(B, 1, 3)`` and
                ``(B, 1, 3, 3)`` are accepted too).
            hand_pose: finger rotations: ``(B, 45)`` or ``(B, 15, 3)`` axis-angle (offsets from ``hands_mean``
                unless ``flat_hand_mean``), ``(B, 15, 3, 3)`` absolute rotation matrices, or with ``use_pca``
                ``(B, num_pca_comps)`` PCA coefficients. Joints in MANO order (index, middle, pinky, ring, thumb).
            betas: ``(B, 10)`` shape coefficients.
            transl: ``(B, 3)`` translation added to every vertex and joint, metres. Default: None (no translation;
                the wrist joint of the flat hand sits where the model's rest pose puts it, not at the origin).

        Returns:
            :class:`HandOutput` with ``vertices (B, V, 3)``, ``joints (B, 21, 3)``, ``joints16 (B, 16, 3)``, metres.

        Raises:
            ValueError: a parameter has the wrong shape (the message names it and the expected shape), the batch
                sizes disagree, or a parameter holds NaN/Inf.
        """
        dtype = self.v_template.dtype
        global_orient = global_orient.to(dtype)
        hand_pose = hand_pose.to(dtype)
        betas = betas.to(dtype)
        if betas.dim() != 2 or betas.shape[1] != NUM_BETAS:
            raise ValueError(f"betas: expected shape (B, {NUM_BETAS}), got {_shape_str(betas)}")
        B = betas.shape[0]
        for name, t in (("global_orient", global_orient), ("hand_pose", hand_pose)):
            if t.dim() >= 1 and t.shape[0] != B:
                raise ValueError(f"{name}: batch size {t.shape[0]} differs from betas' batch size {B}")
        if transl is not None:
            transl = transl.to(dtype)
            if tuple(transl.shape) != (B, 3):
                raise ValueError(f"transl: expected shape ({B}, 3) = (B, 3), got {_shape_str(transl)}")
        self._check_finite(global_orient=global_orient, hand_pose=hand_pose, betas=betas, transl=transl)

        rot = torch.cat([self._global_rotation(global_orient), self._finger_rotations(hand_pose)], dim=1)
        vertices, joints16 = lbs(
            betas,
            rot.contiguous(),  # (B, 16, 3, 3)
            self.v_template,
            self.shapedirs,
            self.posedirs,
            self.J_regressor,
            self.parents,
            self.lbs_weights,
            pose2rot=False,
        )
        if transl is not None:
            vertices = vertices + transl[:, None]
            joints16 = joints16 + transl[:, None]
        return HandOutput(
            vertices=vertices,
            joints=self.keypoints(vertices),
            joints16=joints16,
            faces=self.faces,
            parents=self.parents,
            is_right=self.is_right,
        )

    def keypoints(self, vertices: torch.Tensor) -> torch.Tensor:
        """The 21 keypoints of posed meshes as FreiHAND defines them: ``J_regressor @ vertices`` (16 joints) and the
        five fingertip vertices, in the 21-keypoint order.

        Args:
            vertices: ``(B, V, 3)`` posed (and placed) vertices of this model.

        Returns:
            ``(B, 21, 3)``, in the frame of ``vertices``.
        """
        regressed = torch.einsum("jv,bvc->bjc", self.J_regressor.to(vertices.dtype), vertices)  # (B, 16, 3)
        tips = vertices[:, self.tip_vertex_ids]  # (B, 5, 3)
        return torch.cat([regressed, tips], dim=1)[:, self.mano16_to_21]

    def rest_joints(self, betas: torch.Tensor | None = None) -> torch.Tensor:
        """Joints of the unposed (flat, shaped) hand: ``J_regressor @ (v_template + shapedirs @ betas)``.

        Args:
            betas: ``(B, 10)``; Default: None (zeros, one sample).

        Returns:
            ``(B, 16, 3)`` metres, MANO order.
        """
        if betas is None:
            betas = torch.zeros(1, NUM_BETAS, dtype=self.v_template.dtype, device=self.v_template.device)
        v_shaped = self.v_template + torch.einsum("bl,vcl->bvc", betas.to(self.v_template.dtype), self.shapedirs)
        return torch.einsum("jv,bvc->bjc", self.J_regressor, v_shaped)


def model_fingerprint(model) -> str:
    """SHA-256 of a hand model's arrays (template, blend shapes, regressor, weights, faces, mean pose): two models
    with the same fingerprint turn the same parameters into the same mesh."""
    h = hashlib.sha256()
    for name in (
        "v_template",
        "shapedirs",
        "posedirs",
        "J_regressor",
        "lbs_weights",
        "faces",
        "parents",
        "hands_mean",
        "tip_vertex_ids",
    ):
        a = getattr(model, name).detach().cpu().numpy()
        if a.dtype.kind == "f":
            a = a.astype(np.float32) + np.float32(0.0)  # -0.0 and 0.0 make the same mesh
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
