"""Hand models: pose and shape parameters -> a 778-vertex mesh and 21 keypoints, in metres, for right and left hands.

    from handmesh.hand_model import build_hand_model
    model = build_hand_model("open", side="right")          # or "mano" with the licensed files in data/mano/
    out = model(global_orient, hand_pose, betas)              # out.vertices (B, 778, 3), out.joints (B, 21, 3)

Where things are:
    model.py        HandModel (nn.Module, smplx LBS underneath), HandOutput, model_fingerprint
    build.py        build_hand_model, MANO file lookup
    model_file.py   the .npz model file format (read/write/validate), HandModelArrays
    mano_pickle.py  the chumpy-free, restricted MANO pickle loader and the left-hand shapedirs fix
    mirror.py       left models from right ones; mirroring poses and points
    keypoints.py    joint names, MANO16_TO_21, fingertip vertex conventions
    anatomy.py      palm axes, per-joint flexion / spread / twist axes, joint limits (HandFrame)
    freihand.py     FreiHAND's 61-number MANO annotation <-> camera-frame mesh and keypoints
    convert.py      MANO .pkl -> .npz once; describing model files (handmesh-mano)
    winding.py      outward face winding checks

The shipped open hand (handmesh/assets/open_hand_right.npz) is regenerated offline by handmesh.open_hand
(``python -m handmesh.open_hand``), which imports this package and is imported by nothing here; the MANO-format
stand-in for tests and benchmarks is handmesh.testing.mano_standin.
"""

from handmesh.hand_model.build import build_hand_model, find_mano_file, load_model_arrays
from handmesh.hand_model.freihand import freihand_mano_to_mesh, mesh_to_freihand_mano
from handmesh.hand_model.keypoints import (
    JOINT_NAMES_16,
    JOINT_NAMES_21,
    MANO16_TO_21,
    MANO_PARENTS,
    MANO_TIP_CONVENTION,
    MANO_TIP_VERTEX_IDS,
    TIP_VERTEX_IDS,
)
from handmesh.hand_model.mano_pickle import UnsafePickleError, load_mano_pickle, read_mano_pickle
from handmesh.hand_model.mirror import mirror_axis_angle, mirror_model_arrays, mirror_points, mirror_rotation_matrix
from handmesh.hand_model.model import HandModel, HandOutput, model_fingerprint
from handmesh.hand_model.model_file import HandModelArrays, read_model_file, write_model_file

__all__ = [
    "build_hand_model",
    "find_mano_file",
    "load_model_arrays",
    "HandModel",
    "HandOutput",
    "model_fingerprint",
    "HandModelArrays",
    "read_model_file",
    "write_model_file",
    "load_mano_pickle",
    "read_mano_pickle",
    "UnsafePickleError",
    "mirror_model_arrays",
    "mirror_axis_angle",
    "mirror_rotation_matrix",
    "mirror_points",
    "freihand_mano_to_mesh",
    "mesh_to_freihand_mano",
    "JOINT_NAMES_16",
    "JOINT_NAMES_21",
    "MANO16_TO_21",
    "MANO_PARENTS",
    "TIP_VERTEX_IDS",
    "MANO_TIP_CONVENTION",
    "MANO_TIP_VERTEX_IDS",
]
